"""A group learns from its later records what its first one did not say (the exception a timeout raised)."""

from __future__ import annotations

from pathlib import Path

from dgx_spark_mcp.diagnosis.logs.diagnose import diagnose_log
from dgx_spark_mcp.settings import Settings

LOG = """[2026-12-07T18:39:08.218+0000] {logging_mixin.py:190} INFO - copying partition day=2
[2026-12-07T18:39:10.175+0000] {timeout.py:68} ERROR - Process timed out, PID: 7634
[2026-12-07T18:39:10.181+0000] {taskinstance.py:3313} ERROR - Task failed with exception
Traceback (most recent call last):
  File "/opt/airflow/dags/slow_backfill.py", line 10, in copy_partitions
    time.sleep(3)
  File "/usr/lib/python3.11/site-packages/airflow/utils/timeout.py", line 69, in handle_timeout
    raise AirflowTaskTimeout(self.error_message)
airflow.exceptions.AirflowTaskTimeout: Timeout, PID: 7634
[2026-12-07T18:39:10.187+0000] {taskinstance.py:1226} INFO - Marking task as FAILED. dag_id=slow_backfill, task_id=copy
"""


def test_the_timeout_finding_names_the_exception_its_traceback_raised(tmp_path: Path) -> None:
    log = tmp_path / "task.log"
    log.write_text(LOG)
    top = diagnose_log(log, Settings(home=tmp_path / "home", allowed_roots=[tmp_path])).findings[0]
    assert (top.category, top.title) == ("airflow_task_timeout", "Airflow task timed out: AirflowTaskTimeout")
    assert "in copy_partitions (slow_backfill.py:10)" in top.root_cause
