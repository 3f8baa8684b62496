"""What spark_app_status answers: a running application's progress, its figures, and what is wrong with it.

Kept apart from the code that fills it so the tool, the CLI and the benchmark import one small set of
models.  Times are seconds and sizes MiB, rounded to three significant figures: an agent reads the
magnitude, not the millisecond.  Every optional field has an empty default, so the compact answer
(:mod:`dgx_spark_mcp.tools.answers`) leaves out what a running application does not have.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

__all__ = [
    "ActiveJob", "ActiveStage", "AppInfo", "AppStatus", "ExecutorStatus", "Executors", "FailureGroup", "RunningQuery",
    "Severity", "StatusFinding", "Straggler",
]

Severity = Literal["info", "warning", "error", "critical"]


class AppInfo(BaseModel):
    ref: str = Field(description="server/app-id[/attempt]: pass it as app to ask again.")
    name: str
    server: str = Field(description="'local-PORT' for a driver UI on this machine, else the configured server's name.")
    spark_version: str | None = None
    user: str | None = None
    running_s: float | None = Field(default=None, description="Since the application started.")
    as_of: str | None = Field(default=None, description="A History Server's last update of this (incomplete) "
                              "application: its figures are as of then.")


class StatusFinding(BaseModel):
    severity: Severity
    category: str = Field(description="straggler, data_skew, task_failure, executor_lost, gc_pressure, "
                          "memory_pressure, spill, waiting, or a plan category (python_udf, cartesian_product, ...).")
    what: str = Field(description="What is wrong, with the figures.")
    fix: str = Field(description="What to do.")
    stage: int | None = None
    also_stages: list[int] = Field(default_factory=list, description="Other stages with the same finding (the first "
                                   "5, full: 10; what says how many).")
    sql: int | None = Field(default=None, description="The SQL execution id, for plan findings.")
    executors: list[str] = Field(default_factory=list, description="The executors it names (the first 3).")


class Straggler(BaseModel):
    task: int = Field(description="Task id.")
    partition: int | None = None
    executor: str | None = None
    host: str | None = Field(default=None, description="Full answer.")
    running_s: float
    x_median: float | None = Field(default=None, description="Running time / the median finished task's duration.")


class ActiveStage(BaseModel):
    stage: int
    attempt: int = 0
    name: str
    jobs: list[int] = Field(default_factory=list, description="Its running jobs (full answer).")
    tasks_done: int
    tasks_total: int
    running: int = Field(description="Tasks running now.")
    failed: int = Field(default=0, description="Task attempts failed in this stage so far.")
    running_s: float | None = Field(default=None, description="Since the stage was submitted.")
    task_s: list[float] = Field(default_factory=list, description="Finished tasks' duration, seconds, at the 5/25/50/"
                                "75/95/100% quantiles (taskSummary).")
    shuffle_read_mib: list[float] = Field(default_factory=list, description="Finished tasks' shuffle read, MiB, at "
                                          "the same quantiles (when the largest read 1 MiB or more).")
    skew: dict[str, float] = Field(default_factory=dict, description="max/median: 'duration' (running tasks "
                                   "included), 'shuffle_read'.")
    gc_share: float | None = Field(default=None, description="JVM GC time / run time of the finished tasks.")
    spill_mib: float | None = Field(default=None, description="Memory spilled by the finished tasks.")
    stragglers: list[Straggler] = Field(default_factory=list, description="Running tasks far longer than the median.")
    stragglers_total: int = 0
    note: str | None = Field(default=None, description="What could not be read for this stage.")


class ActiveJob(BaseModel):
    job: int
    name: str
    stages: list[int] = Field(default_factory=list, description="Its active stages.")
    tasks_done: int
    tasks_total: int = Field(description="Tasks of all its stages (a stage Spark will skip counts until the job ends).")
    failed: int = 0
    running_s: float | None = None


class ExecutorStatus(BaseModel):
    id: str
    host: str | None = None
    active: bool = True
    cores: int | None = None
    running: int = 0
    failed: int = 0
    done: int = 0
    gc_share: float | None = Field(default=None, description="GC time / task time.")
    memory_mib: list[float] = Field(default_factory=list, description="[storage memory used, its maximum].")
    peak_heap_mib: float | None = Field(default=None, description="Peak JVM heap (full answer).")
    removed: str | None = Field(default=None, description="Why it was removed (dead executors).")


class Executors(BaseModel):
    active: int
    dead: int = 0
    cores: int = 0
    running: int = Field(default=0, description="Tasks running now.")
    failed: int = Field(default=0, description="Task attempts failed on them since the application started.")
    gc_share: float | None = Field(default=None, description="All executors: GC time / task time.")
    listed: list[ExecutorStatus] = Field(default_factory=list, description="The ones findings name first, then the "
                                         "most failed tasks and the highest GC share.")


class FailureGroup(BaseModel):
    reason: str = Field(description="The error, its most telling line.")
    category: str = Field(description="Diagnosis category, e.g. executor_oom, fetch_failed, task_failure.")
    count: int = Field(description="Failed task attempts read with this reason.")
    stages: list[int] = Field(default_factory=list)
    tasks: list[int] = Field(default_factory=list, description="A few of their task ids (full answer).")
    executors: list[str] = Field(default_factory=list)


class RunningQuery(BaseModel):
    sql: int = Field(description="SQL execution id.")
    description: str
    running_s: float | None = None
    jobs: list[int] = Field(default_factory=list, description="Its running jobs.")
    jobs_done: int = Field(default=0, description="Its jobs finished so far.")
    plan: str | None = Field(default=None, description="The plan at a glance.")
    findings: list[str] = Field(default_factory=list, description="Plan rule ids that matched (see findings).")


class AppStatus(BaseModel):
    headline: str = Field(description="The state in one sentence.")
    app: AppInfo | None = Field(default=None, description="None: no application is running (headline says where it "
                                "looked).")
    findings: list[StatusFinding] = Field(default_factory=list, description="Most important first.")
    findings_total: int = 0
    jobs: list[ActiveJob] = Field(default_factory=list, description="Active jobs, longest running first.")
    jobs_total: int = 0
    stages: list[ActiveStage] = Field(default_factory=list, description="Active stages, the ones with findings first.")
    stages_total: int = 0
    executors: Executors | None = None
    failures: list[FailureGroup] = Field(default_factory=list, description="Failed task attempts by reason.")
    failures_total: int = Field(default=0, description="Failed task attempts read (the executors' count is in "
                                "executors.failed).")
    sql: list[RunningQuery] = Field(default_factory=list, description="SQL executions in progress.")
    sql_total: int = 0
    running_apps: list[str] = Field(default_factory=list, description="With no application: the incomplete ones on "
                                    "the configured History Servers, as references.")
    missing: list[str] = Field(default_factory=list, description="What could not be read (deadline, errors); the "
                               "rest of the answer stands.")
    more: str | None = Field(default=None, description="What was cut and which call returns it.")
