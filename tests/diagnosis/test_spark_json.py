"""Spark 4's structured (JSON) logs: each line one log4j event, its stack trace inside (SparkLayout.json)."""

from __future__ import annotations

import json
from pathlib import Path

from dgx_spark_mcp.diagnosis.logs.diagnose import diagnose_log
from dgx_spark_mcp.diagnosis.reading.logkind import LogKind, detect_kind
from dgx_spark_mcp.diagnosis.reading.spark_json import parse_spark_json
from dgx_spark_mcp.settings import Settings


def _line(level: str, logger: str, msg: str, exception: dict[str, str] | None = None) -> str:
    event: dict[str, object] = {"ts": "2026-12-07T10:00:00.100Z", "level": level, "msg": msg, "context": {}}
    if exception:
        event["exception"] = exception
    event["logger"] = logger
    return json.dumps(event, separators=(",", ":"))


TRACE = ("org.apache.spark.SparkException: Job aborted due to stage failure: Task 0 in stage 3.0 failed 1 times\n"
         "\tat org.apache.spark.scheduler.DAGScheduler.failJobAndIndependentStages(DAGScheduler.scala:2856)\n"
         "Caused by: java.lang.OutOfMemoryError: Java heap space\n"
         "\tat java.base/java.util.Arrays.copyOf(Arrays.java:3537)\n")
DRIVER = [
    _line("INFO", "SparkContext", "Running Spark version 4.0.1"),
    _line("WARN", "WindowExec", "No Partition Defined for Window operation! Moving all data to a single partition, "
          "this can cause serious performance degradation."),
    "Traceback (most recent call last):",  # what bypasses log4j stays plain text in the same file
    '  File "/jobs/rollup.py", line 12, in <module>',
    _line("ERROR", "SparkContext", "Error running job",
          {"class": "org.apache.spark.SparkException", "msg": "Job aborted", "stacktrace": TRACE}),
    _line("INFO", "SparkContext", "Successfully stopped SparkContext"),
]


def test_a_line_of_the_layout_is_its_message_then_its_stack_trace() -> None:
    parsed = parse_spark_json(DRIVER[4])
    assert parsed is not None and (parsed.level, parsed.logger) == ("ERROR", "SparkContext")
    assert parsed.lines[0] == "Error running job" and "Caused by: java.lang.OutOfMemoryError: Java heap space" in parsed.lines
    assert parse_spark_json('{"timestamp": "x", "event": "Task failed", "level": "error"}') is None  # Airflow 3's


def test_json_layout_is_detected_as_a_spark_driver_or_executor_log() -> None:
    assert detect_kind(DRIVER) is LogKind.SPARK_DRIVER
    executor = [_line("INFO", "CoarseGrainedExecutorBackend", "Started daemon with process name: 4242@worker-1"),
                _line("INFO", "Executor", "Running task 0.0 in stage 3.0 (TID 7)")]
    assert detect_kind(executor) is LogKind.SPARK_EXECUTOR


def test_json_driver_log_is_diagnosed_with_the_causes_chain_and_line_numbers(tmp_path: Path) -> None:
    log = tmp_path / "driver.json.log"
    log.write_text("\n".join(DRIVER) + "\n")
    result = diagnose_log(log, Settings(home=tmp_path / "home", allowed_roots=[tmp_path]))
    assert result.kind == "spark_driver" and result.lines_read == len(DRIVER)
    found = {f.category: f for f in result.findings}
    assert result.findings[0].category == "executor_oom"  # the cause a failed task raised, though the driver logged it
    assert "Java heap space" in result.findings[0].root_cause and result.findings[0].evidence[0].line_numbers[0] == 5
    assert found["single_partition_exchange"].evidence[0].line_numbers == [2]


def test_a_log4j_record_ends_where_a_json_line_begins(tmp_path: Path) -> None:
    mixed = ["24/07/08 04:00:00 ERROR Executor: Exception in task 0.0 in stage 1.0 (TID 1)",
             "java.lang.OutOfMemoryError: Java heap space", "\tat java.util.Arrays.copyOf(Arrays.java:3236)",
             _line("WARN", "WindowExec", "No Partition Defined for Window operation! Moving all data to a single partition")]
    log = tmp_path / "mixed.log"
    log.write_text("\n".join(mixed) + "\n")
    result = diagnose_log(log, Settings(home=tmp_path / "home", allowed_roots=[tmp_path]), kind="spark_executor")
    assert sorted(f.category for f in result.findings) == ["executor_oom", "single_partition_exchange"]


def test_an_oom_a_stage_failure_carries_is_the_executors_in_either_layout(tmp_path: Path) -> None:
    plain = ["24/07/08 04:00:00 INFO SparkContext: Running Spark version 3.5.1",
             "24/07/08 04:00:09 ERROR SparkContext: Error running job", *TRACE.rstrip("\n").split("\n")]
    log = tmp_path / "plain.log"
    log.write_text("\n".join(plain) + "\n")
    result = diagnose_log(log, Settings(home=tmp_path / "home", allowed_roots=[tmp_path]))
    assert (result.kind, result.findings[0].category) == ("spark_driver", "executor_oom")
    # Raised on the driver itself (no stage failure around it), the same OOM is the driver's.
    own = ["24/07/08 04:00:00 INFO SparkContext: Running Spark version 3.5.1",
           "24/07/08 04:00:09 ERROR Utils: Uncaught exception in thread main", "java.lang.OutOfMemoryError: Java heap space",
           "\tat java.base/java.util.Arrays.copyOf(Arrays.java:3537)"]
    log.write_text("\n".join(own) + "\n")
    result = diagnose_log(log, Settings(home=tmp_path / "home2", allowed_roots=[tmp_path]))
    assert result.findings[0].category == "driver_oom"


def test_pysparks_own_json_logger_line_names_the_analysis_error(tmp_path: Path) -> None:
    # pyspark.logger (DataFrameQueryContextLogger): "ts" first, the Py4J error's message holds the JVM's exception.
    line = json.dumps({
        "ts": "2026-12-07 19:15:31.513", "level": "ERROR", "logger": "DataFrameQueryContextLogger",
        "msg": "[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column, variable, or function parameter with name `order_date` "
               "cannot be resolved.",
        "context": {"errorClass": "UNRESOLVED_COLUMN.WITH_SUGGESTION"},
        "exception": {"class": "Py4JJavaError", "msg": "An error occurred while calling o57.agg.\n: "
                      "org.apache.spark.sql.AnalysisException: [UNRESOLVED_COLUMN.WITH_SUGGESTION] A column, variable, "
                      "or function parameter with name `order_date` cannot be resolved. SQLSTATE: 42703",
                      "stacktrace": [{"class": None, "method": "deco", "file": "/opt/spark/python/utils.py", "line": "288"}]},
    })
    log = tmp_path / "driver.log"
    log.write_text("26/12/07 19:15:31 INFO SparkContext: Running Spark version 4.0.1\n" + line + "\n")
    top = diagnose_log(log, Settings(home=tmp_path / "home", allowed_roots=[tmp_path])).findings[0]
    assert top.category == "column_unresolved" and "`order_date`" in top.root_cause
