"""The log reader and kind detection on small, exact inputs."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dgx_spark_mcp.diagnosis.reading import log_reader
from dgx_spark_mcp.diagnosis.reading.log_reader import (
    ReadStats,
    read_records,
    text_blocks,
)
from dgx_spark_mcp.diagnosis.reading.logkind import LogKind, detect_kind, parse_airflow


@pytest.mark.parametrize(
    ("lines", "kind"),
    [
        (["24/07/08 04:03:24 INFO SparkContext: Running Spark version 3.5.1"], LogKind.SPARK_DRIVER),
        (["23/11/07 10:59:24.335 main INFO DriverLogger: Added a local log appender"], LogKind.SPARK_DRIVER),
        (["24/07/08 04:03:24 INFO CoarseGrainedExecutorBackend: Started daemon with process name: 1@w"], LogKind.SPARK_EXECUTOR),
        (['{"Event":"SparkListenerLogStart","Spark Version":"3.5.1"}'], LogKind.SPARK_EVENT_LOG),
        (["[2021-05-08 19:48:35,385] {taskinstance.py:1068} INFO - Dependencies all met"], LogKind.AIRFLOW),
        (["[2022-01-24, 16:18:18 UTC] {{taskinstance.py:1068}} INFO - Dependencies all met"], LogKind.AIRFLOW),
        (["[2023-01-12T03:26:33.347+0000] {taskinstance.py:1068} INFO - Dependencies all met"], LogKind.AIRFLOW),
        (['{"timestamp":"2025-08-02T13:40:00Z","level":"info","event":"DAG bundles loaded","logger":"x"}'], LogKind.AIRFLOW3),
        (["Traceback (most recent call last):", '  File "x.py", line 1, in <module>', "ValueError: no"], LogKind.TEXT),
    ],
)
def test_detect_kind(lines: list[str], kind: LogKind) -> None:
    assert detect_kind(lines) is kind


def test_airflow_subtask_prefix_is_unwrapped() -> None:
    parsed = parse_airflow("[2019-01-01 00:00:00,000] {base_task_runner.py:101} INFO - Job 7: Subtask load Traceback (most recent call last):")
    assert parsed is not None and parsed.message == "Traceback (most recent call last):"


def test_progress_bars_are_stripped_and_traces_grouped_with_line_numbers() -> None:
    text = (
        "24/07/08 04:03:24 INFO DAGScheduler: Submitting 200 missing tasks\n"
        "[Stage 0:=====>          (12 + 4) / 200]\r24/07/08 04:03:25 ERROR Executor: Exception in task 3.0 in stage 0.0 (TID 3)\n"
        "java.lang.RuntimeException: outer\n"
        "\tat a.b.C.d(C.java:1)\n"
        "Caused by: java.io.IOException: No space left on device\n"
        "\tat a.b.C.e(C.java:2)\n"
        "\t... 4 more\n"
        "24/07/08 04:03:26 INFO Executor: Running task 4.0 in stage 0.0 (TID 4)\n"
    )
    stats = ReadStats()
    records = list(read_records(text_blocks(text.encode()), LogKind.SPARK_EXECUTOR, stats))
    assert stats.lines == 8
    assert len(records) == 1
    record = records[0]
    assert (record.line_no, record.level, record.frames) == (2, "ERROR", 2)  # "... 4 more" is not a frame
    assert [n for n, _ in record.chain()] == [2, 3, 5]
    assert record.chain()[-1][1] == "java.io.IOException: No space left on device"
    assert "[Stage" not in record.lines[0]


def test_a_trace_split_across_blocks_stays_one_record() -> None:
    head = b"24/07/08 04:03:25 ERROR Executor: Exception in task 3.0 in stage 0.0 (TID 3)\njava.lang.OutOfMemoryError: Java"
    tail = b" heap space\n\tat a.b.C.d(C.java:1)\n24/07/08 04:03:26 INFO Executor: done\n"
    whole = head + tail
    cut = whole.index(b"\tat")
    blocks = [(whole, 0, cut), (whole, cut, len(whole))]
    stats = ReadStats()
    records = list(read_records(blocks, LogKind.SPARK_EXECUTOR, stats))
    assert len(records) == 1 and records[0].frames == 1
    assert records[0].chain()[-1][1] == "java.lang.OutOfMemoryError: Java heap space"
    assert stats.lines == 4


def test_the_reader_stops_at_signature_anchors_not_at_every_warn_line() -> None:
    # WARN chatter no signature knows is skipped; an INFO line with a signature's anchor (a spill) is read.
    text = (
        "24/07/08 04:03:24 WARN BlockManager: Block rdd_3_1 could not be removed as it was not found on disk or in memory\n"
        "24/07/08 04:03:25 INFO UnsafeExternalSorter: Thread 61 spilling sort data of 1024.0 MiB to disk (0  time so far)\n"
        "24/07/08 04:03:26 WARN TaskSetManager: Lost task 1.0 in stage 3.0 (TID 7) (host executor 2): ExecutorLostFailure "
        "(executor 2 exited caused by one of the running tasks) Reason: Container killed by YARN for exceeding memory limits\n"
    )
    records = list(read_records(text_blocks(text.encode()), LogKind.SPARK_EXECUTOR, ReadStats()))
    assert [(r.line_no, r.level) for r in records] == [(2, "INFO"), (3, "WARN")]


def test_line_numbers_hold_across_long_stretches_counted_in_bulk() -> None:
    # Spans above 64 KiB between anchors are counted with numpy, shorter ones with bytes.count: both must agree.
    chatter = "".join(f"24/07/08 04:03:24 INFO Executor: Running task {i}.0 in stage 1.0 (TID {i})\n" for i in range(5_000))
    failure = "24/07/08 04:03:25 ERROR Executor: Exception in task 3.0 in stage 0.0 (TID 3)\njava.lang.OutOfMemoryError: Java heap space\n"
    text = failure + chatter + failure + chatter[:500] + failure
    stats = ReadStats()
    records = list(read_records(text_blocks(text.encode()), LogKind.SPARK_EXECUTOR, stats))
    chatter_lines = chatter.count("\n")
    small = chatter[:500].count("\n")
    assert [r.line_no for r in records] == [1, 3 + chatter_lines, 5 + chatter_lines + small]
    assert stats.lines == text.count("\n")


LABELLED_SPARK = Path(__file__).parent.parent / "fixtures" / "diagnosis" / "labelled" / "handwritten" / "spark"


@pytest.mark.parametrize(
    "name",
    ["cuda_fatal_rapids.executor.log", "disk_full_spark35.executor.log", "gpu_oom_rapids2310_spark33.executor.log",
     "spill_spark33.executor.log"],
)
def test_executor_logs_are_told_by_their_task_threads_and_task_lines(name: str) -> None:
    # No CoarseGrainedExecutorBackend line in these heads: the task runner's lines and thread names tell.
    head = (LABELLED_SPARK / name).read_text(encoding="utf-8").splitlines()[:300]
    assert detect_kind(head) is LogKind.SPARK_EXECUTOR


def test_a_local_mode_driver_running_its_own_tasks_is_still_a_driver() -> None:
    pyspark = LABELLED_SPARK.parent.parent / "pyspark"
    head = (pyspark / "python_udf_error.driver.log").read_text(encoding="utf-8").splitlines()[:300]
    assert any("Executor: Running task" in line for line in head)
    assert detect_kind(head) is LogKind.SPARK_DRIVER


def test_the_jvms_uncaught_exception_line_starts_its_own_record() -> None:
    text = (
        "18/02/26 10:33:45 ERROR scheduler.TaskSetManager: Task 7 in stage 1.0 failed 4 times; aborting job\n"
        'Exception in thread "main" org.apache.spark.SparkException: Job aborted due to stage failure: boom\n'
        "\tat a.b.C.d(C.java:1)\n"
        "Driver stacktrace:\n"
        "\tat org.apache.spark.scheduler.DAGScheduler.fail(DAGScheduler.scala:1517)\n"
    )
    records = list(read_records(text_blocks(text.encode()), LogKind.SPARK_DRIVER, ReadStats()))
    assert [(r.line_no, r.level) for r in records] == [(1, "ERROR"), (2, None)]
    assert [n for n, _ in records[1].chain()] == [2]  # "Driver stacktrace:" is no cause


def test_long_traces_keep_a_few_frames_and_count_the_rest_on_every_path() -> None:
    # The reader takes a Spark record's lines a block at a time, or one by one when a line needs it
    # (bytes that are not UTF-8, a progress bar): the same record either way.
    frames = [f"\tat com.example.Deep.level{n}(Deep.scala:{n})\n" for n in range(300)]
    trace = ("24/07/08 04:03:25 ERROR Executor: Exception in task 3.0 in stage 0.0 (TID 3)\n"
             "java.lang.IllegalStateException: deep\n" + "".join(frames)
             + "Caused by: java.lang.ArithmeticException: / by zero\n" + "".join(frames[:20])
             + "24/07/08 04:03:26 INFO Executor: done\n")
    plain = list(read_records(text_blocks(trace.encode()), LogKind.SPARK_EXECUTOR, ReadStats()))
    stats = ReadStats()
    latin = list(read_records(text_blocks(trace.replace("deep", "d\xe9ep").encode("latin-1")), LogKind.SPARK_EXECUTOR,
                              stats))
    progress = list(read_records(text_blocks(trace.replace("\tat com.example.Deep.level9(", "[Stage 1:>  (1 + 1) / 2]\r\tat "
                                                           "com.example.Deep.level9(").encode()), LogKind.SPARK_EXECUTOR,
                                 ReadStats()))
    for records in (plain, latin, progress):
        (record,) = records
        assert (record.total_lines, record.frames) == (2 + 300 + 1 + 20, 320)
        assert record.chain()[-1] == (303, "java.lang.ArithmeticException: / by zero")
        assert record.lines[1].startswith("java.lang.IllegalStateException: d")
        assert record.lines[2:] == [*(f.rstrip("\n") for f in frames[:3]), "Caused by: java.lang.ArithmeticException: / by zero"]
    assert stats.non_utf8_lines == 1 and latin[0].replaced == [2]
    assert plain[0].replaced == [] and plain[0] == progress[0]


def test_a_record_longer_than_the_bound_is_closed_and_counted() -> None:
    frames = "".join(f"\tat com.example.Deep.level{n}(Deep.scala:{n})\n" for n in range(log_reader.MAX_RECORD_LINES + 50))
    text = "24/07/08 04:03:25 ERROR Executor: Exception in task 3.0 in stage 0.0 (TID 3)\n" + frames
    stats = ReadStats()
    records = list(read_records(text_blocks(text.encode()), LogKind.SPARK_EXECUTOR, stats))
    assert records[0].total_lines == log_reader.MAX_RECORD_LINES and stats.long_records == 1
    assert stats.lines == text.count("\n")


_PIECES = [
    b"24/07/08 04:03:25 ERROR Executor: Exception in task 3.0 in stage 0.0 (TID 3)", b"24/07/08 04:03:26 INFO Executor: done",
    b"2024-07-08 04:03:27,001 WARN TaskSetManager: Lost task 1.0 in stage 2.0 (TID 9): java.lang.X: y",
    b'Exception in thread "main" org.apache.spark.SparkException: boom', b"java.lang.IllegalStateException: bad",
    b"\tat a.b.C.d(C.java:1)", b"    at a.b.C.e(C.java:2)", b"Caused by: java.io.IOException: disk", b"\t... 12 more",
    b"Traceback (most recent call last):", b'  File "x.py", line 1, in <module>', b"ValueError: no", b"",
    b"Driver stacktrace:", b"[Stage 1:=>  (1 + 1) / 2]\r", b"caf\xe9 Error", b"\r\n",
]


@given(st.lists(st.sampled_from(_PIECES), max_size=60), st.integers(min_value=1, max_value=200))
@settings(max_examples=200, deadline=None)
def test_the_block_path_reads_records_as_the_line_by_line_path_does(pieces: list[bytes], cut: int) -> None:
    # Any mix of headers, traces, progress bars, bytes that are not UTF-8 and blank lines, split into
    # two blocks anywhere on a line boundary: reading a Spark record's lines a block at a time must
    # give exactly the records (and counts) that reading them one by one gives.
    data = b"\n".join(pieces) + b"\n"
    lines = data.split(b"\n")
    at = len(b"\n".join(lines[: cut % len(lines)])) + (1 if cut % len(lines) else 0)
    blocks = [(data, 0, at), (data, at, len(data))] if 0 < at < len(data) else [(data, 0, len(data))]
    fast_stats, slow_stats = ReadStats(), ReadStats()
    fast = list(read_records(blocks, LogKind.SPARK_DRIVER, fast_stats))
    original = log_reader._Scanner._continue_block
    try:
        log_reader._Scanner._continue_block = lambda *args: None  # type: ignore[method-assign]
        slow = list(read_records(blocks, LogKind.SPARK_DRIVER, slow_stats))
    finally:
        log_reader._Scanner._continue_block = original  # type: ignore[method-assign]
    assert fast == slow
    assert fast_stats == slow_stats
