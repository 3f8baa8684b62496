"""What list_dag_runs and diagnose_dag_run answer: runs, and a failed run explained try by try.

Optional fields default to empty, so the compact answer leaves them out when they are (an agent pays
for every token it reads); a run's date is ``logical_date`` whichever Airflow it came from (Airflow 2
calls it ``execution_date``; a manual run of Airflow 3 has none, and its ``run_after`` stands in).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from ..optimizers.models import ConfigChange

__all__ = ["DagRunDiagnosis", "DagRunList", "DagRunRow", "ImportErrorBrief", "RunFinding", "SparkApplication",
           "TaskRow", "UpstreamFailure"]


class DagRunRow(BaseModel):
    dag_id: str
    run_id: str
    state: str
    run_type: str | None = None
    logical_date: str | None = Field(default=None, description="Airflow 2's execution_date; Airflow 3's run_after "
                                     "for a manual run.")
    start_date: str | None = None
    end_date: str | None = None
    duration_s: float | None = None


class ImportErrorBrief(BaseModel):
    """A DAG file the DAG processor could not import: its DAGs are missing until it is fixed."""

    filename: str
    error: str = Field(description="The traceback's last line.")
    timestamp: str | None = None


class DagRunList(BaseModel):
    """One page of DAG runs: failed runs first, then the others, each group newest first."""

    airflow: str = Field(description="Version and URL of the server asked.")
    runs: list[DagRunRow] = Field(default_factory=list)
    total: int = Field(description="Runs matching the filters, on every page.")
    failed_total: int | None = Field(default=None, description="Of which failed (when no state was given).")
    truncated: bool = Field(description="More runs than this page: pass next_cursor as cursor.")
    next_cursor: str | None = None
    import_errors_total: int = 0
    import_errors: list[ImportErrorBrief] = Field(default_factory=list, description="The first DAG files that fail to "
                                                  "import (with a DAG filter: only that DAG's file).")
    more: str | None = None


class TaskRow(BaseModel):
    task_id: str
    map_index: int | None = Field(default=None, description="The index of a mapped task's instance.")
    state: str | None = None
    try_number: int = 0
    operator: str | None = None
    duration_s: float | None = None


class RunFinding(BaseModel):
    """What one try of a failed task shows: the error it raised and the diagnosis of its log (root cause first)."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int | None = Field(default=None, description="The mapped task's index.")
    try_number: int
    error: str | None = Field(default=None, description="The exception the try ended with (innermost cause).")
    category: str | None = Field(default=None, description="diagnosis://categories; none when the log shows no cause.")
    rule_id: str | None = None
    severity: str | None = None
    title: str | None = None
    root_cause: str | None = None
    evidence: list[str] = Field(default_factory=list, description="The log lines that show it.")
    fix: str | None = None
    changes: list[ConfigChange] = Field(default_factory=list)
    log: str | None = Field(default=None, description="The log file read (a folder of logs), or none (the API).")
    spark_lines: int | None = Field(default=None, description="Lines of a nested spark-submit log, diagnosed too.")
    note: str | None = None


class UpstreamFailure(BaseModel):
    """Tasks that never ran (upstream_failed) because of one task that failed."""

    failed_task: str
    blocked_total: int
    blocked: list[str] = Field(default_factory=list, description="The first of them.")


class SparkApplication(BaseModel):
    """A Spark application a task's log names, and its event log's diagnosis when a History Server has it."""

    app_id: str
    task_id: str
    try_number: int
    map_index: int | None = None
    event_log: str | None = Field(default=None, description="server/app-id of the event log diagnosed.")
    findings: list[str] = Field(default_factory=list, description="Its findings: 'rule_id: title'.")
    note: str | None = None


class DagRunDiagnosis(BaseModel):
    """Why a DAG run failed: its task states, each failed try diagnosed from its log, and what blocked the rest."""

    summary: str
    source: str = Field(description="The Airflow asked, or the folder of logs read.")
    dag_id: str | None = None
    run_id: str | None = None
    state: str | None = None
    logical_date: str | None = None
    start_date: str | None = None
    end_date: str | None = None
    tasks_total: int | None = None
    task_states: dict[str, int] = Field(default_factory=dict, description="Task instances by state.")
    task_instances: list[TaskRow] = Field(default_factory=list, description="Full: the task instances (bounded).")
    findings: list[RunFinding] = Field(default_factory=list, description="Per failed try; the first failure first.")
    tries_total: int = Field(description="Failed tries found.")
    tries_diagnosed: int
    upstream_failed: list[UpstreamFailure] = Field(default_factory=list)
    spark_applications: list[SparkApplication] = Field(default_factory=list)
    import_errors: list[ImportErrorBrief] = Field(default_factory=list, description="Import errors of this DAG's file.")
    truncated: bool = Field(default=False, description="Something was cut: see notes.")
    notes: list[str] = Field(default_factory=list)
    more: str | None = None
