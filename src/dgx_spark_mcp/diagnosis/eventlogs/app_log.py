"""What one pass over an event log keeps: the :class:`AppLog` and its records.

Per task only a few integers are kept, in ``array('q')`` columns of the stage attempt
(8 bytes each), so a log of a million tasks costs tens of MB, not the log's size.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import Any

from ..reading.codecs import DecodeStats
from .files import EventLogSource

__all__ = ["AppLog", "EventAt", "ExecutorRun", "FailureGroup", "JobRun", "SqlRun", "StageRun"]

EventAt = tuple[str, int]
"""Where an event was read: the file's name (one of a rolling log's parts) and its 1-based line."""


@dataclass(slots=True)
class StageRun:
    """One attempt of one stage, with a column per task metric the analysis reads."""

    stage_id: int
    attempt: int
    name: str = ""
    num_tasks: int = 0
    parent_ids: tuple[int, ...] = ()
    submitted_ms: int | None = None
    completed_ms: int | None = None
    failure_reason: str | None = None
    task_ms: array[int] = field(default_factory=lambda: array("q"))
    """Per task: finish − launch (skew, what-if)."""
    launch_ms: array[int] = field(default_factory=lambda: array("q"))
    """Per task: its launch time (which tasks made the stage's first wave)."""
    shuffle_read: array[int] = field(default_factory=lambda: array("q"))
    """Per task: remote + local shuffle bytes read (skew)."""
    task_data: array[int] = field(default_factory=lambda: array("q"))
    """Per task: input + shuffle bytes read + shuffle bytes written, the data it handled (skew in any stage: a map
    stage with one huge input row writes far more than its peers)."""
    first_launch_ms: int | None = None
    last_finish_ms: int | None = None
    run_ms: int = 0
    gc_ms: int = 0
    cpu_ns: int = 0
    input_bytes: int = 0
    output_bytes: int = 0
    shuffle_write: int = 0
    memory_spilled: int = 0
    disk_spilled: int = 0
    peak_execution_memory: int | None = None
    failed_tasks: int = 0
    killed_tasks: int = 0
    resubmitted_tasks: int = 0
    """Task ends with reason Resubmitted: a finished map task whose output was lost with its executor and that is run
    again. Spark does not count them as failures (Resubmitted.countTowardsTaskFailures is false), nor do we."""


@dataclass(slots=True)
class JobRun:
    job_id: int
    submitted_ms: int | None
    stage_ids: tuple[int, ...]
    sql_execution_id: int | None
    completed_ms: int | None = None
    succeeded: bool | None = None
    failure: str | None = None
    end_at: EventAt | None = None
    """The JobEnd event's position."""


@dataclass(slots=True)
class ExecutorRun:
    executor_id: str
    host: str | None
    cores: int
    gpus: int
    added_ms: int | None
    removed_ms: int | None = None
    removed_reason: str | None = None
    spilled_bytes: int = 0


@dataclass(slots=True)
class SqlRun:
    execution_id: int
    description: str
    start_ms: int | None
    end_ms: int | None = None
    error: str | None = None
    plan: str = ""
    plan_chars: int = 0
    plan_nodes: int = 0
    gpu_plan_nodes: int = 0
    final_plan: bool = False
    single_partition: bool = False
    """The plan's details show an Exchange into a single partition (the outline leaves details out)."""
    plan_literals: dict[tuple[int, str], int] = field(default_factory=dict)
    """(operator id, name) -> literals of its longest INSET, from the formatted details the kept outline leaves out."""


@dataclass(slots=True)
class FailureGroup:
    """Task failures that share a reason, error class and (normalised) message."""

    reason: str
    error_class: str | None
    message: str
    example: str
    count: int = 0
    stage_ids: set[int] = field(default_factory=set)
    executor_ids: set[str] = field(default_factory=set)
    task_ids: list[int] = field(default_factory=list)
    """The first few tasks (TID) that failed this way."""
    first_at: EventAt | None = None
    last_at: EventAt | None = None
    """The TaskEnd events of the first and the last of them."""

    def seen_at(self, at: EventAt, task_id: int, keep: int) -> None:
        """One more failure of the group, at ``at``: the first ``keep`` task ids are kept."""
        if self.first_at is None:
            self.first_at = at
        self.last_at = at
        if len(self.task_ids) < keep:
            self.task_ids.append(task_id)


@dataclass
class AppLog:
    """Everything one pass over an event log keeps."""

    source: EventLogSource
    decode: list[DecodeStats] = field(default_factory=list)
    app_id: str | None = None
    app_name: str | None = None
    user: str | None = None
    attempt_id: str | None = None
    spark_version: str | None = None
    java_version: str | None = None
    start_ms: int | None = None
    end_ms: int | None = None
    first_seen_ms: int | None = None
    last_seen_ms: int | None = None
    properties: dict[str, str] = field(default_factory=dict)
    environment_seen: bool = False
    default_profile: dict[str, float] = field(default_factory=dict)
    """Executor resource requests of resource profile 0 (cores, memory in MiB, gpu)."""
    rapids_version: str | None = None
    stages: dict[tuple[int, int], StageRun] = field(default_factory=dict)
    stage_info: dict[int, tuple[str, int, tuple[int, ...]]] = field(default_factory=dict)
    """stage id -> (name, tasks, parent stage ids) for every stage a job listed, run or skipped."""
    jobs: dict[int, JobRun] = field(default_factory=dict)
    executors: dict[str, ExecutorRun] = field(default_factory=dict)
    sql: dict[int, SqlRun] = field(default_factory=dict)
    failures: dict[tuple[str, str | None, str], FailureGroup] = field(default_factory=dict)
    event_counts: dict[str, int] = field(default_factory=dict)
    lines: int = 0
    blank_lines: int = 0
    malformed_lines: int = 0
    malformed_examples: list[str] = field(default_factory=list)
    oversized_lines: int = 0
    unterminated_last_line: bool = False
    tasks: int = 0

    @property
    def events(self) -> int:
        return sum(self.event_counts.values())

    def seen(self, ms: Any) -> None:
        if isinstance(ms, int) and ms > 0:
            if self.last_seen_ms is None or ms > self.last_seen_ms:
                self.last_seen_ms = ms
            if self.first_seen_ms is None or ms < self.first_seen_ms:
                self.first_seen_ms = ms
