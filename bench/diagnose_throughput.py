"""Throughput of diagnose_log on a big Spark executor log, against `grep -c -E 'Exception|ERROR'`.

    python bench/diagnose_throughput.py [--mib 1100] [--runs 3] [--failure-every LINES] [--workers N]

Writes a realistic executor log (INFO chatter of the kinds Spark prints, with WARN lines, OOM
and fetch-failure stack traces, Python UDF tracebacks and lost executors injected) of at least
1 GiB into a temporary directory (never the repository), then alternately times:

- ours: ``diagnose_log`` in a fresh subprocess (read, classify, group, store), with its peak RSS;
- the baseline: ``grep -c -E 'Exception|ERROR'`` on the same file.

Both read the file from the page cache (it was just written; a warm-up pass of each runs
first).  Targets: ours at least half of grep's speed (ratio >= 0.5) on the sparse log, a quarter (0.25) on an
error-heavy one (``--failure-every``: every trace is a record to classify), peak RSS <= 300 MB.

``--failure-every LINES`` makes an error-heavy log instead: a stack trace after every LINES
lines of chatter (``--mib 100 --failure-every 40`` gives about 18,000 task exceptions), where
the per-record work dominates rather than the scan.  ``--workers N`` forces the scan onto N
worker processes (0: one process) whatever this machine's CPU count, so the parallel path's
memory can be measured on a small machine too: ``own_peak_rss_mb`` is the diagnosing process,
``workers_peak_rss_mb`` the largest of its workers (RUSAGE_CHILDREN: the largest, not the sum).
Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEADER = "24/07/08 04:00:00 INFO CoarseGrainedExecutorBackend: Started daemon with process name: 4242@worker-1\n"
"""The executor log's first line: what tells its kind."""
TARGET_SPEED_RATIO = 0.5
TARGET_HEAVY_SPEED_RATIO = 0.25
TARGET_PEAK_RSS_MB = 300
INFO_TEMPLATES = (
    "{ts} INFO Executor: Running task {t}.0 in stage {s}.0 (TID {tid})",
    "{ts} INFO Executor: Finished task {t}.0 in stage {s}.0 (TID {tid}). {n} bytes result sent to driver",
    "{ts} INFO CoarseGrainedExecutorBackend: Got assigned task {tid}",
    "{ts} INFO ShuffleBlockFetcherIterator: Getting {n} (12.{t} MiB) non-empty blocks including {t} (3.1 MiB) local and 0 "
    "(0.0 B) host-local and {s} (9.{t} MiB) remote blocks",
    "{ts} INFO ShuffleBlockFetcherIterator: Started {s} remote fetches in {t} ms",
    "{ts} INFO MemoryStore: Block broadcast_{s} stored as values in memory (estimated size {n}.0 B, free 2.{t} GiB)",
    "{ts} INFO TorrentBroadcast: Reading broadcast variable {s} took {t} ms",
    "{ts} INFO CodeGenerator: Code generated in {t}.{s} ms",
    "{ts} INFO FileScanRDD: Reading File path: hdfs://nn/data/part-{n:05d}.parquet, range: 0-{n}, partition values: [empty row]",
    "{ts} INFO MapOutputTrackerWorker: Updating epoch to {s} and clearing cache",
    "{ts} INFO UnsafeExternalSorter: Thread {t} acquired {n} bytes of memory",
    "{ts} INFO PythonRunner: Times: total = {n}, boot = {t}, init = {s}, finish = 0",
)
WARN_TEMPLATES = (
    "{ts} WARN BlockManager: Block rdd_{s}_{t} could not be removed as it was not found on disk or in memory",
    "{ts} WARN TaskMemoryManager: Failed to allocate a page ({n} bytes), try again.",
)
FAILURES = (
    "{ts} ERROR Executor: Exception in task {t}.0 in stage {s}.0 (TID {tid})\njava.lang.OutOfMemoryError: Java heap space\n"
    "\tat java.util.Arrays.copyOf(Arrays.java:3236)\n\tat org.apache.spark.sql.catalyst.expressions.UnsafeRow.copy(UnsafeRow.java:480)\n"
    "\tat org.apache.spark.sql.execution.SortExec.$anonfun$doExecute$1(SortExec.scala:112)\n\t... 14 more",
    "{ts} ERROR Executor: Exception in task {t}.0 in stage {s}.0 (TID {tid})\norg.apache.spark.shuffle.FetchFailedException: "
    "Failed to connect to host-{t}/10.0.0.{t}:7337\n\tat org.apache.spark.storage.ShuffleBlockFetcherIterator.throwFetchFailedException"
    "(ShuffleBlockFetcherIterator.scala:1166)\nCaused by: java.io.IOException: Failed to connect to host-{t}/10.0.0.{t}:7337\n"
    "\tat org.apache.spark.network.client.TransportClientFactory.createClient(TransportClientFactory.java:288)\n\t... 3 more",
    "{ts} ERROR Executor: Exception in task {t}.0 in stage {s}.0 (TID {tid})\norg.apache.spark.api.python.PythonException: "
    "Traceback (most recent call last):\n  File \"/opt/spark/python/pyspark/worker.py\", line 1247, in main\n    process()\n"
    "  File \"/jobs/etl.py\", line {t}, in parse_amount\n    return float(value)\nValueError: could not convert string to float: 'n/a'\n"
    "\n\tat org.apache.spark.api.python.BasePythonRunner$ReaderIterator.handlePythonException(PythonRunner.scala:572)",
)


def write_log(path: Path, target_bytes: int, seed: int = 7, failure_every: int = 0) -> dict[str, int]:
    """A realistic executor log of at least ``target_bytes``; returns how many failures were injected.

    ``failure_every``: a failure after every that many lines (0: one after every ~4 MB block)."""
    if failure_every:
        return _write_error_heavy(path, target_bytes, seed, failure_every)
    rng = random.Random(seed)

    def block(minute: int) -> str:
        lines = []
        for i in range(40_000):
            ts = f"24/07/08 {4 + minute // 60 % 20:02d}:{minute % 60:02d}:{i % 60:02d}"
            values = {"ts": ts, "t": rng.randrange(200), "s": rng.randrange(60), "tid": rng.randrange(10**6),
                      "n": rng.randrange(10**6)}
            roll = rng.random()
            template = rng.choice(WARN_TEMPLATES) if roll < 0.002 else rng.choice(INFO_TEMPLATES)
            lines.append(template.format(**values))
        return "\n".join(lines) + "\n"

    blocks = [block(m) for m in range(8)]  # ~4 MB each; the file repeats them with failures in between
    injected = {"failures": 0}
    written = 0
    with path.open("w", encoding="utf-8") as f:
        f.write(HEADER)
        written += len(HEADER)
        i = 0
        while written < target_bytes:
            text = blocks[i % len(blocks)]
            f.write(text)
            written += len(text)
            failure = FAILURES[i % len(FAILURES)].format(ts="24/07/08 05:00:00", t=i % 200, s=i % 60, tid=i) + "\n"
            f.write(failure)
            written += len(failure)
            injected["failures"] += 1
            i += 1
    return injected


def _write_error_heavy(path: Path, target_bytes: int, seed: int, failure_every: int) -> dict[str, int]:
    rng = random.Random(seed)
    injected = {"failures": 0}
    written = 0
    with path.open("w", encoding="utf-8") as f:
        f.write(HEADER)
        written += len(HEADER)
        i = 0
        while written < target_bytes:
            lines = []
            for n in range(failure_every):
                ts = f"24/07/08 {4 + i // 3600 % 20:02d}:{i // 60 % 60:02d}:{n % 60:02d}"
                values = {"ts": ts, "t": rng.randrange(200), "s": rng.randrange(60), "tid": rng.randrange(10**6),
                          "n": rng.randrange(10**6)}
                lines.append(rng.choice(INFO_TEMPLATES).format(**values))
            lines.append(FAILURES[i % len(FAILURES)].format(ts="24/07/08 05:00:00", t=i % 200, s=i % 60, tid=i))
            text = "\n".join(lines) + "\n"
            f.write(text)
            written += len(text)
            injected["failures"] += 1
            i += 1
    return injected


CHILD = """
import json, sys, time, resource
from dgx_spark_mcp.diagnosis.logs import diagnose
from dgx_spark_mcp.diagnosis.logs.diagnose import diagnose_log
from dgx_spark_mcp.settings import Settings
if sys.argv[4] != "auto":  # the bench forces a worker count: the parallel path on any machine
    forced = int(sys.argv[4])
    diagnose.workers_for = lambda size: forced
settings = Settings(home=sys.argv[2], allowed_roots=[sys.argv[3]], log_level="WARNING")
start = time.perf_counter()
result = diagnose_log(sys.argv[1], settings)
elapsed = time.perf_counter() - start
own_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
children_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the largest worker, not their sum
print(json.dumps({"seconds": elapsed, "lines": result.lines_read, "own_peak_rss_mb": round(own_kib / 1024, 1),
      "workers_peak_rss_mb": round(children_kib / 1024, 1),
      "findings": [[f.category, f.evidence[0].occurrences] for f in result.findings]}))
"""


def run_ours(path: Path, home: Path, workers: str = "auto") -> dict[str, object]:
    """diagnose_log in a fresh interpreter, with that child's own peak RSS (from wait4)."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: exec the measurement with stdout on the pipe
        os.close(read_fd)
        os.dup2(write_fd, 1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.execv(sys.executable, [sys.executable, "-c", CHILD, str(path), str(home), str(path.parent), workers])
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        out = pipe.read()
    _, status, usage = os.wait4(pid, 0)
    if status != 0:
        raise SystemExit(f"diagnose_log failed with status {status}")
    figures = json.loads(out)
    figures["peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)  # Linux reports KiB
    return figures


def run_grep(path: Path) -> tuple[float, int]:
    start = time.perf_counter()
    out = subprocess.run(["grep", "-c", "-E", "Exception|ERROR", str(path)], capture_output=True, check=False)
    return time.perf_counter() - start, int(out.stdout or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=1100, help="size of the generated log in MiB (default 1100: > 1 GiB)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--failure-every", type=int, default=0,
                        help="an error-heavy log: a stack trace after every that many lines (default 0: one per ~4 MB)")
    parser.add_argument("--workers", default="auto",
                        help="worker processes for the scan: auto (by CPU count and size), 0 (one process) or N")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="diagnose-bench-") as tmp:
        root = Path(tmp)
        log_path = root / "executor.log"
        made = time.perf_counter()
        injected = write_log(log_path, args.mib * 1024**2, failure_every=args.failure_every)
        generate_s = time.perf_counter() - made
        size = log_path.stat().st_size
        run_grep(log_path)  # warm the page cache
        ours_s, grep_s, rss, last = [], [], [], {}
        for run in range(args.runs):
            last = run_ours(log_path, root / f"home{run}", args.workers)  # a fresh store: no answer from the store
            ours_s.append(float(last["seconds"]))
            rss.append(float(last["peak_rss_mb"]))
            seconds, grep_hits = run_grep(log_path)
            grep_s.append(seconds)
        ours_mbs = size / 1e6 / statistics.median(ours_s)
        grep_mbs = size / 1e6 / statistics.median(grep_s)
        ratio, peak = ours_mbs / grep_mbs, max(rss)
        target = TARGET_HEAVY_SPEED_RATIO if args.failure_every else TARGET_SPEED_RATIO
        headline = (
            f"diagnose_log on a generated {size / 1e6:,.0f} MB executor log ({injected['failures']:,} injected failures, "
            f"median of {args.runs}): {ours_mbs:,.0f} vs {grep_mbs:,.0f} MB/s for grep -c, {ratio:.2f}x "
            f"(target >= {target}x: {'met' if ratio >= target else 'missed'}); "
            f"peak RSS {peak:.0f} MB (target <= {TARGET_PEAK_RSS_MB} MB: {'met' if peak <= TARGET_PEAK_RSS_MB else 'missed'})"
        )
        print(json.dumps({
            "headline": headline,
            "file_bytes": size, "generate_s": round(generate_s, 1), "lines": last["lines"],
            "injected_failures": injected["failures"], "findings": last["findings"], "grep_matching_lines": grep_hits,
            "ours_s_median": round(statistics.median(ours_s), 3), "grep_s_median": round(statistics.median(grep_s), 3),
            "ours_mb_per_s": round(ours_mbs, 1), "grep_mb_per_s": round(grep_mbs, 1),
            "speed_ratio_vs_grep": round(ratio, 3), "target_speed_ratio": target,
            "peak_rss_mb": peak, "own_peak_rss_mb": last["own_peak_rss_mb"],
            "workers_peak_rss_mb": last["workers_peak_rss_mb"], "target_peak_rss_mb": TARGET_PEAK_RSS_MB,
            "workers": args.workers, "failure_every": args.failure_every, "cpus": os.cpu_count(),
        }, indent=2))


if __name__ == "__main__":
    main()
