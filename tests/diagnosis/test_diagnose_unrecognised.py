"""diagnose_log on errors no signature knows: a failed task, a driver that died, an error line.

An unrecognised exception that failed a task is an error (task_failure) naming the exception and
its innermost cause; one that ended the driver's main thread is an error too (job_aborted: the
application stopped and no more specific cause was found); neither may leave the result saying
that nothing points to a failure.  Healthy logs stay free of warnings.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dgx_spark_mcp.diagnosis.logs.diagnose import DiagnoseResult, diagnose_log
from dgx_spark_mcp.settings import Settings

from ..conftest import REPO

LABELLED = REPO / "tests" / "fixtures" / "diagnosis" / "labelled"
QUIET = "nothing in this log points to a failure"

EXECUTOR_ARITHMETIC = """24/07/08 04:03:20 INFO CoarseGrainedExecutorBackend: Got assigned task 1
24/07/08 04:03:20 INFO Executor: Running task 0.0 in stage 1.0 (TID 1)
24/07/08 04:03:25 ERROR Executor: Exception in task 0.0 in stage 1.0 (TID 1)
java.lang.ArithmeticException: / by zero
\tat com.example.Job$.$anonfun$main$1(Job.scala:12)
\tat scala.collection.Iterator$$anon$10.next(Iterator.scala:461)
24/07/08 04:03:26 INFO Executor: Running task 1.0 in stage 1.0 (TID 2)
"""

EXECUTOR_CHAINED = """24/07/08 04:03:20 INFO Executor: Running task 4.0 in stage 2.0 (TID 9)
24/07/08 04:03:25 ERROR Executor: Exception in task 4.0 in stage 2.0 (TID 9)
org.apache.spark.SparkException: Task failed while writing rows.
\tat org.apache.spark.sql.execution.datasources.FileFormatWriter$.executeTask(FileFormatWriter.scala:296)
Caused by: java.lang.IllegalStateException: unexpected null in column amount
\tat com.example.Clean$.row(Clean.scala:40)
\t... 12 more
24/07/08 04:03:27 ERROR Executor: Exception in task 5.0 in stage 2.0 (TID 10)
java.lang.NumberFormatException: For input string: "n/a"
\tat java.lang.NumberFormatException.forInputString(NumberFormatException.java:65)
"""

DRIVER_NO_MASTER = """24/07/08 04:03:20 INFO SparkContext: Running Spark version 3.5.1
24/07/08 04:03:20 ERROR SparkContext: Error initializing SparkContext.
org.apache.spark.SparkException: A master URL must be set in your configuration
\tat org.apache.spark.SparkContext.<init>(SparkContext.scala:408)
\tat com.example.Job$.main(Job.scala:5)
24/07/08 04:03:20 INFO SparkContext: Successfully stopped SparkContext
Exception in thread "main" org.apache.spark.SparkException: A master URL must be set in your configuration
\tat org.apache.spark.SparkContext.<init>(SparkContext.scala:408)
\tat com.example.Job$.main(Job.scala:5)
\tat com.example.Job.main(Job.scala)
"""

PYSPARK_DRIVER_UNKNOWN_JAVA_ERROR = """24/07/08 04:03:20 INFO SparkContext: Running Spark version 3.5.1
Traceback (most recent call last):
  File "/jobs/load.py", line 9, in <module>
    spark.read.parquet("s3://lake/orders")
py4j.protocol.Py4JJavaError: An error occurred while calling o42.parquet.
: org.apache.hadoop.fs.UnsupportedFileSystemException: No FileSystem for scheme "s3"
\tat org.apache.hadoop.fs.FileSystem.getFileSystemClass(FileSystem.java:3443)
"""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", allowed_roots=[str(tmp_path), str(LABELLED)], log_level="WARNING")


def _diagnose(tmp_path: Path, settings: Settings, name: str, text: str) -> DiagnoseResult:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return diagnose_log(path, settings)


def _serious(result: DiagnoseResult) -> list[str]:
    return [f.rule_id for f in result.findings if f.severity in ("warning", "error", "critical")]


def test_an_unrecognised_task_exception_is_an_error_naming_the_exception(tmp_path: Path, settings: Settings) -> None:
    result = _diagnose(tmp_path, settings, "executor.log", EXECUTOR_ARITHMETIC)
    assert result.kind == "spark_executor"
    (top,) = result.findings
    assert (top.category, top.rule_id, top.severity) == ("task_failure", "TASK_EXCEPTION", "error")
    assert top.title == "Task failed: ArithmeticException"
    assert "java.lang.ArithmeticException: / by zero" in top.root_cause
    cause = top.evidence[0]
    assert (cause.line_numbers, cause.stage_ids, cause.task_ids) == ([3, 4], [1], [1])
    assert top.fix is not None and top.fix.summary
    assert not any(QUIET in note for note in result.notes)


def test_the_innermost_cause_is_named_and_two_exceptions_are_two_findings(tmp_path: Path, settings: Settings) -> None:
    result = _diagnose(tmp_path, settings, "executor.log", EXECUTOR_CHAINED)
    by_title = {f.title: f for f in result.findings}
    assert set(by_title) == {"Task failed: IllegalStateException", "Task failed: NumberFormatException"}
    chained = by_title["Task failed: IllegalStateException"]
    assert chained.severity == "error"
    assert "org.apache.spark.SparkException: Task failed while writing rows." in chained.root_cause
    assert "innermost cause: java.lang.IllegalStateException: unexpected null in column amount" in chained.root_cause
    assert chained.evidence[0].line_numbers == [2, 3, 5]  # header, outer exception, the Caused-by line


def test_an_uncaught_exception_in_the_drivers_main_thread_is_an_error(tmp_path: Path, settings: Settings) -> None:
    result = _diagnose(tmp_path, settings, "driver.log", DRIVER_NO_MASTER)
    assert result.kind == "spark_driver"
    (top,) = result.findings  # the ERROR line that logged the same exception is evidence, not a second finding
    assert (top.category, top.rule_id, top.severity) == ("job_aborted", "DRIVER_EXCEPTION", "error")
    assert top.title == "Driver stopped by an uncaught SparkException"
    assert "A master URL must be set" in top.root_cause
    assert top.evidence[0].line_numbers == [7]
    assert [(e.role, e.line_numbers) for e in top.evidence[1:]] == [("context", [2, 3])]
    assert not any(QUIET in note for note in result.notes)


def test_a_pyspark_driver_dying_of_a_java_exception_no_signature_knows(tmp_path: Path, settings: Settings) -> None:
    result = _diagnose(tmp_path, settings, "driver.log", PYSPARK_DRIVER_UNKNOWN_JAVA_ERROR)
    top = result.findings[0]
    assert (top.category, top.rule_id, top.severity) == ("job_aborted", "DRIVER_EXCEPTION", "error")
    assert "UnsupportedFileSystemException" in top.title
    assert 'No FileSystem for scheme "s3"' in top.root_cause
    assert [e.role for e in top.evidence] == ["cause", "wrapper"]  # the Py4JJavaError carried it
    assert "Py4JJavaError" in top.evidence[1].lines[0]


def test_a_job_abort_quoting_an_unrecognised_task_exception_is_that_task_failure(settings: Settings) -> None:
    path = LABELLED / "handwritten" / "spark" / "task_failure_arith_spark22.driver.log"
    result = diagnose_log(path, settings)
    top = result.findings[0]
    assert (top.category, top.rule_id, top.severity, top.title) == (
        "task_failure", "TASK_EXCEPTION", "error", "Task failed: ArithmeticException")
    assert top.evidence[0].occurrences == 2  # the lost task, and the abort that quoted it
    wrapped = [e for e in top.evidence if e.role == "wrapper"]
    assert wrapped and "Job aborted due to stage failure" in wrapped[0].lines[0]
    assert not any("Driver stacktrace" in line for e in top.evidence for line in e.lines)


def test_an_error_line_no_signature_knows_is_still_only_info(tmp_path: Path, settings: Settings) -> None:
    text = ("24/07/08 04:03:20 INFO SparkContext: Running Spark version 3.5.1\n"
            "24/07/08 04:03:21 ERROR AsyncEventQueue: Listener EventLoggingListener threw an exception\n"
            "java.util.ConcurrentModificationException: null\n"
            "\tat java.util.HashMap$HashIterator.nextNode(HashMap.java:1445)\n")
    result = _diagnose(tmp_path, settings, "driver.log", text)
    (finding,) = result.findings
    assert (finding.rule_id, finding.severity) == ("UNCLASSIFIED_ERROR", "info")
    assert finding.title == "Unrecognised error logged: ConcurrentModificationException"


def test_healthy_logs_of_the_labelled_set_still_give_no_warning(settings: Settings) -> None:
    labels = json.loads((LABELLED / "labels.json").read_text(encoding="utf-8"))["files"]
    healthy = [e["path"] for e in labels if e["expected_top"] is None and e["kind"] in (
        "spark_driver_log", "spark_executor_log", "airflow_log")]
    assert len(healthy) >= 4
    for path in healthy:
        assert _serious(diagnose_log(LABELLED / path, settings)) == [], path
