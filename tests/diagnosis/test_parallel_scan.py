"""The parallel scan of a big plain Spark log: the same records and findings as one process, in bounded memory.

Workers hand their records back in small chunks through bounded queues, and the reader takes
them range by range: an error-heavy log (a stack trace every few lines) must give exactly what
the single-process reader gives, with the chunk and queue bounds squeezed to force workers to
wait for the reader.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from dgx_spark_mcp.diagnosis.logs import diagnose
from dgx_spark_mcp.diagnosis.logs.diagnose import diagnose_log
from dgx_spark_mcp.diagnosis.reading import parallel
from dgx_spark_mcp.diagnosis.reading.codecs import LogLines
from dgx_spark_mcp.diagnosis.reading.log_reader import read_records
from dgx_spark_mcp.diagnosis.reading.logkind import LogKind
from dgx_spark_mcp.diagnosis.reading.parallel import ParallelScan
from dgx_spark_mcp.diagnosis.reading.record import ReadStats, Record
from dgx_spark_mcp.errors import CouldNotDoError
from dgx_spark_mcp.settings import Settings

FAILURES = (
    "{ts} ERROR Executor: Exception in task {t}.0 in stage {s}.0 (TID {tid})\njava.lang.OutOfMemoryError: Java heap space\n"
    "\tat java.util.Arrays.copyOf(Arrays.java:3236)\n\tat org.apache.spark.sql.execution.SortExec.doExecute(SortExec.scala:112)\n"
    "\t... 14 more\n",
    "{ts} WARN TaskSetManager: Lost task {t}.0 in stage {s}.0 (TID {tid}) (host-{t} executor 2): "
    "org.apache.spark.shuffle.FetchFailedException: Failed to connect to host-{t}/10.0.0.{t}:7337\n"
    "Caused by: java.io.IOException: Failed to connect to host-{t}/10.0.0.{t}:7337\n\t... 3 more\n",
    "{ts} ERROR Executor: Exception in task {t}.0 in stage {s}.0 (TID {tid})\norg.apache.spark.api.python.PythonException: "
    "Traceback (most recent call last):\n  File \"/jobs/etl.py\", line {t}, in parse\n    return float(value)\n"
    "ValueError: could not convert string to float: 'n/a'\n\n\tat org.apache.spark.api.python.PythonRunner.read(PythonRunner.scala:572)\n",
    "{ts} ERROR Executor: Exception in task {t}.0 in stage {s}.0 (TID {tid})\njava.lang.ArithmeticException: / by zero\n"
    + "".join(f"\tat com.example.Deep.level{n}(Deep.scala:{n})\n" for n in range(40)),
    "{ts} ERROR Executor: Exception in task {t}.0 in stage {s}.0 (TID {tid})\njava.lang.IllegalStateException: bad \xe9\n"
    "\tat com.example.Job.run(Job.scala:1)\n",  # written as Latin-1: bytes that are not UTF-8
    "[Stage {s}:==>   ({t} + 2) / 200]\r{ts} ERROR Executor: Exception in task {t}.0 in stage {s}.0 (TID {tid})\n"
    "java.lang.RuntimeException: progress bar before me\n",
    'Exception in thread "dispatcher-{t}" java.lang.IllegalArgumentException: uncaught {t}\n\tat com.example.X.y(X.java:1)\n',
)


def write_error_heavy_log(path: Path, failures: int, seed: int = 3) -> None:
    """A Spark executor log with a stack trace after every few INFO lines."""
    rng = random.Random(seed)
    with path.open("wb") as f:
        f.write(b"24/07/08 04:00:00 INFO CoarseGrainedExecutorBackend: Started daemon with process name: 1@w\n")
        for i in range(failures):
            ts = f"24/07/08 05:{i // 60 % 60:02d}:{i % 60:02d}"
            for _ in range(rng.randrange(0, 6)):
                f.write(f"{ts} INFO Executor: Running task {i}.0 in stage {i % 9}.0 (TID {i})\n".encode())
            text = rng.choice(FAILURES).format(ts=ts, t=i % 200, s=i % 60, tid=i)
            f.write(text.encode("latin-1") if "\xe9" in text else text.encode())


@pytest.fixture
def heavy_log(tmp_path: Path) -> Path:
    path = tmp_path / "executor.log"
    write_error_heavy_log(path, 3_000)
    return path


@pytest.fixture
def squeezed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tiny chunks and one queued chunk per worker: workers wait for the reader all the time."""
    monkeypatch.setattr(parallel, "CHUNK_RECORDS", 7)
    monkeypatch.setattr(parallel, "QUEUED_CHUNKS", 1)


@pytest.mark.slow
@pytest.mark.usefixtures("squeezed")
def test_parallel_records_equal_the_single_process_ones_on_an_error_heavy_log(heavy_log: Path) -> None:
    single_stats = ReadStats()
    single = list(read_records(LogLines(heavy_log).blocks(), LogKind.SPARK_EXECUTOR, single_stats))
    assert len(single) > 2_500 and single_stats.non_utf8_lines > 0
    parallel_stats = ReadStats()
    scan: ParallelScan[Record] = ParallelScan(heavy_log, heavy_log.stat().st_size, LogKind.SPARK_EXECUTOR, 3)
    parallel = list(scan.records(parallel_stats))
    assert parallel == single
    assert parallel_stats == single_stats


@pytest.mark.slow
@pytest.mark.usefixtures("squeezed")
def test_parallel_diagnosis_equals_the_single_process_one_on_an_error_heavy_log(
    heavy_log: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(home=tmp_path / "home", allowed_roots=[str(tmp_path)], log_level="WARNING")
    monkeypatch.setattr(diagnose, "workers_for", lambda size: 0)
    single = diagnose_log(heavy_log, settings, limit=100)
    monkeypatch.setattr(diagnose, "workers_for", lambda size: 3)
    parallel = diagnose_log(heavy_log, settings, limit=99)  # other options: not served from the store
    assert parallel.from_store is False
    assert (parallel.lines_read, parallel.unreadable) == (single.lines_read, single.unreadable)
    assert parallel.findings == single.findings[:99]
    assert {f.rule_id for f in single.findings} >= {"JVM_OOM", "FETCH_FAILED", "PYTHON_UDF", "TASK_EXCEPTION"}


@pytest.mark.slow
def test_a_worker_that_dies_is_an_error_not_a_hang(heavy_log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "_POLL_S", 0.05)
    monkeypatch.setattr(parallel, "_scan_range", lambda *args: os._exit(3))  # killed, say, by the OOM killer
    scan: ParallelScan[Record] = ParallelScan(heavy_log, heavy_log.stat().st_size, LogKind.SPARK_EXECUTOR, 2)
    with pytest.raises(CouldNotDoError, match="exit code 3"):
        list(scan.records(ReadStats()))


@pytest.mark.slow
def test_a_reader_that_stops_early_stops_the_workers(heavy_log: Path) -> None:
    scan: ParallelScan[Record] = ParallelScan(heavy_log, heavy_log.stat().st_size, LogKind.SPARK_EXECUTOR, 3)
    records = scan.records(ReadStats())
    next(records)
    records.close()  # the consumer went away (an error while grouping, say)
    assert all(not process.is_alive() for process, _ in scan._workers)
