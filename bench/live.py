"""The live Spark sources against real servers: a History Server listing 1,000 applications, a 200 MB event log
analysed through it vs from disk, and the time to the first finding of a running application.

    python bench/live.py [--apps 1000] [--log-mb 200] [--runs 3] [--quick]

Everything runs for real on loopback, from the installed PySpark (Java 17), in a temporary directory:

1. **Running application** (first, so its calls are the process's first live calls): ``tests/live/running_job.py``
   starts a local PySpark app whose second stage has one slow, skewed task.  From the moment its driver UI
   answers, ``status()`` is called in a loop until its first finding is the straggler, naming the task; the
   figures are that time (it includes the wait for the task to become a straggler: 10 s past the median of
   its stage and 3x it), the first ``status()`` call of the process (cold), the call that found it, and the
   call after (warm).
2. **Listing**: ``--apps`` event logs made from the small real logs of ``tests/fixtures/eventlogs/history/``
   (new app id, name and times; one in ten from the failing-job log, one in a hundred from the in-progress
   log, kept ``.inprogress``), a History Server started over them (``tests/live/history_process.py``) and
   timed until it lists them all; then ``list_apps`` timed: the default call (first page) and walking every
   page with the cursor.  HTTP requests are counted by wrapping the transport's one send method.
3. **Big log**: the corpus GPU log (35.5 MB of JSON) scaled to about ``--log-mb`` MB by repeating its task
   events with fresh task ids (``bench/eventlog_parse.py``'s generator repeats byte-identical lines: the same
   task ended k times, where this log has k times the tasks), zstd like Spark 4 writes it, dropped into the
   server's log directory and waited for until listed.  The copies differ only in their ids, so the file
   (and the server's zip of it) is about 1% of the JSON, smaller than a real log's 3-10%.  Then: its analysis
   from disk (``analyze_and_remember``, what the tool runs on a path), the first call through the server
   (``analyze_app``: find, download the zip, unpack, analyse; the cache emptied before each run) and a second
   call (cached).  Medians of ``--runs``.

Nothing timed is asserted; the targets (disk / first >= 0.8, first / cached >= 10) are reported as met or
missed.  ``--quick`` is a smoke run (50 apps, the unscaled 35.5 MB log, one run): its figures mean little.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import zstandard

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
for where in (REPO / "src", BENCH, REPO):
    if str(where) not in sys.path:
        sys.path.insert(0, str(where))

from eventlog_parse import CORPUS_LOG  # noqa: E402

from dgx_spark_mcp.live.servers import SparkServer  # noqa: E402
from dgx_spark_mcp.settings import Settings  # noqa: E402
from tests.live import running_job  # noqa: E402
from tests.live.history_process import free_port, get, history_server_process, listed  # noqa: E402

HISTORY = REPO / "tests" / "fixtures" / "eventlogs" / "history"
SOURCES = {"completed": HISTORY / "local-1796655236258.zstd",  # skewed-orders: one job, succeeded
           "failed": HISTORY / "local-1796655261813",  # failing-etl: a failed job (exit code 0 all the same)
           "running": HISTORY / "local-1796655326677.inprogress"}  # hourly-backfill: an active stage
FIRST_ID = 1_800_000_000_000
TASK_ID = re.compile(rb'"Task ID":(\d+)')
START_END = (b'{"Event":"SparkListenerApplicationStart"', b'{"Event":"SparkListenerApplicationEnd"')
TASK_EVENTS = (b'{"Event":"SparkListenerTaskStart"', b'{"Event":"SparkListenerTaskEnd"')
TARGET_DISK_OVER_FIRST_MIN = 0.8
TARGET_FIRST_OVER_CACHED_MIN = 10.0
LIST_TIMEOUT_S = 600.0
UI_TIMEOUT_S = 180.0
STRAGGLER_TIMEOUT_S = 150.0


# ---- inputs ---------------------------------------------------------------------------------------------------


def _lines(path: Path) -> list[bytes]:
    if path.suffix == ".zstd":
        with zstandard.open(path, "rb") as f:
            data = f.read()
    else:
        data = path.read_bytes()
    return [line for line in data.split(b"\n") if line]


def _start(lines: list[bytes]) -> dict[str, Any]:
    return next(json.loads(line) for line in lines if line.startswith(b'{"Event":"SparkListenerApplicationStart"'))


def make_app_logs(log_dir: Path, count: int) -> dict[str, int]:
    """``count`` event logs in ``log_dir``, each a fixture log with a new app id, name and start time (a minute
    apart, the newest an hour ago); returns how many of each kind."""
    sources = {kind: _lines(path) for kind, path in SOURCES.items()}
    kinds: dict[str, int] = {}
    newest = int(time.time() * 1000) - 3_600_000
    cctx = zstandard.ZstdCompressor(level=3)
    for i in range(count):
        kind = "running" if i % 100 == 7 else "failed" if i % 10 == 3 else "completed"
        kinds[kind] = kinds.get(kind, 0) + 1
        lines = sources[kind]
        start = _start(lines)
        old_id, new_id = str(start["App ID"]).encode(), f"local-{FIRST_ID + i}".encode()
        shift = newest - (count - i) * 60_000 - int(start["Timestamp"])
        out = []
        for line in lines:
            if line.startswith(START_END):
                event = json.loads(line)
                event["Timestamp"] += shift
                if "App Name" in event:
                    event["App Name"] = f"{event['App Name']}-{i:04d}"
                line = json.dumps(event, separators=(",", ":")).encode()
            out.append(line.replace(old_id, new_id))
        data = b"\n".join(out) + b"\n"
        name = new_id.decode()
        if kind == "running":
            (log_dir / f"{name}.inprogress").write_bytes(data)
        else:
            (log_dir / f"{name}.zstd").write_bytes(cctx.compress(data))
    return kinds


def _renumber(offset: int) -> Callable[[re.Match[bytes]], bytes]:
    return lambda m: b'"Task ID":%d' % (int(m.group(1)) + offset)


def scaled_log(source: Path, target: Path, megabytes: int) -> dict[str, Any]:
    """``source`` (zstd) with each task start and end event repeated, copy k with task id + k * 10^7, until the log
    holds about ``megabytes`` MB of JSON (at least one copy: the source as it is); zstd level 3, as Spark writes."""
    lines = _lines(source)
    task_bytes = sum(len(line) + 1 for line in lines if line.startswith(TASK_EVENTS))
    other_bytes = sum(len(line) + 1 for line in lines) - task_bytes
    copies = max(1, round((megabytes * 10**6 - other_bytes) / max(1, task_bytes)))
    written = 0
    with zstandard.open(target, "wb", cctx=zstandard.ZstdCompressor(level=3)) as out:
        for line in lines:
            if not line.startswith(TASK_EVENTS):
                out.write(line + b"\n")
                written += len(line) + 1
                continue
            for k in range(copies):
                copy = line if k == 0 else TASK_ID.sub(_renumber(k * 10**7), line)
                out.write(copy + b"\n")
                written += len(copy) + 1
    return {"decompressed_mb": round(written / 1e6, 1), "file_mb": round(target.stat().st_size / 1e6, 2),
            "task_copies": copies, "app_id": str(_start(lines)["App ID"])}


# ---- instruments ----------------------------------------------------------------------------------------------


class Requests:
    """HTTP requests sent through the live transport (its one send method, wrapped), by path shape."""

    def __init__(self) -> None:
        self.count = 0
        self.by_kind: dict[str, int] = {}
        self._lock = threading.Lock()

    @contextmanager
    def counting(self) -> Iterator[Requests]:
        from dgx_spark_mcp.live.transport import Connection

        original = Connection._send
        counter = self

        def send(conn: Connection, method: str, path: str, **kwargs: Any) -> Any:
            kind = re.sub(r"/applications/[^/]+(/\d+)?", "/applications/{id}", path)
            kind = re.sub(r"/stages/\d+/\d+", "/stages/{stage}", kind)
            with counter._lock:
                counter.count += 1
                counter.by_kind[kind] = counter.by_kind.get(kind, 0) + 1
            return original(conn, method, path, **kwargs)

        setattr(Connection, "_send", send)  # noqa: B010 - a wrapper for the count, put back after
        try:
            yield self
        finally:
            setattr(Connection, "_send", original)  # noqa: B010


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def tokens(text: str) -> int | None:
    """o200k_base tokens (as bench/agent_tokens.py counts them), when bpe-openai is installed."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import bpe_openai

            return len(bpe_openai.get_encoding("o200k_base").encode(text))
    except ImportError:
        return None


# ---- 1. a running application ----------------------------------------------------------------------------------


def bench_running(root: Path) -> dict[str, Any]:
    from dgx_spark_mcp.live.running import status

    work = root / "running-app"
    work.mkdir()
    port = free_port()
    settings = Settings(home=root / "home-running", allowed_roots=[root], log_level="WARNING", spark_ui_ports=[port])
    output = work / "job.log"
    launched = time.monotonic()
    with running_job.launched(port, work) as proc:
        while True:  # the driver UI answers its REST API
            if proc.poll() is not None or time.monotonic() - launched > UI_TIMEOUT_S:
                raise RuntimeError(f"the running app's UI never answered: {output.read_text()[-2000:]}")
            try:
                if json.loads(get(f"http://127.0.0.1:{port}/api/v1/applications", timeout_s=5)):
                    break
            except (OSError, ValueError):
                pass
            time.sleep(0.2)
        ui_up = time.monotonic()
        calls: list[float] = []
        cold_cpu_s = 0.0
        found = None
        while found is None:
            if proc.poll() is not None or time.monotonic() - ui_up > STRAGGLER_TIMEOUT_S:
                raise RuntimeError(f"no straggler finding within {STRAGGLER_TIMEOUT_S:.0f} s of the UI answering: "
                                   f"{output.read_text()[-2000:]}")
            cpu = time.process_time()
            seconds, answer = timed(lambda: status(settings))
            cold_cpu_s = cold_cpu_s or time.process_time() - cpu
            calls.append(seconds)
            first = answer.findings[0] if answer.findings else None
            stage = next((s for s in answer.stages if s.stragglers), None)
            if first is not None and first.category == "straggler" and stage is not None \
                    and f"task {stage.stragglers[0].task}" in first.what:
                found = (time.monotonic() - ui_up, first, stage.stragglers[0].running_s)
            else:
                time.sleep(0.5)
        cpu = time.process_time()
        with Requests().counting() as requests:
            warm_s, warm = timed(lambda: status(settings))
        warm_cpu_s = time.process_time() - cpu
    to_finding, finding, straggler_s = found
    return {
        "ui_answered_after_launch_s": round(ui_up - launched, 1),
        "ui_to_straggler_finding_s": round(to_finding, 2),
        "straggler_running_s_when_found": round(straggler_s, 1),
        "status_calls_until_found": len(calls),
        "cold_call_s": round(calls[0], 3),
        "cold_call_cpu_s": round(cold_cpu_s, 3),
        "finding_call_s": round(calls[-1], 3),
        "warm_call_s": round(warm_s, 3),
        "warm_call_cpu_s": round(warm_cpu_s, 3),
        "warm_call_http_requests": requests.count,
        "warm_first_finding": warm.findings[0].category if warm.findings else None,
        "finding": finding.what,
    }


# ---- 2. listing a thousand applications ------------------------------------------------------------------------


def bench_listing(settings: Settings, url: str, apps: int, started_in_s: float,
                  kinds: dict[str, int]) -> dict[str, Any]:
    from dgx_spark_mcp.live.apps import list_apps
    from dgx_spark_mcp.tools.answers import compact, compact_json

    with Requests().counting() as first_requests:
        first_s, first = timed(lambda: list_apps(settings))
    text = compact_json(compact(first))
    pages: list[float] = []
    seen: list[str] = []
    cursor: str | None = None
    with Requests().counting() as all_requests:
        while True:
            seconds, page = timed(lambda at=cursor: list_apps(settings, cursor=at))  # type: ignore[misc]
            pages.append(seconds)
            seen += [a.id for a in page.apps]
            cursor = page.next_cursor
            if cursor is None or len(pages) > apps:
                break
    return {
        "apps": apps,
        "generated": kinds,
        "shs_start_and_list_s": round(started_in_s, 1),
        "default_call": {
            "seconds": round(first_s, 3), "returned": len(first.apps), "total": first.total, "counts": first.counts,
            "http_requests": first_requests.count, "requests_by_path": first_requests.by_kind,
            "answer_chars": len(text), "answer_tokens": tokens(text), "notes": first.notes,
        },
        "all_pages": {
            "calls": len(pages), "seconds": round(sum(pages), 2), "first_page_s": round(pages[0], 3),
            "median_page_s": round(statistics.median(pages), 3), "last_page_s": round(pages[-1], 3),
            "apps_seen": len(seen), "distinct": len(set(seen)), "http_requests": all_requests.count,
            "requests_by_path": all_requests.by_kind,
        },
    }


# ---- 3. a big event log: through the History Server vs on disk ----------------------------------------------


def _wait_listed(url: str, app_id: str, timeout_s: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        try:
            if any(a.get("id") == app_id for a in listed(url)):
                return time.monotonic() - started
        except (OSError, ValueError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the History Server did not list {app_id} within {timeout_s:.0f} s")


def _same(a: Any, b: Any) -> bool:
    """The same analysis, but for where it came from (source, file labels) and whether the run history had it."""
    from dgx_spark_mcp.tools.answers import compact

    def plain(result: Any) -> dict[str, Any]:
        data = compact(result)
        for key in ("source", "history", "path", "file"):
            data.pop(key, None)
        return data

    return plain(a) == plain(b)


def bench_big_log(settings: Settings, url: str, log_dir: Path, root: Path, megabytes: int, runs: int) -> dict[str, Any]:
    from dgx_spark_mcp.diagnosis.eventlogs.run_history import analyze_and_remember
    from dgx_spark_mcp.live import history, spark_rest
    from dgx_spark_mcp.live.app_analysis import analyze_app

    made = root / "big"
    made.mkdir()
    big = made / "big_eventlog.zstd"
    made_s, figures = timed(lambda: scaled_log(CORPUS_LOG, big, megabytes))
    app_id = figures.pop("app_id")
    shutil.copyfile(big, log_dir / f"{app_id}.zstd")  # the server's copy; ``big`` is the one on disk
    listed_s = _wait_listed(url, app_id, LIST_TIMEOUT_S)
    ref = f"shs/{app_id}"

    # Where the first call's time goes: the transport's download and the unpacking, wrapped (bench only).
    parts: dict[str, list[float]] = {"download": [], "unpack": []}
    original_logs, original_unpack = spark_rest.logs, history._unpack

    def logs(*args: Any, **kwargs: Any) -> int:
        seconds, written = timed(lambda: original_logs(*args, **kwargs))
        parts["download"].append(seconds)
        return int(written)

    def unpack(*args: Any, **kwargs: Any) -> None:
        parts["unpack"].append(timed(lambda: original_unpack(*args, **kwargs))[0])

    disk = timed(lambda: analyze_and_remember(big, settings, detail="summary"))[1]  # imports, page cache, run history
    disk_s, first_s, cached_s = [], [], []
    through = cached = None
    spark_rest.logs, history._unpack = logs, unpack  # history calls both through their module
    try:
        for _ in range(runs):  # alternate, so machine noise hits all three
            disk_s.append(timed(lambda: analyze_and_remember(big, settings, detail="summary"))[0])
            shutil.rmtree(history.cache_root(settings), ignore_errors=True)
            seconds, through = timed(lambda: analyze_app(settings, ref))
            first_s.append(seconds)
            seconds, cached = timed(lambda: analyze_app(settings, ref))
            cached_s.append(seconds)
    finally:
        spark_rest.logs, history._unpack = original_logs, original_unpack
    body = get(f"{url}/api/v1/applications/{app_id}/logs", timeout_s=120)
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        members = [(m.filename, m.file_size, m.compress_size) for m in zf.infolist()]
    disk_m, first_m, cached_m = (statistics.median(x) for x in (disk_s, first_s, cached_s))
    return {
        **figures,
        "made_in_s": round(made_s, 1),
        "shs_listed_after_s": round(listed_s, 1),
        "download_mb": round(len(body) / 1e6, 2),
        "zip_members": [{"name": n, "mb": round(size / 1e6, 2), "zipped_mb": round(z / 1e6, 2)}
                        for n, size, z in members],
        "runs": runs,
        "disk_s": round(disk_m, 3),
        "shs_first_s": round(first_m, 3),
        "shs_cached_s": round(cached_m, 3),
        "shs_first_download_s": round(statistics.median(parts["download"]), 3) if parts["download"] else None,
        "shs_first_unpack_s": round(statistics.median(parts["unpack"]), 3) if parts["unpack"] else None,
        "shs_first_over_disk_s": round(first_m - disk_m, 3),
        "samples_s": {"disk": [round(x, 3) for x in disk_s], "shs_first": [round(x, 3) for x in first_s],
                      "shs_cached": [round(x, 3) for x in cached_s]},
        "disk_over_shs_first": round(disk_m / first_m, 2),
        "shs_first_over_cached": round(first_m / cached_m, 1),
        "same_analysis": _same(disk, through) and _same(disk, cached),
        "source": through.source if through is not None else None,
    }


# ---- the run ----------------------------------------------------------------------------------------------------


def headline(running: dict[str, Any], listing: dict[str, Any], big: dict[str, Any], meets: dict[str, bool]) -> str:
    """One sentence of at most 300 characters: the figures, what they compare with, and the targets."""
    default, walk = listing["default_call"], listing["all_pages"]
    return (
        f"{listing['apps']:,} apps: list_apps page 1 {default['seconds']:.1f} s, all {walk['calls']} pages "
        f"{walk['seconds']:.0f} s; {big['decompressed_mb']:.0f} MB log: disk {big['disk_s']:.2f} s vs History Server "
        f"first {big['shs_first_s']:.2f} s ({big['disk_over_shs_first']}x, >= {TARGET_DISK_OVER_FIRST_MIN:g} "
        f"{'met' if meets['disk_over_first'] else 'missed'}), cached {big['shs_cached_s']:.2f} s "
        f"({big['shs_first_over_cached']}x, >= {TARGET_FIRST_OVER_CACHED_MIN:g} "
        f"{'met' if meets['first_over_cached'] else 'missed'}); straggler found "
        f"{running['ui_to_straggler_finding_s']:.0f} s after UI up"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--apps", type=int, default=1000, help="applications the History Server lists")
    parser.add_argument("--log-mb", type=int, default=200, help="MB of JSON in the big event log")
    parser.add_argument("--runs", type=int, default=3, help="runs of each big-log analysis (median)")
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run (about 2 min)")
    args = parser.parse_args()
    if args.quick:
        args.apps, args.log_mb, args.runs = 50, 20, 1
    if min(args.apps, args.log_mb, args.runs) < 1:
        parser.error("--apps, --log-mb and --runs must be >= 1")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        sys.exit("bench/live.py needs Java 17+ (the History Server and the running app are real Spark)")

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-live-") as tmp:
        root = Path(tmp)
        running = bench_running(root)
        log_dir = root / "shs-logs"
        log_dir.mkdir()
        kinds = make_app_logs(log_dir, args.apps)
        ids = {f"local-{FIRST_ID + i}" for i in range(args.apps)}
        memory = "1g" if args.apps > 200 else "512m"
        shs_work = root / "shs"
        shs_work.mkdir()
        with history_server_process(log_dir, expected_ids=ids, timeout_s=LIST_TIMEOUT_S, daemon_memory=memory,
                                    work_dir=shs_work, replay_threads=2) as (url, started_in_s):
            settings = Settings(home=root / "home", allowed_roots=[root], log_level="WARNING",
                                spark_servers=[SparkServer(name="shs", url=url)], spark_ui_ports=[free_port()],
                                max_file_mib=max(1024, 4 * args.log_mb), live_deadline_s=600)
            listing = bench_listing(settings, url, args.apps, started_in_s, kinds)
            big = bench_big_log(settings, url, log_dir, root, args.log_mb, args.runs)
    meets = {"disk_over_first": big["disk_over_shs_first"] >= TARGET_DISK_OVER_FIRST_MIN,
             "first_over_cached": big["shs_first_over_cached"] >= TARGET_FIRST_OVER_CACHED_MIN}
    print(json.dumps({
        "benchmark": "live",
        "headline": headline(running, listing, big, meets),
        "quick": args.quick,
        "cpus": os.cpu_count(),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "wall_s": round(time.monotonic() - started, 1),
        "running": running,
        "listing": listing,
        "big_log": big,
        "targets": {"disk_over_shs_first_min": TARGET_DISK_OVER_FIRST_MIN,
                    "shs_first_over_cached_min": TARGET_FIRST_OVER_CACHED_MIN},
        "meets_target": meets,
    }, indent=2))


if __name__ == "__main__":
    main()
