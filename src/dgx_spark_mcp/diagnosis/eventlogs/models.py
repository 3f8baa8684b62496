"""What ``analyze_event_log`` answers: one bounded, explained :class:`EventLogAnalysis`.

Units are in the field names (``_ms``, ``_bytes``, ``_share`` = a fraction 0..1).  A ratio
whose denominator is zero is None, never NaN or Infinity.  Lists are cut to ``limit`` items
(the most telling first) and say how many there were in all.

The summary (``detail="summary"``, :mod:`.eventlog_summary`) is the same model with sections left
empty: no reading statistics, properties, jobs, stage or SQL lists, executor list or references;
instead ``costliest_stages`` in brief, and ``more`` saying what the full answer adds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, PrivateAttr

from ...optimizers.models import ConfigChange

DEFAULT_LIMIT = 20
"""Jobs, stages, SQL executions, failure groups and executors listed unless the caller asks for more."""
SUMMARY_STAGES = 5
"""The longest stages a summary lists in brief."""

__all__ = [
    "model_notes",
    "DEFAULT_LIMIT",
    "SUMMARY_STAGES",
    "AppSummary",
    "CriticalPath",
    "DataVolumes",
    "EventLogAnalysis",
    "EventPosition",
    "ExecutorSummary",
    "Executors",
    "FailureSummary",
    "Finding",
    "GpuUsage",
    "JobSummary",
    "LogReading",
    "Severity",
    "SqlSummary",
    "StageCost",
    "StageSummary",
    "Totals",
    "WhatIf",
    "WhatIfPoint",
]

Severity = Literal["info", "warning", "error", "critical"]
Status = Literal["succeeded", "failed", "running"]


class LogReading(BaseModel):
    """How the file(s) were read."""

    path: str
    files: list[str] = Field(description="File names in reading order (several for a rolling eventlog_v2_* directory).")
    codecs: list[str] = Field(description="Codec of each file, detected from magic bytes and name.")
    rolling: bool
    compressed_bytes: int
    decompressed_bytes: int
    lines: int
    events: int = Field(description="Lines that were Spark events (parsed or counted by type).")
    malformed_lines: int = Field(description="Lines skipped because they were not valid JSON or not a readable event.")
    malformed_examples: list[str] = Field(description="Up to 5 of them: file, line number, why.")
    ignored_values: int = Field(
        default=0, description="Task metric values no run can have (negative, or above 2**53) that were left out; "
        "their tasks still count."
    )
    ignored_examples: list[str] = Field(default_factory=list, description="Up to 5 of them: file, line number, values.")
    oversized_lines: int = Field(description="Lines above 128 MiB, skipped without being held in memory.")
    last_line_cut: bool = Field(description="The (last) file stops in the middle of a line.")
    stream_complete: bool = Field(description="False when a compressed stream stops inside a frame or block.")
    event_counts: dict[str, int] = Field(description="Events by type (short names), the 25 most frequent.")


class GpuUsage(BaseModel):
    rapids_detected: bool = Field(
        description="The RAPIDS Accelerator was configured and active (plugin set, or Gpu* plan nodes)."
    )
    evidence: list[str] = Field(default_factory=list, description="Why it counts as a RAPIDS run (full answer only: "
                                "the rapids finding says it too).")
    rapids_version: str | None = Field(default=None, description="From the SparkRapidsBuildInfoEvent, when logged.")
    plan_nodes: int = Field(description="Physical-plan nodes over all SQL executions (final plans).")
    gpu_plan_nodes: int = Field(description="Of those, RAPIDS Gpu* operators.")
    executor_gpus: int = Field(description="GPUs assigned to executors, summed over executors.")


class AppSummary(BaseModel):
    app_id: str | None
    name: str | None
    user: str | None = None
    attempt_id: str | None = None
    spark_version: str | None
    java_version: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = Field(default=None, description="ApplicationEnd, or the last event's time when the log "
                                      "is incomplete.")
    duration_ms: int | None
    complete: bool = Field(description="The log ends with SparkListenerApplicationEnd.")
    completeness: str | None = Field(default=None, description="One sentence: complete, or why not and what that means "
                                     "for the results (a summary says it only when the log is incomplete).")
    in_progress: bool = Field(description="Spark marked the log as still being written (.inprogress).")
    master: str | None = None
    local_mode: bool
    streaming: bool = Field(description="Structured Streaming query events were logged.")
    gpu: GpuUsage
    properties: dict[str, str] = Field(
        default_factory=dict,
        description="Key Spark properties as set (executor/driver memory and cores, instances, shuffle partitions, "
        "maxPartitionBytes, AQE, serializer, dynamic allocation, RAPIDS keys); unset keys are absent."
    )


class DataVolumes(BaseModel):
    """Bytes a run (or one stage) moved, summed over its tasks."""

    input_bytes: int
    output_bytes: int
    shuffle_read_bytes: int
    shuffle_write_bytes: int
    memory_spilled_bytes: int
    disk_spilled_bytes: int


class Totals(DataVolumes):
    jobs: int
    failed_jobs: int
    stages: int = Field(description="Stage attempts that were submitted.")
    failed_stages: int
    skipped_stages: int = Field(description="Stages jobs listed that never ran (their output was reused).")
    tasks: int
    failed_tasks: int
    killed_tasks: int
    resubmitted_tasks: int = Field(default=0, description="Finished tasks run again because their map output was lost "
                                   "with an executor (reason Resubmitted); not failures.")
    task_time_ms: int = Field(description="Sum of task durations (launch to finish).")
    executor_run_time_ms: int
    executor_cpu_time_ms: int
    gc_time_ms: int
    gc_share: float | None = Field(description="JVM GC time / executor run time.")


class EventPosition(BaseModel):
    """Where an event is in the log."""

    file: str = Field(description="The file's name (a rolling log's part, or the log itself).")
    line: int = Field(description="1-based line of the event in that file.")


class JobSummary(BaseModel):
    job_id: int
    status: Status
    duration_ms: int | None
    stage_ids: list[int]
    sql_execution_id: int | None
    failure_reason: str | None
    # Positions are diagnose_log's evidence, left out of this model's output: a rolling log and the
    # same events in one file are one analysis.
    end_event: EventPosition | None = Field(default=None, exclude=True, description="The JobEnd event.")


class StageSummary(DataVolumes):
    stage_id: int
    attempt: int
    name: str
    status: Status
    tasks: int = Field(description="Tasks the stage was created with.")
    tasks_ended: int = Field(description="Task-end events seen (retries and speculative copies included).")
    failed_tasks: int
    killed_tasks: int
    resubmitted_tasks: int = Field(default=0, description="Finished tasks run again because their map output was lost "
                                   "with an executor (reason Resubmitted); not failures.")
    duration_ms: int | None = Field(description="Submission to completion (to the last task end when still running).")
    failure_reason: str | None
    executor_run_time_ms: int
    gc_share: float | None
    peak_execution_memory_bytes: int | None = Field(description="Largest per-task peak (not logged before Spark 3.0).")
    task_time_max_ms: int
    task_time_median_ms: int
    task_skew: float | None = Field(description="Longest / median task time (Sparklens TaskSkew); None when the median is 0.")
    shuffle_read_max_bytes: int
    shuffle_read_median_bytes: int
    shuffle_read_skew: float | None = Field(description="Largest task shuffle read / the stage's mean (AutoTuner's measure).")
    task_time_runner_up_ms: int = Field(default=0, description="The longest other task that started like the longest "
                                        "one (in the first wave, or after it).")
    longest_task_ended_last: bool = Field(default=False, description="The longest task was the last to finish: the "
                                          "stage waited for it.")
    task_data_max_bytes: int = Field(default=0, description="Most data one task handled: input + shuffle read + shuffle "
                                     "write bytes.")
    task_data_skew: float | None = Field(default=None, description="task_data_max_bytes / the stage's mean.")


class FailureSummary(BaseModel):
    """Task failures grouped by reason, error class and message (numbers and addresses blanked)."""

    category: str = Field(description="Finding category (log-signatures vocabulary): gpu_oom, executor_oom, fetch_failed, ...")
    reason: str = Field(
        description="Spark's Task End Reason: ExceptionFailure, ExecutorLostFailure, FetchFailed, TaskKilled, ..."
    )
    error_class: str | None
    message: str = Field(default="", description="The first occurrence's message (a summary leaves it to the finding "
                         "that quotes it).")
    count: int
    stage_ids: list[int]
    executor_ids: list[str]
    task_ids: list[int] = Field(default_factory=list, description="The first few failed tasks (TID).")
    # As JobSummary.end_event: diagnose_log's evidence, not part of this model's output.
    first_event: EventPosition | None = Field(default=None, exclude=True, description="The first failure's TaskEnd.")
    last_event: EventPosition | None = Field(default=None, exclude=True, description="The last failure's TaskEnd.")


class ExecutorSummary(BaseModel):
    executor_id: str
    host: str | None
    cores: int
    gpus: int
    added_time: datetime | None
    removed_time: datetime | None
    removed_reason: str | None
    spilled_bytes: int


class Executors(BaseModel):
    added: int = Field(description="Executors added (the driver counts in local mode only).")
    removed: int
    max_concurrent: int
    cores_per_executor: int | None
    listed: list[ExecutorSummary] = Field(default_factory=list, description="Removed executors first, then by id; cut "
                                          "to the limit (full answer only).")


class SqlSummary(BaseModel):
    execution_id: int
    description: str
    status: Status
    duration_ms: int | None
    error: str | None
    job_ids: list[int]
    plan: str = Field(description="The operator tree of the final physical plan (AQE's last update when there is one), "
                      "without the formatted plan's per-node details; cut to 1500 characters.")
    plan_truncated: bool
    plan_nodes: int
    gpu_plan_nodes: int
    _literals: dict[tuple[int, str], int] = PrivateAttr(default_factory=dict)
    _single_partition: bool = PrivateAttr(default=False)

    def funnels_into_one_partition(self) -> bool:
        """The plan's details show an Exchange into a single partition (read with the event; the outline drops them)."""
        return self._single_partition

    def inset_literals(self) -> dict[tuple[int, str], int]:
        """(operator id, name) -> literal values of its longest INSET: counted when the event was read, from the per-node
        details the kept outline leaves out (the plan rules judge a filter on a long IN list by it)."""
        return self._literals


class CriticalPath(BaseModel):
    critical_path_ms: int = Field(description="Driver time + per job group the longest chain of per-stage longest tasks: "
                                  "no executor count can beat it.")
    driver_ms: int = Field(description="Application time not covered by any job (driver-side work, scheduling gaps).")
    stage_ids: list[int] = Field(default_factory=list, description="The stages on that chain, in order (cut to 50; "
                                 "full answer only).")
    ideal_ms: int | None = Field(description="Driver time + total task time / observed slots (perfect parallelism).")


class WhatIfPoint(BaseModel):
    executors: int
    estimated_duration_ms: int
    utilization: float | None = Field(description="Task time / (estimated time × executors × cores).")


class WhatIf(BaseModel):
    observed_executors: int = Field(description="Most executors alive at once (1 in local mode: the driver's threads).")
    cores_per_executor: int
    cores_source: str | None = Field(default=None, description="Where the cores per executor came from.")
    observed_duration_ms: int | None
    simulated_observed_ms: int = Field(description="The model's time at the observed executor count.")
    model_error: float | None = Field(description="(simulated − observed) / observed at the observed count.")
    points: list[WhatIfPoint] = Field(description="One per executor count tried (a summary shows about half, the "
                                      "observed, double and five times the observed count).")
    method: str | None = Field(default=None, description="How the estimates are made (full answer only).")


class Finding(BaseModel):
    severity: Severity
    category: str = Field(description="Stable category (log-signatures vocabulary, or 'eventlog' for facts about the log).")
    rule_id: str
    message: str = Field(description="What was seen, with the figures, and what it means.")


class StageCost(BaseModel):
    """A stage in brief, as a summary lists the costliest."""

    stage_id: int
    attempt: int
    name: str
    status: Status
    duration_ms: int | None
    executor_run_time_ms: int
    task_skew: float | None = Field(description="Longest / median task time.")
    gc_share: float | None
    spilled_bytes: int = Field(description="Spilled from memory plus written to disk.")
    failure_reason: str | None = None


class EventLogAnalysis(BaseModel):
    """A Spark event log, read and explained."""

    source: str | None = Field(default=None, description="The History Server application the log was fetched from "
                               "(server/app-id[/attempt]); absent for a path.")
    reading: LogReading | None = Field(default=None, description="How the log was read (full answer only; the findings "
                                       "say what could not be read).")
    app: AppSummary
    totals: Totals
    jobs: list[JobSummary] = Field(default_factory=list, description="Failed jobs first, then the longest; cut to the limit.")
    jobs_total: int
    stages: list[StageSummary] = Field(default_factory=list, description="Failed stages first, then the longest; cut to "
                                       "the limit.")
    stages_total: int
    costliest_stages: list[StageCost] = Field(default_factory=list, description="Summary only: the longest stages, in "
                                              "brief.")
    task_failures: list[FailureSummary] = Field(default_factory=list, description="Most frequent first; cut to the limit.")
    task_failures_total: int = Field(description="Distinct failure groups.")
    executors: Executors
    sql: list[SqlSummary] = Field(default_factory=list, description="Failed executions first, then the longest; cut to "
                                  "the limit.")
    sql_total: int
    critical_path: CriticalPath | None = Field(description="None when no task ran.")
    what_if: WhatIf | None = Field(description="Sparklens-style executor-count estimates; None when no task ran.")
    recommendations: list[ConfigChange] = Field(
        default_factory=list, description="AutoTuner-style configuration changes, each with its reason and the id of its "
        "document in references."
    )
    references: dict[str, str] = Field(default_factory=dict, description="The recommendations' documents, each once: id "
                                       "(a recommendation's ref) -> document.")
    findings: list[Finding] = Field(default_factory=list, description="Most severe first.")
    notes: list[str] = Field(default_factory=list, description="What was cut and how to get more; caveats of the model.")
    history: str | None = Field(
        default=None, description="Whether the run was kept in the run history that estimate_resources calibrates from."
    )
    more: str | None = Field(default=None, description="What was left out and which call returns it.")
    # The longest stages of all (not only those listed), for a summary cut from this analysis; not part of the answer.
    _longest_stages: list[StageSummary] = PrivateAttr(default_factory=list)

    def longest_stages(self) -> list[StageSummary]:
        """The longest stages of the whole run, longest first (empty for an analysis read back from JSON)."""
        return self._longest_stages


def model_notes(what_if: WhatIf | None, local: bool) -> list[str]:
    """The what-if model's caveats: a summary keeps them."""
    notes = []
    if local and what_if is not None:
        notes.append(f"Local mode: one 'executor' in the what-if is the driver's {what_if.cores_per_executor} task "
                     "threads (local[N]); more executors means more threads of the same machine.")
    if what_if is not None and what_if.model_error is not None and abs(what_if.model_error) > 0.25:
        notes.append(f"The what-if model is off by {what_if.model_error:+.0%} at the observed executor count: "
                     "read its estimates as relative, not absolute.")
    return notes
