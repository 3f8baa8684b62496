"""Turn an :class:`~.eventlog.AppLog` into the bounded :class:`~.eventlog_models.EventLogAnalysis`.

:func:`analyze_event_log` is the one function behind the ``analyze_event_log`` tool and the
``eventlog`` command: locate the files, read them in one pass, summarise jobs, stages, failures,
executors and SQL executions, replay the tasks for other executor counts (:mod:`.whatif`), and
add findings and recommendations (:mod:`.eventlog_tuning`).  Lists are cut to ``limit``; the
notes say what was cut and how to see it.  ``detail="summary"`` cuts the answer down to what an
agent reads first (:mod:`.eventlog_summary`).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, TypeVar

from ...errors import BadInputError
from ...settings import Settings
from ..findings.model import cite
from .app_log import AppLog, JobRun, SqlRun, StageRun
from .files import locate_event_log
from .models import (
    DEFAULT_LIMIT,
    SUMMARY_STAGES,
    AppSummary,
    CriticalPath,
    EventLogAnalysis,
    EventPosition,
    Executors,
    ExecutorSummary,
    FailureSummary,
    Finding,
    GpuUsage,
    JobSummary,
    LogReading,
    SqlSummary,
    StageSummary,
    Totals,
    WhatIf,
    WhatIfPoint,
    model_notes,
)
from .reader import ReadLog, read_event_log
from .tuning import TuningInput, failure_category, ladder_severity, thresholds, tune
from .whatif import (
    critical_path,
    default_executor_counts,
    driver_ms,
    sim_groups,
    simulate,
)

__all__ = ["DEFAULT_LIMIT", "PLAN_CHARS_MAX", "analyze_event_log"]

PLAN_CHARS_MAX = 1_500
MAX_LIMIT = 1000
MAX_WHATIF_COUNTS = 20
MAX_WHATIF_EXECUTORS = 100_000
"""The tool's schema leaves these bounds to this check (its message says what to give): they cost every agent tokens."""

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
_SEVERITY_RANK = {"critical": 0, "error": 1, "warning": 2, "info": 3}
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


def _share(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole > 0 else None


def _ratio(top: float, base: float) -> float | None:
    return round(top / base, 2) if base > 0 else None


def _median(values: Sequence[int]) -> int:
    return int(statistics.median(values)) if values else 0


def _span(start: int | None, end: int | None) -> int | None:
    return max(0, end - start) if start is not None and end is not None else None


# ---- per-entity summaries -----------------------------------------------------------------------


def _stage(run: StageRun) -> StageSummary:
    status = "failed" if run.failure_reason else "succeeded" if run.completed_ms else "running"
    reads = run.shuffle_read
    shuffle_read = sum(reads)
    return StageSummary(
        stage_id=run.stage_id, attempt=run.attempt, name=run.name, status=status, tasks=run.num_tasks,
        tasks_ended=len(run.task_ms), failed_tasks=run.failed_tasks, killed_tasks=run.killed_tasks,
        duration_ms=_span(run.submitted_ms or run.first_launch_ms, run.completed_ms or run.last_finish_ms),
        failure_reason=run.failure_reason, input_bytes=run.input_bytes, output_bytes=run.output_bytes,
        shuffle_read_bytes=shuffle_read, shuffle_write_bytes=run.shuffle_write,
        memory_spilled_bytes=run.memory_spilled, disk_spilled_bytes=run.disk_spilled,
        executor_run_time_ms=run.run_ms, gc_share=_share(run.gc_ms, run.run_ms),
        peak_execution_memory_bytes=run.peak_execution_memory,
        task_time_max_ms=max(run.task_ms, default=0), task_time_median_ms=_median(run.task_ms),
        task_skew=_ratio(max(run.task_ms, default=0), _median(run.task_ms)),
        shuffle_read_max_bytes=max(reads, default=0), shuffle_read_median_bytes=_median(reads),
        shuffle_read_skew=_ratio(max(reads, default=0), shuffle_read / len(reads)) if reads else None,
    )


def _job(run: JobRun, last_seen: int | None) -> JobSummary:
    status = "running" if run.succeeded is None else "succeeded" if run.succeeded else "failed"
    return JobSummary(
        job_id=run.job_id, status=status, duration_ms=_span(run.submitted_ms, run.completed_ms or last_seen),
        stage_ids=list(run.stage_ids), sql_execution_id=run.sql_execution_id, failure_reason=run.failure,
        end_event=_position(run.end_at),
    )


def _sql(run: SqlRun, jobs: Iterable[JobRun], last_seen: int | None) -> SqlSummary:
    status = "failed" if run.error else "succeeded" if run.end_ms else "running"
    return SqlSummary(
        execution_id=run.execution_id, description=run.description, status=status,
        duration_ms=_span(run.start_ms, run.end_ms or last_seen), error=run.error,
        job_ids=sorted(j.job_id for j in jobs if j.sql_execution_id == run.execution_id),
        plan=run.plan[:PLAN_CHARS_MAX], plan_truncated=run.plan_chars > PLAN_CHARS_MAX,
        plan_nodes=run.plan_nodes, gpu_plan_nodes=run.gpu_plan_nodes,
    )


def _position(at: tuple[str, int] | None) -> EventPosition | None:
    return EventPosition(file=at[0], line=at[1]) if at else None


def _worst_first(items: Sequence[T], limit: int) -> list[T]:
    """Failed first, then running, then the longest."""
    return sorted(items, key=lambda x: (_STATUS_RANK[x.status], -(x.duration_ms or 0)))[:limit]


# ---- executors and slots ------------------------------------------------------------------------


def _executors(app: AppLog, local: bool, limit: int) -> Executors:
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


def _slots(app: AppLog, executors: Executors) -> tuple[int, int, str]:
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


# ---- what-if ------------------------------------------------------------------------------------


def _what_if(
    app: AppLog, executors: Executors, duration: int | None, counts: Sequence[int] | None
) -> tuple[WhatIf, CriticalPath]:
    groups = sim_groups(app)
    driver = driver_ms(app, duration)
    observed, cores, source = _slots(app, executors)
    trial = sorted(set(counts)) if counts else default_executor_counts(observed, thresholds().whatif_percentages.value)
    task_ms = sum(sum(run.task_ms) for run in app.stages.values())
    points = []
    for n in trial:
        estimate = simulate(groups, driver, n, cores)
        points.append(WhatIfPoint(executors=n, estimated_duration_ms=estimate, utilization=_share(task_ms, estimate * n * cores)))
    at_observed = simulate(groups, driver, observed, cores)
    path_ms, path = critical_path(groups, driver)
    what_if = WhatIf(
        observed_executors=observed, cores_per_executor=cores, cores_source=source, observed_duration_ms=duration,
        simulated_observed_ms=at_observed,
        model_error=_share(at_observed - duration, duration) if duration else None,
        points=points,
        method=(
            "Sparklens-style replay: each stage's recorded task durations run through executors x cores slots "
            "(a min-heap of slot free times), stages in dependency order, jobs that overlapped in the real run "
            "replayed together, plus driver time (app time not covered by jobs). Task times are assumed not to "
            "depend on the executor count; memory is not modelled."
        ),
    )
    critical = CriticalPath(
        critical_path_ms=path_ms, driver_ms=driver, stage_ids=path[:50],
        ideal_ms=driver + task_ms // max(1, observed * cores),
    )
    return what_if, critical


# ---- the application ----------------------------------------------------------------------------


def _gpu(app: AppLog, sql: Iterable[SqlRun]) -> GpuUsage:
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


def _app(app: AppLog, gpu: GpuUsage, stream_complete: bool) -> AppSummary:
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


def _reading(app: ReadLog) -> LogReading:
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


def _totals(app: AppLog, stages: Sequence[StageSummary], jobs: Sequence[JobSummary]) -> Totals:
    runs = app.stages.values()
    run_ms = sum(r.run_ms for r in runs)
    gc_ms = sum(r.gc_ms for r in runs)
    return Totals(
        jobs=len(jobs), failed_jobs=sum(j.status == "failed" for j in jobs), stages=len(stages),
        failed_stages=sum(s.status == "failed" for s in stages),
        skipped_stages=len(set(app.stage_info) - {r.stage_id for r in runs}),
        tasks=app.tasks, failed_tasks=sum(r.failed_tasks for r in runs), killed_tasks=sum(r.killed_tasks for r in runs),
        input_bytes=sum(r.input_bytes for r in runs), output_bytes=sum(r.output_bytes for r in runs),
        shuffle_read_bytes=sum(s.shuffle_read_bytes for s in stages), shuffle_write_bytes=sum(r.shuffle_write for r in runs),
        memory_spilled_bytes=sum(r.memory_spilled for r in runs), disk_spilled_bytes=sum(r.disk_spilled for r in runs),
        task_time_ms=sum(sum(r.task_ms) for r in runs), executor_run_time_ms=run_ms,
        executor_cpu_time_ms=sum(r.cpu_ns for r in runs) // 1_000_000, gc_time_ms=gc_ms, gc_share=_share(gc_ms, run_ms),
    )


def _failures(app: AppLog) -> list[FailureSummary]:
    groups = sorted(app.failures.values(), key=lambda g: -g.count)
    return [
        FailureSummary(
            category=failure_category(g.reason, g.error_class, g.example), reason=g.reason, error_class=g.error_class,
            message=g.example, count=g.count, stage_ids=sorted(g.stage_ids), executor_ids=sorted(g.executor_ids),
            task_ids=g.task_ids, first_event=_position(g.first_at), last_event=_position(g.last_at),
        )
        for g in groups
    ]


def _log_findings(app: AppLog, reading: LogReading, summary: AppSummary, totals: Totals,
                  failures: Sequence[FailureSummary], executors: Executors) -> list[Finding]:
    found: list[Finding] = []

    def add(severity: str, category: str, rule_id: str, message: str) -> None:
        found.append(Finding(severity=severity, category=category, rule_id=rule_id, message=message))  # type: ignore[arg-type]

    if not summary.complete:
        add("info" if summary.in_progress else "warning", "eventlog", "eventlog.incomplete", summary.completeness)
    if reading.malformed_lines:
        add("warning", "eventlog", "eventlog.malformed-lines",
            f"{reading.malformed_lines} line(s) were not readable events and were skipped "
            f"(first: {reading.malformed_examples[0]})" + ("; the environment (Spark properties) was among them, so "
                                                           "recommendations cannot see the run's configuration"
                                                           if not app.environment_seen else ""))
    if reading.ignored_values:
        add("warning", "eventlog", "eventlog.impossible-values",
            f"{reading.ignored_values} task metric value(s) were impossible (negative, or above 2**53) and were left "
            f"out, so totals, spill and skew undercount them (first: {reading.ignored_examples[0]}); the log is "
            "corrupt or was edited")
    if totals.jobs == 0:
        add("info", "eventlog", "eventlog.no-jobs", "The application ran no jobs: there is nothing to tune or diagnose.")
    if totals.failed_jobs:
        first = next((j.failure for j in sorted(app.jobs.values(), key=lambda j: j.job_id) if j.failure), None)
        add("error", "job_aborted", "eventlog.failed-jobs",
            f"{totals.failed_jobs} of {totals.jobs} job(s) failed; first: {first}")
    rate = totals.failed_tasks / totals.tasks if totals.tasks else 0.0
    severity = ladder_severity(rate, thresholds().failure_rate_ladder.value)
    for failure in failures:
        level = "info" if failure.reason == "TaskKilled" else "error" if failure.category != "task_failure" else "warning"
        if severity in ("error", "critical") and level == "warning":
            level = "error"
        add(level, failure.category, f"eventlog.task-failure.{failure.category}",
            f"{failure.count} task(s) {'were killed' if failure.reason == 'TaskKilled' else 'failed'} in stage(s) "
            f"{failure.stage_ids}: {failure.error_class + ': ' if failure.error_class else ''}{failure.message}")
    benign = [marker.lower() for marker in thresholds().benign_executor_removals.value]
    lost = [e for e in executors.listed if e.removed_reason and not any(m in e.removed_reason.lower() for m in benign)]
    if executors.removed:
        reasons = Counter(e.removed_reason or "no reason given" for e in executors.listed if e.removed_time)
        add("warning" if lost else "info", "executor_lost", "eventlog.executors-removed",
            f"{executors.removed} executor(s) were removed; reasons: "
            + "; ".join(f"{reason} (x{n})" for reason, n in reasons.most_common(3)))
    if summary.streaming:
        add("info", "eventlog", "eventlog.streaming",
            "A Structured Streaming application: jobs are micro-batches, so the what-if replays batches back to back.")
    if summary.gpu.rapids_detected:
        add("info", "eventlog", "eventlog.rapids", "RAPIDS Accelerator run: " + "; ".join(summary.gpu.evidence) + ".")
    return found


def analyze_event_log(
    path: str | Path, settings: Settings, executor_counts: Sequence[int] | None = None, limit: int = DEFAULT_LIMIT,
    detail: Literal["summary", "full"] = "full",
) -> EventLogAnalysis:
    """Read the event log at ``path`` (a file in any Spark codec, or an eventlog_v2_* directory) and explain it."""
    analysis = _full_analysis(path, settings, executor_counts, limit)
    if detail == "summary":
        from .summary import event_log_summary

        return event_log_summary(analysis, limit, explicit_counts=executor_counts is not None)
    return analysis


def _full_analysis(
    path: str | Path, settings: Settings, executor_counts: Sequence[int] | None, limit: int
) -> EventLogAnalysis:
    if not 1 <= limit <= MAX_LIMIT:
        raise BadInputError(f"limit {limit} is out of range; give how many jobs, stages, ... to list, 1 to {MAX_LIMIT} "
                            f"(default {DEFAULT_LIMIT})")
    if executor_counts is not None and (len(executor_counts) > MAX_WHATIF_COUNTS
                                        or any(not 1 <= c <= MAX_WHATIF_EXECUTORS for c in executor_counts)):
        raise BadInputError(
            f"executor_counts {list(executor_counts)} must be at most {MAX_WHATIF_COUNTS} whole numbers from 1 to "
            f"{MAX_WHATIF_EXECUTORS:,}, e.g. [2, 4, 8]; omit it for Sparklens' 10%-500% of the observed count"
        )
    source = locate_event_log(path, settings)
    app = read_event_log(source)
    if app.events == 0:
        raise BadInputError(
            f"{str(path)!r} holds no Spark events ({app.lines} line(s), {app.malformed_lines} unreadable"
            + (f"; first: {app.malformed_examples[0]}" if app.malformed_examples else "")
            + "".join(f"; {file.name} as {stats.codec}: {stats.problem}"
                      for file, stats in zip(source.files, app.decode, strict=True) if stats.problem)
            + "). Give a Spark event log: the file Spark writes under spark.eventLog.dir."
        )
    reading = _reading(app)
    gpu = _gpu(app, app.sql.values())
    summary = _app(app, gpu, reading.stream_complete)
    stages = [_stage(run) for run in app.stages.values()]
    jobs = [_job(run, app.last_seen_ms) for run in app.jobs.values()]
    sql = [_sql(run, app.jobs.values(), app.last_seen_ms) for run in app.sql.values()]
    totals = _totals(app, stages, jobs)
    failures = _failures(app)
    executors = _executors(app, summary.local_mode, limit)
    what_if, critical = _what_if(app, executors, summary.duration_ms, executor_counts) if app.tasks else (None, None)
    slots = (what_if.observed_executors * what_if.cores_per_executor) if what_if else 1
    changes, metric_findings = tune(TuningInput(
        properties=app.properties, spark_version=app.spark_version, stages=stages, totals=totals, failures=failures,
        gpu_run=gpu.rapids_detected, slots=slots, executor_cores=executors.cores_per_executor,
        executors=executors.added, executors_spilling=sum(1 for e in app.executors.values() if e.spilled_bytes),
        local_mode=summary.local_mode,
    ))
    findings = _log_findings(app, reading, summary, totals, failures, executors) + metric_findings
    findings.sort(key=lambda f: _SEVERITY_RANK[f.severity])
    sizes = {"jobs": len(jobs), "stages": len(stages), "task failure groups": len(failures),
             "SQL executions": len(sql), "executors": executors.added}
    references: dict[str, str] = {}
    # The thresholds file names its documents: a recommendation points at that id (autotuner, spark-tuning, ...).
    known = {doc: ref for ref, doc in thresholds().references.items()}
    analysis = EventLogAnalysis(
        reading=reading, app=summary, totals=totals,
        jobs=_worst_first(jobs, limit), jobs_total=len(jobs),
        stages=_worst_first(stages, limit), stages_total=len(stages),
        task_failures=failures[:limit], task_failures_total=len(failures), executors=executors,
        sql=_worst_first(sql, limit), sql_total=len(sql),
        critical_path=critical, what_if=what_if, recommendations=cite(changes, references, known),
        references=references, findings=findings,
        notes=_cut_notes(limit, sizes, sql) + model_notes(what_if, summary.local_mode),
    )
    analysis._longest_stages = sorted(stages, key=lambda s: -(s.duration_ms or 0))[:SUMMARY_STAGES]
    return analysis


def _cut_notes(limit: int, sizes: dict[str, int], sql: Sequence[SqlSummary]) -> list[str]:
    notes = []
    cut = [f"{limit} of {n} {name}" for name, n in sizes.items() if n > limit]
    if cut:
        notes.append(f"Lists are cut to limit={limit} (failed first, then the longest): showing {', '.join(cut)}. "
                     "Call again with a larger limit to see more.")
    if any(s.plan_truncated for s in sql):
        notes.append(f"SQL plans are operator trees cut to {PLAN_CHARS_MAX} characters (plan_truncated marks them); "
                     "give the full plan to analyze_query_plan for more.")
    return notes
