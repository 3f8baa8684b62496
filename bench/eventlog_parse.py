"""Event-log parse throughput: our reader vs a plain ``json.loads`` loop over the same file.

    python bench/eventlog_parse.py [--runs 5] [--synthetic-mb 200] [--log PATH]

Two inputs: the largest corpus log (``gpu_oom_eventlog.zstd`` from ``../shared/corpus``, copied
under ``tests/fixtures/eventlogs/corpus/``; a RAPIDS run, zstd as Spark wrote it) and a synthetic
log of about ``--synthetic-mb`` MB made in a temporary directory by repeating that log's task-end
events between its other events (zstd-compressed like Spark's default codec; nothing is written
into the repository).

Both contenders read the file from disk and decompress it; throughput is in MB (10^6 bytes)
of decompressed JSON per second of this process's CPU time (both are single-threaded, so on
an idle machine CPU time is wall time; on a shared one it is far less noisy); wall-clock
figures are printed too.  Runs alternate (baseline, ours, baseline, ...) so machine noise
hits both; the figure that matters is the ratio of medians (target: at least 3).
``read_event_log`` is the one-pass reader the tool uses; ``analyze_event_log`` adds the
analysis (what-if included) and is shown for scale.  Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import zstandard

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from dgx_spark_mcp.diagnosis.eventlogs.analysis import analyze_event_log  # noqa: E402
from dgx_spark_mcp.diagnosis.eventlogs.files import locate_event_log  # noqa: E402
from dgx_spark_mcp.diagnosis.eventlogs.reader import read_event_log  # noqa: E402
from dgx_spark_mcp.settings import Settings  # noqa: E402

TARGET_RATIO_MIN = 3.0
CORPUS_LOG = REPO / "tests" / "fixtures" / "eventlogs" / "corpus" / "gpu_oom_eventlog.zstd"  # the corpus file, copied


def plain_json_loop(path: Path) -> int:
    """The baseline: every line of the decompressed text through ``json.loads``."""
    events = 0
    with zstandard.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                try:
                    json.loads(line)
                    events += 1
                except ValueError:
                    pass
    return events


def decompressed_size(path: Path) -> int:
    with path.open("rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True) as reader:
        return sum(len(chunk) for chunk in iter(lambda: reader.read(1 << 22), b""))


def make_synthetic(source: Path, target: Path, megabytes: int) -> None:
    """``source`` with its task-end events repeated until the log is about ``megabytes`` MB."""
    with zstandard.open(source, "rb") as f:
        lines = f.read().split(b"\n")
    task_ends = [line for line in lines if line.startswith(b'{"Event":"SparkListenerTaskEnd"')]
    size = sum(len(line) + 1 for line in lines)
    repeats = max(1, round((megabytes * 10**6 - size) / max(1, sum(len(t) + 1 for t in task_ends))) + 1)
    with zstandard.open(target, "wb", cctx=zstandard.ZstdCompressor(level=3)) as out:
        for line in lines:
            if line.startswith(b'{"Event":"SparkListenerTaskEnd"'):
                for _ in range(repeats):
                    out.write(line + b"\n")
            elif line:
                out.write(line + b"\n")


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one call."""
    cpu, wall = time.process_time(), time.perf_counter()
    fn()
    return time.process_time() - cpu, time.perf_counter() - wall


def measure(path: Path, settings: Settings, runs: int, with_analysis: bool) -> dict[str, object]:
    mb = decompressed_size(path) / 1e6
    contenders: dict[str, Callable[[], object]] = {
        "json_loads_loop": lambda: plain_json_loop(path),
        "read_event_log": lambda: read_event_log(locate_event_log(path, settings)),
    }
    if with_analysis:
        contenders["analyze_event_log"] = lambda: analyze_event_log(path, settings)
    for fn in contenders.values():  # warm the page cache and imports
        fn()
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in contenders}
    for _ in range(runs):
        for name, fn in contenders.items():
            samples[name].append(timed(fn))
    cpu = {name: statistics.median(s[0] for s in values) for name, values in samples.items()}
    wall = {name: statistics.median(s[1] for s in values) for name, values in samples.items()}
    result: dict[str, object] = {"file": path.name, "decompressed_mb": round(mb, 1)}
    result.update({f"{name}_mb_s": round(mb / seconds, 1) for name, seconds in cpu.items()})
    result.update({f"{name}_wall_mb_s": round(mb / seconds, 1) for name, seconds in wall.items()})
    result["ratio"] = round(cpu["json_loads_loop"] / cpu["read_event_log"], 2)
    result["ratio_wall"] = round(wall["json_loads_loop"] / wall["read_event_log"], 2)
    return result


def headline(results: list[dict[str, object]], runs: list[int], meets: bool) -> str:
    """One sentence from the measured figures: each file's MB/s, ours vs the json.loads loop, and the target."""
    parts = [f"{str(r['file'])[:32]} ({r['decompressed_mb']} MB) {r['read_event_log_mb_s']} vs "
             f"{r['json_loads_loop_mb_s']} MB/s ({r['ratio']}x, median of {n})" for r, n in zip(results, runs, strict=True)]
    return ("event-log parse in MB of decompressed JSON per CPU second, read_event_log vs a json.loads loop: "
            + "; ".join(parts) + f"; target >= {TARGET_RATIO_MIN:g}x on each: {'met' if meets else 'missed'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--synthetic-mb", type=int, default=200)
    parser.add_argument("--log", type=Path, default=CORPUS_LOG, help="a zstd event log (default: the corpus GPU OOM log)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp) / "home", allowed_roots=[tmp, str(args.log.parent)], log_level="WARNING")
        synthetic = Path(tmp) / "synthetic_eventlog.zstd"
        make_synthetic(args.log, synthetic, args.synthetic_mb)
        runs = [args.runs, max(3, args.runs // 2)]
        results = [
            measure(args.log, settings, runs[0], with_analysis=True),
            measure(synthetic, settings, runs[1], with_analysis=False),
        ]
    meets = all(float(r["ratio"]) >= TARGET_RATIO_MIN for r in results)  # type: ignore[arg-type]
    print(
        json.dumps(
            {
                "benchmark": "eventlog_parse",
                "headline": headline(results, runs, meets),
                "runs": args.runs,
                "target_ratio_min": TARGET_RATIO_MIN,
                "results": results,
                "meets_target": meets,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
