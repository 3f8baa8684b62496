"""The parts of an :class:`~.models.EventLogAnalysis` read straight off the :class:`~.app_log.AppLog`.

One function per part: the application, how the log was read, the totals, each job, stage and
SQL execution, the task-failure groups, the executors and their slots.  :mod:`.analysis` puts
them together with the what-if replay and the findings; :mod:`.summary` (``detail="summary"``)
cuts the result down afterwards.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from .app_log import AppLog, JobRun, SqlRun, StageRun
from .models import (
    AppSummary,
    EventPosition,
    Executors,
    ExecutorSummary,
    FailureSummary,
    GpuUsage,
    JobSummary,
    LogReading,
    SqlSummary,
    StageSummary,
    Totals,
)
from .reader import ReadLog
from .tuning import failure_category

__all__ = [
    "KEY_PROPERTIES", "PLAN_CHARS_MAX", "app_summary", "executor_slots", "executors_summary", "failure_summaries",
    "gpu_usage", "job_summary", "log_reading", "run_totals", "share", "sql_summary", "stage_summary", "worst_first",
]

PLAN_CHARS_MAX = 1_500

KEY_PROPERTIES = (
    "spark.master", "spark.submit.deployMode", "spark.executor.instances", "spark.executor.cores",
    "spark.executor.memory", "spark.executor.memoryOverhead", "spark.executor.memoryOverheadFactor",
    "spark.memory.offHeap.enabled", "spark.memory.offHeap.size", "spark.driver.memory", "spark.driver.cores",
    "spark.task.cpus", "spark.default.parallelism", "spark.sql.shuffle.partitions", "spark.sql.files.maxPartitionBytes",
    "spark.sql.adaptive.enabled", "spark.sql.adaptive.skewJoin.enabled", "spark.sql.adaptive.coalescePartitions.enabled",
    "spark.sql.autoBroadcastJoinThreshold", "spark.serializer", "spark.kryo.registrator",
    "spark.dynamicAllocation.enabled", "spark.dynamicAllocation.minExecutors", "spark.dynamicAllocation.maxExecutors",
    "spark.shuffle.service.enabled", "spark.speculation", "spark.locality.wait", "spark.plugins",
    "spark.executor.resource.gpu.amount", "spark.task.resource.gpu.amount", "spark.rapids.sql.enabled",
    "spark.rapids.sql.concurrentGpuTasks", "spark.rapids.memory.pinnedPool.size", "spark.rapids.memory.gpu.pool",
)
_STATUS_RANK = {"failed": 0, "running": 1, "succeeded": 2}
_SQL_PREFIX = "org.apache.spark.sql.execution.ui."
T = TypeVar("T", JobSummary, StageSummary, SqlSummary)


def _time(ms: int | None) -> datetime | None:
    if not ms:
        return None
    try:
        return datetime.fromtimestamp(ms / 1000, UTC)
    except (ValueError, OverflowError, OSError):  # a corrupt timestamp: say nothing rather than crash
        return None


def share(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole > 0 else None


def _ratio(top: float, base: float) -> float | None:
    return round(top / base, 2) if base > 0 else None


def _runner_up(run: StageRun) -> int:
    """The longest of the tasks that started like the longest one: in the stage's first wave (launched before any task
    finished, which may pay a fresh JVM's or Python worker's start-up), or after it."""
    times = run.task_ms
    if len(times) < 2:
        return 0
    if len(run.launch_ms) != len(times):
        return sorted(times)[-2]
    first_finish = min(launch + ms for launch, ms in zip(run.launch_ms, times, strict=True))
    wave = [launch < first_finish for launch in run.launch_ms]
    top = max(range(len(times)), key=times.__getitem__)
    return max((t for i, t in enumerate(times) if i != top and wave[i] == wave[top]), default=0)


def _longest_ended_last(run: StageRun) -> bool:
    if not run.task_ms or len(run.launch_ms) != len(run.task_ms):
        return False
    top = max(range(len(run.task_ms)), key=run.task_ms.__getitem__)
    return run.launch_ms[top] + run.task_ms[top] >= max(l + t for l, t in zip(run.launch_ms, run.task_ms, strict=True))


def _median(values: Sequence[int]) -> int:
    return int(statistics.median(values)) if values else 0


def _span(start: int | None, end: int | None) -> int | None:
    return max(0, end - start) if start is not None and end is not None else None


# ---- per-entity summaries -----------------------------------------------------------------------


def stage_summary(run: StageRun) -> StageSummary:
    status = "failed" if run.failure_reason else "succeeded" if run.completed_ms else "running"
    reads = run.shuffle_read
    shuffle_read = sum(reads)
    return StageSummary(
        stage_id=run.stage_id, attempt=run.attempt, name=run.name, status=status, tasks=run.num_tasks,
        tasks_ended=len(run.task_ms), failed_tasks=run.failed_tasks, killed_tasks=run.killed_tasks,
        resubmitted_tasks=run.resubmitted_tasks,
        duration_ms=_span(run.submitted_ms or run.first_launch_ms, run.completed_ms or run.last_finish_ms),
        failure_reason=run.failure_reason, input_bytes=run.input_bytes, output_bytes=run.output_bytes,
        shuffle_read_bytes=shuffle_read, shuffle_write_bytes=run.shuffle_write,
        memory_spilled_bytes=run.memory_spilled, disk_spilled_bytes=run.disk_spilled,
        executor_run_time_ms=run.run_ms, gc_share=share(run.gc_ms, run.run_ms),
        peak_execution_memory_bytes=run.peak_execution_memory,
        task_time_max_ms=max(run.task_ms, default=0), task_time_median_ms=_median(run.task_ms),
        task_skew=_ratio(max(run.task_ms, default=0), _median(run.task_ms)),
        shuffle_read_max_bytes=max(reads, default=0), shuffle_read_median_bytes=_median(reads),
        shuffle_read_skew=_ratio(max(reads, default=0), shuffle_read / len(reads)) if reads else None,
        task_time_runner_up_ms=_runner_up(run), longest_task_ended_last=_longest_ended_last(run),
        task_data_max_bytes=max(run.task_data, default=0),
        task_data_skew=_ratio(max(run.task_data), sum(run.task_data) / len(run.task_data)) if run.task_data else None,
    )


def job_summary(run: JobRun, last_seen: int | None) -> JobSummary:
    status = "running" if run.succeeded is None else "succeeded" if run.succeeded else "failed"
    return JobSummary(
        job_id=run.job_id, status=status, duration_ms=_span(run.submitted_ms, run.completed_ms or last_seen),
        stage_ids=list(run.stage_ids), sql_execution_id=run.sql_execution_id, failure_reason=run.failure,
        end_event=_position(run.end_at),
    )


def sql_summary(run: SqlRun, jobs: Iterable[JobRun], last_seen: int | None) -> SqlSummary:
    status = "failed" if run.error else "succeeded" if run.end_ms else "running"
    summary = SqlSummary(
        execution_id=run.execution_id, description=run.description, status=status,
        duration_ms=_span(run.start_ms, run.end_ms or last_seen), error=run.error,
        job_ids=sorted(j.job_id for j in jobs if j.sql_execution_id == run.execution_id),
        plan=run.plan[:PLAN_CHARS_MAX], plan_truncated=run.plan_chars > PLAN_CHARS_MAX,
        plan_nodes=run.plan_nodes, gpu_plan_nodes=run.gpu_plan_nodes,
    )
    summary._literals = run.plan_literals
    summary._single_partition = run.single_partition
    return summary


def _position(at: tuple[str, int] | None) -> EventPosition | None:
    return EventPosition(file=at[0], line=at[1]) if at else None


def worst_first(items: Sequence[T], limit: int) -> list[T]:
    """Failed first, then running, then the longest."""
    return sorted(items, key=lambda x: (_STATUS_RANK[x.status], -(x.duration_ms or 0)))[:limit]


# ---- executors and slots ------------------------------------------------------------------------


def executors_summary(app: AppLog, local: bool, limit: int) -> Executors:
    runs = [e for e in app.executors.values() if local or e.executor_id != "driver"]
    changes = sorted([(e.added_ms or 0, 1) for e in runs] + [(e.removed_ms, -1) for e in runs if e.removed_ms])
    alive = peak = 0
    for _, step in changes:
        alive += step
        peak = max(peak, alive)
    cores = Counter(e.cores for e in runs if e.cores > 0).most_common(1)
    listed = sorted(runs, key=lambda e: (e.removed_ms is None, e.executor_id.zfill(12)))[:limit]
    return Executors(
        added=len(runs), removed=sum(1 for e in runs if e.removed_ms), max_concurrent=peak,
        cores_per_executor=cores[0][0] if cores else None,
        listed=[
            ExecutorSummary(executor_id=e.executor_id, host=e.host, cores=e.cores, gpus=e.gpus, added_time=_time(e.added_ms),
                            removed_time=_time(e.removed_ms), removed_reason=e.removed_reason, spilled_bytes=e.spilled_bytes)
            for e in listed
        ],
    )


def _whole(text: str | None) -> int:
    """A property that should be a whole number (a Java int), else 0: "²".isdigit() is True, int("²") fails."""
    text = (text or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else 0


def executor_slots(app: AppLog, executors: Executors) -> tuple[int, int, str]:
    """(executors, cores per executor, where the cores came from) as the run had them."""
    props = app.properties
    count = executors.max_concurrent or _whole(props.get("spark.executor.instances")) or 1
    if executors.cores_per_executor:
        return count, executors.cores_per_executor, "Total Cores of the executors the log added"
    if set_cores := _whole(props.get("spark.executor.cores")):
        return count, set_cores, "spark.executor.cores"
    if app.default_profile.get("cores"):
        return count, int(app.default_profile["cores"]), "the default resource profile's executor cores"
    return count, 1, "unknown (no executor cores logged or set); 1 assumed"


# ---- the application ----------------------------------------------------------------------------


def gpu_usage(app: AppLog, sql: Iterable[SqlRun]) -> GpuUsage:
    props = app.properties
    evidence = []
    plugin = "com.nvidia.spark.SQLPlugin" in props.get("spark.plugins", "")
    enabled = props.get("spark.rapids.sql.enabled", "true").strip().lower() != "false"
    if plugin:
        evidence.append("spark.plugins includes com.nvidia.spark.SQLPlugin"
                        + ("" if enabled else ", but spark.rapids.sql.enabled=false"))
    nodes = sum(r.plan_nodes for r in sql)
    gpu_nodes = sum(r.gpu_plan_nodes for r in sql)
    if gpu_nodes:
        evidence.append(f"{gpu_nodes} of {nodes} physical-plan nodes are RAPIDS Gpu* operators")
    if app.rapids_version:
        evidence.append(f"SparkRapidsBuildInfoEvent: spark-rapids {app.rapids_version}")
    gpus = sum(e.gpus for e in app.executors.values())
    if gpus:
        evidence.append(f"executors were given {gpus} GPU(s)")
    return GpuUsage(
        rapids_detected=(plugin and enabled) or gpu_nodes > 0, evidence=evidence, rapids_version=app.rapids_version,
        plan_nodes=nodes, gpu_plan_nodes=gpu_nodes, executor_gpus=gpus,
    )


def _completeness(app: AppLog, stream_complete: bool) -> str:
    if app.end_ms is not None:
        return "The log ends with SparkListenerApplicationEnd: the application finished and the log is complete."
    if app.source.in_progress:
        why = "Spark marked this log as in progress: the application was still running when it was copied"
    elif app.unterminated_last_line or not stream_complete:
        why = "the log has no SparkListenerApplicationEnd and stops in the middle of a line: it was truncated"
    else:
        why = "the log has no SparkListenerApplicationEnd: the application crashed or was killed, or the log was truncated"
    return f"Partial results: {why}; everything below covers only the events written up to that point."


def app_summary(app: AppLog, gpu: GpuUsage, stream_complete: bool) -> AppSummary:
    master = app.properties.get("spark.master")
    local = master.startswith("local") if master else (app.app_id or "").startswith("local-")
    end = app.end_ms or app.last_seen_ms
    start = app.start_ms or app.first_seen_ms
    return AppSummary(
        app_id=app.app_id, name=app.app_name, user=app.user, attempt_id=app.attempt_id, spark_version=app.spark_version,
        java_version=app.java_version, start_time=_time(start), end_time=_time(end), duration_ms=_span(start, end),
        complete=app.end_ms is not None, completeness=_completeness(app, stream_complete),
        in_progress=app.source.in_progress, master=master, local_mode=local,
        streaming=any(name.startswith("org.apache.spark.sql.streaming.") for name in app.event_counts),
        gpu=gpu, properties={k: app.properties[k] for k in KEY_PROPERTIES if k in app.properties},
    )


def log_reading(app: ReadLog) -> LogReading:
    counts = Counter({name.removeprefix(_SQL_PREFIX): n for name, n in app.event_counts.items()})
    return LogReading(
        path=str(app.source.path), files=[p.name for p in app.source.files], codecs=[str(d.codec) for d in app.decode],
        rolling=app.source.rolling, compressed_bytes=sum(d.compressed_bytes for d in app.decode),
        decompressed_bytes=sum(d.decompressed_bytes for d in app.decode), lines=app.lines, events=app.events,
        malformed_lines=app.malformed_lines, malformed_examples=app.malformed_examples, oversized_lines=app.oversized_lines,
        ignored_values=app.ignored_values, ignored_examples=app.ignored_examples,
        last_line_cut=app.unterminated_last_line, stream_complete=all(d.complete for d in app.decode),
        event_counts=dict(counts.most_common(25)),
    )


def run_totals(app: AppLog, stages: Sequence[StageSummary], jobs: Sequence[JobSummary]) -> Totals:
    runs = app.stages.values()
    run_ms = sum(r.run_ms for r in runs)
    gc_ms = sum(r.gc_ms for r in runs)
    return Totals(
        jobs=len(jobs), failed_jobs=sum(j.status == "failed" for j in jobs), stages=len(stages),
        failed_stages=sum(s.status == "failed" for s in stages),
        skipped_stages=len(set(app.stage_info) - {r.stage_id for r in runs}),
        tasks=app.tasks, failed_tasks=sum(r.failed_tasks for r in runs), killed_tasks=sum(r.killed_tasks for r in runs),
        resubmitted_tasks=sum(r.resubmitted_tasks for r in runs),
        input_bytes=sum(r.input_bytes for r in runs), output_bytes=sum(r.output_bytes for r in runs),
        shuffle_read_bytes=sum(s.shuffle_read_bytes for s in stages), shuffle_write_bytes=sum(r.shuffle_write for r in runs),
        memory_spilled_bytes=sum(r.memory_spilled for r in runs), disk_spilled_bytes=sum(r.disk_spilled for r in runs),
        task_time_ms=sum(sum(r.task_ms) for r in runs), executor_run_time_ms=run_ms,
        executor_cpu_time_ms=sum(r.cpu_ns for r in runs) // 1_000_000, gc_time_ms=gc_ms, gc_share=share(gc_ms, run_ms),
    )


def failure_summaries(app: AppLog) -> list[FailureSummary]:
    groups = sorted(app.failures.values(), key=lambda g: -g.count)
    return [
        FailureSummary(
            category=failure_category(g.reason, g.error_class, g.example), reason=g.reason, error_class=g.error_class,
            message=g.example, count=g.count, stage_ids=sorted(g.stage_ids), executor_ids=sorted(g.executor_ids),
            task_ids=g.task_ids, first_event=_position(g.first_at), last_event=_position(g.last_at),
        )
        for g in groups
    ]
