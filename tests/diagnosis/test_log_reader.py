"""The log reader and kind detection on small, exact inputs."""

from __future__ import annotations

import pytest

from dgx_spark_mcp.diagnosis.log_reader import ReadStats, read_records, text_blocks
from dgx_spark_mcp.diagnosis.logkind import LogKind, detect_kind, parse_airflow


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
