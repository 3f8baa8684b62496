"""Turn an :class:`~.app_log.AppLog` into the bounded :class:`~.models.EventLogAnalysis`.

:func:`analyze_event_log` is the one function behind the ``analyze_event_log`` tool and the
``eventlog`` command: locate the files, read them in one pass, summarise jobs, stages, failures,
executors and SQL executions, replay the tasks for other executor counts (:mod:`.whatif`), and
add findings and recommendations (:mod:`.tuning`).  Lists are cut to ``limit``; the
notes say what was cut and how to see it.  ``detail="summary"`` cuts the answer down to what an
agent reads first (:mod:`.summary`).

The parts read straight off the log are built in :mod:`.summaries`, the log's own findings in
:mod:`.observations`; this module checks the arguments, runs the what-if and assembles the answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from ...errors import BadInputError
from ...settings import Settings
from ..findings.model import cite
from .app_log import AppLog
from .files import locate_event_log
from .models import (
    DEFAULT_LIMIT,
    SUMMARY_STAGES,
    CriticalPath,
    EventLogAnalysis,
    Executors,
    SqlSummary,
    WhatIf,
    WhatIfPoint,
    model_notes,
)
from .observations import log_findings
from .reader import read_event_log
from .summaries import (
    PLAN_CHARS_MAX,
    app_summary,
    executor_slots,
    executors_summary,
    failure_summaries,
    gpu_usage,
    job_summary,
    log_reading,
    run_totals,
    share,
    sql_summary,
    stage_summary,
    worst_first,
)
from .tuning import TuningInput, thresholds, tune
from .whatif import (
    critical_path,
    default_executor_counts,
    driver_ms,
    sim_groups,
    simulate,
)

__all__ = ["DEFAULT_LIMIT", "PLAN_CHARS_MAX", "analyze_event_log"]

MAX_LIMIT = 1000
MAX_WHATIF_COUNTS = 20
MAX_WHATIF_EXECUTORS = 100_000
"""The tool's schema leaves these bounds to this check (its message says what to give): they cost every agent tokens."""
_SEVERITY_RANK = {"critical": 0, "error": 1, "warning": 2, "info": 3}


# ---- what-if ------------------------------------------------------------------------------------


def _what_if(
    app: AppLog, executors: Executors, duration: int | None, counts: Sequence[int] | None
) -> tuple[WhatIf, CriticalPath]:
    groups = sim_groups(app)
    driver = driver_ms(app, duration)
    observed, cores, source = executor_slots(app, executors)
    trial = sorted(set(counts)) if counts else default_executor_counts(observed, thresholds().whatif_percentages.value)
    task_ms = sum(sum(run.task_ms) for run in app.stages.values())
    points = []
    for n in trial:
        estimate = simulate(groups, driver, n, cores)
        points.append(WhatIfPoint(executors=n, estimated_duration_ms=estimate, utilization=share(task_ms, estimate * n * cores)))
    at_observed = simulate(groups, driver, observed, cores)
    path_ms, path = critical_path(groups, driver)
    what_if = WhatIf(
        observed_executors=observed, cores_per_executor=cores, cores_source=source, observed_duration_ms=duration,
        simulated_observed_ms=at_observed,
        model_error=share(at_observed - duration, duration) if duration else None,
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
    reading = log_reading(app)
    gpu = gpu_usage(app, app.sql.values())
    summary = app_summary(app, gpu, reading.stream_complete)
    stages = [stage_summary(run) for run in app.stages.values()]
    jobs = [job_summary(run, app.last_seen_ms) for run in app.jobs.values()]
    sql = [sql_summary(run, app.jobs.values(), app.last_seen_ms) for run in app.sql.values()]
    totals = run_totals(app, stages, jobs)
    failures = failure_summaries(app)
    executors = executors_summary(app, summary.local_mode, limit)
    what_if, critical = _what_if(app, executors, summary.duration_ms, executor_counts) if app.tasks else (None, None)
    slots = (what_if.observed_executors * what_if.cores_per_executor) if what_if else 1
    changes, metric_findings = tune(TuningInput(
        properties=app.properties, spark_version=app.spark_version, stages=stages, totals=totals, failures=failures,
        gpu_run=gpu.rapids_detected, slots=slots, executor_cores=executors.cores_per_executor,
        executors=executors.added, executors_spilling=sum(1 for e in app.executors.values() if e.spilled_bytes),
        local_mode=summary.local_mode,
    ))
    findings = log_findings(app, reading, summary, totals, failures, executors) + metric_findings
    findings.sort(key=lambda f: _SEVERITY_RANK[f.severity])
    sizes = {"jobs": len(jobs), "stages": len(stages), "task failure groups": len(failures),
             "SQL executions": len(sql), "executors": executors.added}
    references: dict[str, str] = {}
    # The thresholds file names its documents: a recommendation points at that id (autotuner, spark-tuning, ...).
    known = {doc: ref for ref, doc in thresholds().references.items()}
    analysis = EventLogAnalysis(
        reading=reading, app=summary, totals=totals,
        jobs=worst_first(jobs, limit), jobs_total=len(jobs),
        stages=worst_first(stages, limit), stages_total=len(stages),
        task_failures=failures[:limit], task_failures_total=len(failures), executors=executors,
        sql=worst_first(sql, limit), sql_total=len(sql),
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
