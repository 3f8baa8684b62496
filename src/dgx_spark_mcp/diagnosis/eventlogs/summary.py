"""analyze_event_log's summary: what failed and why, what the run spent its time on, what to change.

Cut from the full analysis (which the run history keeps first), so both answers come from the
same figures.  The summary keeps the app in brief, the totals, the top findings, the top failure
groups, the longest stages in brief (:class:`~.eventlog_models.StageCost`), the critical path and
the what-if without their lists, and the top recommendations without their documents.  It
leaves out the reading statistics, the properties, the job, stage, SQL and executor lists and the
references; ``more`` says which call returns them.  The findings keep their order: the summary's
first is the full answer's.
"""

from __future__ import annotations

from .models import (
    AppSummary,
    EventLogAnalysis,
    Executors,
    FailureSummary,
    Finding,
    StageCost,
    StageSummary,
    WhatIf,
    WhatIfPoint,
    model_notes,
)

__all__ = ["event_log_summary"]

SUMMARY_FINDINGS = 5
SUMMARY_FAILURES = 3
SUMMARY_RECOMMENDATIONS = 5
WHAT_IF_SHARES = (0.5, 1, 2, 5)
"""The executor counts a summary's what-if shows, as shares of the observed count."""
MESSAGE_CHARS = 400
REASON_CHARS = 160
"""A failed stage's reason is clipped: the failed-jobs finding quotes the failure in full."""


def _clip(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


def _cost(s: StageSummary) -> StageCost:
    return StageCost(stage_id=s.stage_id, attempt=s.attempt, name=s.name, status=s.status, duration_ms=s.duration_ms,
                     executor_run_time_ms=s.executor_run_time_ms, task_skew=s.task_skew, gc_share=s.gc_share,
                     spilled_bytes=s.memory_spilled_bytes + s.disk_spilled_bytes,
                     failure_reason=_clip(s.failure_reason, REASON_CHARS) if s.failure_reason else None)


def _app(app: AppSummary) -> AppSummary:
    return AppSummary(
        app_id=app.app_id, name=app.name, spark_version=app.spark_version, duration_ms=app.duration_ms,
        complete=app.complete, completeness=None if app.complete else app.completeness, in_progress=app.in_progress,
        local_mode=app.local_mode, streaming=app.streaming, gpu=app.gpu.model_copy(update={"evidence": []}),
    )


def _points(what_if: WhatIf, explicit: bool) -> list[WhatIfPoint]:
    """The counts the caller asked for, else the points nearest half, once, twice and five times the observed count."""
    points = what_if.points
    if explicit or len(points) <= len(WHAT_IF_SHARES):
        return points
    wanted = {min(points, key=lambda p: abs(p.executors - share * what_if.observed_executors)).executors
              for share in WHAT_IF_SHARES}
    return [p for p in points if p.executors in wanted]


def _failures(groups: list[FailureSummary], findings: list[Finding]) -> list[FailureSummary]:
    """The top groups; a message a shown finding quotes already is not said twice."""
    said = [f.message for f in findings]
    return [g.model_copy(update={"message": ""}) if g.message and any(g.message in m for m in said) else g
            for g in groups[:SUMMARY_FAILURES]]


def _more(full: EventLogAnalysis, brief: EventLogAnalysis) -> str:
    adds = ["the reading"] + (["properties"] if full.app.properties else [])
    adds += [name for name, listed in (("jobs", full.jobs), ("stages", full.stages), ("SQL plans", full.sql),
                                       ("executors", full.executors.listed)) if listed]
    if full.what_if is not None and brief.what_if is not None and len(full.what_if.points) > len(brief.what_if.points):
        adds.append("every what-if point")
    if full.critical_path is not None and full.critical_path.stage_ids:
        adds.append("the critical path's stages")
    if full.references:
        adds.append("references")
    adds += [f"{len(listed) - len(shown)} more {name}"
             for name, shown, listed in (("findings", brief.findings, full.findings),
                                         ("failure groups", brief.task_failures, full.task_failures),
                                         ("recommendations", brief.recommendations, full.recommendations))
             if len(listed) > len(shown)]
    sentence = f"detail='full' adds {', '.join(adds)}"
    cut = [name for name, total, listed in (("jobs", full.jobs_total, full.jobs), ("stages", full.stages_total, full.stages),
                                            ("SQL executions", full.sql_total, full.sql),
                                            ("failure groups", full.task_failures_total, full.task_failures),
                                            ("executors", full.executors.added, full.executors.listed))
           if total > len(listed)]
    if cut:
        sentence += f"; a larger limit lists more {', '.join(cut)}"
    return sentence + "."


def event_log_summary(full: EventLogAnalysis, limit: int, explicit_counts: bool = False) -> EventLogAnalysis:
    """The summary of a full analysis; ``explicit_counts``: the caller chose the what-if's executor counts."""
    findings = [f.model_copy(update={"message": _clip(f.message, MESSAGE_CHARS)})
                for f in full.findings[: min(limit, SUMMARY_FINDINGS)]]
    what_if = None
    if full.what_if is not None:
        what_if = full.what_if.model_copy(update={"points": _points(full.what_if, explicit_counts), "method": None,
                                                  "cores_source": None})
    critical = full.critical_path.model_copy(update={"stage_ids": []}) if full.critical_path is not None else None
    brief = EventLogAnalysis(
        app=_app(full.app), totals=full.totals, jobs_total=full.jobs_total, stages_total=full.stages_total,
        costliest_stages=[_cost(s) for s in full.longest_stages()],
        task_failures=_failures(full.task_failures[:limit], findings), task_failures_total=full.task_failures_total,
        executors=Executors(added=full.executors.added, removed=full.executors.removed,
                            max_concurrent=full.executors.max_concurrent,
                            cores_per_executor=full.executors.cores_per_executor),
        sql_total=full.sql_total, critical_path=critical, what_if=what_if,
        recommendations=[c.model_copy(update={"ref": None, "reference": None})
                         for c in full.recommendations[: min(limit, SUMMARY_RECOMMENDATIONS)]],
        findings=findings, notes=model_notes(full.what_if, full.app.local_mode), history=full.history,
    )
    brief.more = _more(full, brief)
    return brief
