"""Repeated stack traces (one shape, other TIDs, stages and hosts) are counted from the first one's
classification: the findings, counts and evidence lines must be those of reading every record."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from dgx_spark_mcp.diagnosis.logs.diagnose import diagnose_log
from dgx_spark_mcp.diagnosis.logs.groups import RecordGroups, guarded_patterns
from dgx_spark_mcp.diagnosis.reading.log_reader import (
    ReadStats,
    Repeat,
    read_records,
    read_shaped,
    text_blocks,
)
from dgx_spark_mcp.diagnosis.reading.logkind import LogKind
from dgx_spark_mcp.settings import Settings

HEADER = "24/07/08 04:00:00 INFO CoarseGrainedExecutorBackend: Started daemon with process name: 4242@worker-1"


def _oom(i: int, tid: int) -> list[str]:
    return [f"24/07/08 05:00:{i % 60:02d} ERROR Executor: Exception in task {i}.0 in stage {i % 7}.0 (TID {tid})",
            "java.lang.OutOfMemoryError: Java heap space", "\tat java.util.Arrays.copyOf(Arrays.java:3236)",
            "\tat org.apache.spark.sql.catalyst.expressions.UnsafeRow.copy(UnsafeRow.java:480)",
            "\tat org.apache.spark.sql.execution.SortExec.$anonfun$doExecute$1(SortExec.scala:112)",
            "\tat org.apache.spark.scheduler.Task.run(Task.scala:141)", "\t... 14 more"]


def _fetch(i: int, tid: int) -> list[str]:
    host = f"host-{i % 5}/10.0.{i % 3}.{i % 5}:7337"
    return [f"24/07/08 05:00:{i % 60:02d} ERROR Executor: Exception in task {i}.0 in stage {i % 7}.0 (TID {tid})",
            f"org.apache.spark.shuffle.FetchFailedException: Failed to connect to {host}",
            "\tat org.apache.spark.storage.ShuffleBlockFetcherIterator.throwFetchFailedException(ShuffleBlockFetcherIterator.scala:1166)",
            f"Caused by: java.io.IOException: Failed to connect to {host}",
            "\tat org.apache.spark.network.client.TransportClientFactory.createClient(TransportClientFactory.java:288)",
            "\t... 3 more"]


def _udf(i: int, tid: int) -> list[str]:
    return [f"24/07/08 05:00:{i % 60:02d} ERROR Executor: Exception in task {i}.0 in stage {i % 7}.0 (TID {tid})",
            "org.apache.spark.api.python.PythonException: Traceback (most recent call last):",
            '  File "/opt/spark/python/pyspark/worker.py", line 1247, in main', "    process()",
            f'  File "/jobs/etl.py", line {10 + i % 4}, in parse_amount', "    return float(value)",
            "ValueError: could not convert string to float: 'n/a'", "",
            "\tat org.apache.spark.api.python.BasePythonRunner$ReaderIterator.handlePythonException(PythonRunner.scala:572)"]


def test_repeated_traces_with_other_ids_give_every_occurrence_and_the_first_ones_lines(tmp_path: Path) -> None:
    lines = [HEADER]
    headers: dict[str, list[int]] = {"executor_oom": [], "fetch_failed": [], "python_udf_error": []}
    first: dict[str, list[str]] = {}
    for i in range(240):
        lines += [f"24/07/08 05:00:{i % 60:02d} INFO Executor: Running task {i}.0 in stage 1.0 (TID {i})"] * (1 + i % 3)
        category, make = [("executor_oom", _oom), ("fetch_failed", _fetch), ("python_udf_error", _udf)][i % 3]
        trace = make(i, 1_000 + i * 397)  # TIDs of 4 to 5 digits, task ids of 1 to 3: more than one length apiece
        headers[category].append(len(lines) + 1)
        first.setdefault(category, trace)
        lines += trace
    path = tmp_path / "executor.log"
    path.write_text("\n".join(lines) + "\n")
    settings = Settings(home=tmp_path / "home", allowed_roots=[str(tmp_path)], log_level="WARNING")

    result = diagnose_log(path, settings)

    assert result.lines_read == len(lines)
    found = {f.category: f.evidence[0] for f in result.findings}
    assert set(found) == set(headers)
    for category, numbers in headers.items():
        cause = found[category]
        assert (cause.occurrences, cause.first_line, cause.last_line) == (80, numbers[0], numbers[-1]), category
        assert cause.lines[0] == first[category][0].split(": ", 1)[1]  # the first occurrence's header, its TID
        assert cause.line_numbers[0] == numbers[0]
    oom, fetch, udf = found["executor_oom"], found["fetch_failed"], found["python_udf_error"]
    n = headers["executor_oom"][0]
    assert (oom.line_numbers, oom.lines[1]) == ([n, n + 1], "java.lang.OutOfMemoryError: Java heap space")
    n = headers["fetch_failed"][0]
    assert fetch.line_numbers[1] in (n + 1, n + 3) and "host-1/10.0.1.1:7337" in fetch.lines[1]
    assert fetch.template is not None and "<*>" in fetch.template  # every host in one group
    n = headers["python_udf_error"][0]
    assert udf.line_numbers[-2:] == [n + 4, n + 6]  # the first UDF's frame (i = 2: line 12 of etl.py) and its error
    assert udf.lines[-2:] == ['File "/jobs/etl.py", line 12, in parse_amount',
                              "ValueError: could not convert string to float: 'n/a'"]


def test_records_that_differ_only_in_a_digit_a_signature_reads_are_classified_apart() -> None:
    # 137 is the OOM killer's exit code; 143 and 130 are of the same length, so their masked bytes are
    # the same: a record holding a digit trigger ("exit code") is keyed by its exact bytes.
    lines = [HEADER]
    for i, code in enumerate([137, 143, 137, 130, 143, 137]):
        lines.append(f"24/07/08 05:00:0{i} ERROR TaskSchedulerImpl: Lost executor {i + 1} on host-{i}: The executor with "
                     f"id {i + 1} exited with exit code {code}(SIGKILL).")
    groups = RecordGroups(LogKind.SPARK_EXECUTOR)
    for item in read_shaped(text_blocks(("\n".join(lines) + "\n").encode()), LogKind.SPARK_EXECUTOR, ReadStats(), guarded_patterns()):
        groups.take(item)
    killed = [g for g in groups.groups.values() if g.category == "container_memory_exceeded"]
    assert [(g.occurrences, g.first_line, g.last_line) for g in killed] == [(3, 2, 7)]
    assert all(g.category != "container_memory_exceeded" for g in groups.groups.values() if g.first_line in (3, 5, 6))


_PIECES = [
    "24/07/08 04:03:25 ERROR Executor: Exception in task 3.0 in stage 0.0 (TID 3)",
    "24/07/08 04:03:25 ERROR Executor: Exception in task 4.0 in stage 0.0 (TID 8)",
    "24/07/08 04:03:26 INFO Executor: done", "java.lang.OutOfMemoryError: Java heap space",
    "2024-07-08 04:03:27,001 WARN TaskSetManager: Lost task 1.0 in stage 2.0 (TID 9): java.lang.X: y",
    'Exception in thread "main" org.apache.spark.SparkException: boom', "java.lang.IllegalStateException: bad 7",
    "\tat a.b.C.d(C.java:1)", "\tat a.b.C.d(C.java:9)", "    at a.b.C.e(C.java:2)", "Caused by: java.io.IOException: disk",
    "\t... 12 more", "Traceback (most recent call last):", '  File "x.py", line 1, in <module>', "ValueError: no 1",
    "", "24/07/08 05:00:01 ERROR TaskSchedulerImpl: Lost executor 1 on h: exited with exit code 137(SIGKILL).",
    "24/07/08 05:00:01 ERROR TaskSchedulerImpl: Lost executor 1 on h: exited with exit code 143(SIGKILL).",
    "[Stage 1:=>  (1 + 1) / 2]\r", "caf\xe9 Error 5",
]


@given(st.lists(st.sampled_from(range(len(_PIECES))), max_size=80), st.integers(min_value=1, max_value=400),
       st.booleans())
@settings(max_examples=200, deadline=None)
def test_repeats_are_the_records_read_whole_and_group_alike(picks: list[int], cut: int, latin: bool) -> None:
    # Any mix, split into two blocks on a line boundary: the repeats, read whole, are the records that
    # reading every record gives, and grouping them from their outlines gives the same groups.
    data = "\n".join(_PIECES[i] for i in picks).encode("latin-1" if latin else "utf-8") + b"\n"
    lines = data.split(b"\n")
    at = len(b"\n".join(lines[: cut % len(lines)])) + (1 if cut % len(lines) else 0)
    blocks = [(data, 0, at), (data, at, len(data))] if 0 < at < len(data) else [(data, 0, len(data))]
    whole_stats, shaped_stats = ReadStats(), ReadStats()
    whole = list(read_records(blocks, LogKind.SPARK_EXECUTOR, whole_stats))
    every, counted = RecordGroups(LogKind.SPARK_EXECUTOR), RecordGroups(LogKind.SPARK_EXECUTOR)
    for record in whole:
        every.add(record, every.classify(record))
    shaped = []
    for item in read_shaped(blocks, LogKind.SPARK_EXECUTOR, shaped_stats, guarded_patterns()):
        record = item.record() if type(item) is Repeat else item
        counted.take(item)
        record.shape = None
        shaped.append(record)
    assert shaped == whole
    assert shaped_stats == whole_stats
    assert counted.groups == every.groups
    assert counted.dropped == every.dropped
