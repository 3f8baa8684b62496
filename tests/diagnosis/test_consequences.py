"""What a cause led to: the job it aborted and the executors it took down, each a finding next to the cause."""

from __future__ import annotations

from pathlib import Path

from dgx_spark_mcp.diagnosis.logs.diagnose import diagnose_log
from dgx_spark_mcp.settings import Settings

ABORT = ("24/07/08 04:00:00 INFO SparkContext: Running Spark version 3.5.1\n"
         "py4j.protocol.Py4JJavaError: An error occurred while calling o52.collect.\n"
         ": org.apache.spark.SparkException: Job aborted due to stage failure: Task 0 in stage 3.0 failed 4 times, most "
         "recent failure: Lost task 0.3 in stage 3.0 (TID 9) (host-1 executor 2): java.lang.OutOfMemoryError: Java heap space\n"
         "\tat java.base/java.util.Arrays.copyOf(Arrays.java:3537)\n")
RETRIED = ("24/07/08 04:00:00 INFO SparkContext: Running Spark version 3.5.1\n"
           "24/07/08 04:00:05 WARN TaskSetManager: Lost task 0.0 in stage 3.0 (TID 9) (host-1 executor 2): "
           "java.lang.OutOfMemoryError: Java heap space\n"
           "24/07/08 04:00:09 INFO TaskSetManager: Finished task 0.1 in stage 3.0 (TID 10) in 4000 ms on host-2 (executor 3) (1/1)\n")
KILLED = ("18/05/16 00:53:32 ERROR YarnClusterScheduler: Lost executor 6 on node-1: Container killed by YARN for exceeding "
          "memory limits. 8.2 GB of 8 GB physical memory used. Consider boosting spark.yarn.executor.memoryOverhead.\n"
          "18/05/16 00:53:40 ERROR YarnClusterScheduler: Lost executor 9 on node-2: Container killed by YARN for exceeding "
          "memory limits. 8.3 GB of 8 GB physical memory used. Consider boosting spark.yarn.executor.memoryOverhead.\n"
          "18/05/16 00:53:41 ERROR TaskSetManager: Task 1 in stage 0.0 failed 4 times; aborting job\n")


def _findings(tmp_path: Path, text: str) -> list[tuple[str, str]]:
    log = tmp_path / "driver.log"
    log.write_text(text)
    result = diagnose_log(log, Settings(home=tmp_path / "home", allowed_roots=[tmp_path]), kind="spark_driver")
    return [(f.category, f.severity) for f in result.findings]


def test_a_job_abort_seen_only_around_its_cause_is_reported_after_it(tmp_path: Path) -> None:
    assert _findings(tmp_path, ABORT) == [("executor_oom", "error"), ("job_aborted", "info")]


def test_a_task_retried_to_success_aborted_no_job(tmp_path: Path) -> None:
    assert ("job_aborted", "info") not in _findings(tmp_path, RETRIED)


def test_executors_lost_to_a_container_kill_are_named_next_to_it(tmp_path: Path) -> None:
    log = tmp_path / "driver.log"
    log.write_text(KILLED)
    result = diagnose_log(log, Settings(home=tmp_path / "home", allowed_roots=[tmp_path]), kind="spark_driver")
    found = {f.category: f for f in result.findings}
    assert result.findings[0].category == "container_memory_exceeded"
    assert found["executor_lost"].severity == "info" and found["executor_lost"].root_cause.startswith("Executors were lost 2 time(s), executor 6 first")
    assert found["job_aborted"].severity == "info"  # Spark's own 'aborting job' line, information next to the cause
