"""diagnose_log's findings of a Spark event log, from :func:`.eventlog_analysis.analyze_event_log`.

The analysis's task failures become findings (by the signature their message matches, else
the task fallback); a failed job whose message quotes a cause of its own is a finding too,
and the other failed jobs become wrapper evidence of the failure they failed of.  The
analysis's other findings join when their category is not covered already; its facts about
the log itself (incomplete, malformed lines) become notes.  Evidence points at events: file,
line, stage, task and job ids.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ...settings import Settings
from ..findings.fixes import Sizing, signature_fix
from ..findings.model import DiagnosisFinding, Evidence, Fix
from ..findings.ranking import (
    EVIDENCE_LINES,
    MAX_EVIDENCE,
    MAX_LIMIT,
    SEVERITY_ORDER,
    rank,
)
from ..findings.signatures import categories, signatures
from ..reading.failure_text import first_line, message_key, short_class

__all__ = ["event_log_findings", "pasted_event_log_findings"]

IDS_KEPT = 10
"""Job, stage and task ids kept per piece of evidence."""

_ERROR_CLASS = re.compile(r"\[([A-Z][A-Z0-9_]+(?:\.[A-Z0-9_]+)*)\]")
_KILLED_OR_UNCOMMITTED = ("TaskKilled", "TaskCommitDenied", "TaskResultLost")


def _event_file(path: Path, at: Any) -> str:
    """The file an event is in: the log itself, or the part of a rolling log's directory that holds it."""
    return str(path / at.file) if at is not None and path.is_dir() else str(path)


def _failure_evidence(path: Path, failure: Any, said: str) -> Evidence:
    """A group of task failures, pointed at: the first TaskEnd's line, the last one's, stages and task ids."""
    first, last = failure.first_event, failure.last_event
    return Evidence(
        file=_event_file(path, first), line_numbers=[first.line] if first else [], lines=[first_line(said, 1_000)],
        occurrences=failure.count, first_line=first.line if first else None,
        last_line=last.line if last is not None and first is not None and last.file == first.file else None,
        template=message_key(first_line(said)), stage_ids=failure.stage_ids[:IDS_KEPT], task_ids=failure.task_ids[:IDS_KEPT],
    )


def _task_failure_finding(failure: Any, path: Path, sizing: Sizing | None) -> tuple[int, DiagnosisFinding]:
    """(priority, finding) of one group of task failures: its signature's, or the task fallback's."""
    registry = signatures()
    said = f"{failure.error_class}: {failure.message}" if failure.error_class else failure.message
    hit = registry.match(said, wrappers=False)
    # A generic task failure takes the category of any signature its message matches (a query's error class, say).
    signature = hit[0] if hit and (hit[0].category in (failure.category, "executor_oom")
                                   or failure.category == "task_failure") else None
    if signature is None and failure.reason in _KILLED_OR_UNCOMMITTED:
        signature = registry.by_id("OTHER_TASK")
    evidence = [_failure_evidence(path, failure, said)]
    counted = (f"{failure.count} task failure(s) ({failure.reason}) in stage(s) "
               f"{', '.join(map(str, failure.stage_ids[:IDS_KEPT]))}: {_python_first(said)}")
    if signature is not None:
        category = signature.category if failure.category == "task_failure" else failure.category
        return signature.priority, DiagnosisFinding(
            category=category, rule_id=signature.id, severity=signature.severity, title=signature.title,
            root_cause=f"{signature.root_cause} {counted}", evidence=evidence,
            fix=signature_fix(signature, category, {}, sizing))
    if failure.reason == "ExceptionFailure":
        rule = registry.fallback("TASK_EXCEPTION")
        return rule.priority, DiagnosisFinding(
            category=failure.category, rule_id=rule.id, severity=rule.severity,
            title=rule.title.format(exception=short_class(said)), root_cause=f"{rule.root_cause} {counted}",
            evidence=evidence, fix=Fix(summary=rule.fix.summary))
    return 80, DiagnosisFinding(
        category=failure.category, rule_id=f"EVENTLOG_{failure.reason.upper()}", severity="error",
        title=categories().title(failure.category), root_cause=f"Tasks failed. {counted}", evidence=evidence)


def _python_first(said: str) -> str:
    """A Python worker's failure led by the Python error that ended its traceback (what the user's code raised), then
    the JVM exception that carried it: cut to one line, the error would otherwise fall off the end."""
    head, sep, raised = said.rpartition(" … ")
    if sep and "Traceback" in head:
        return f"{first_line(raised, 300)} (carried by {first_line(head, 160)})"
    return first_line(said, 400)


def _jobs_evidence(path: Path, jobs: list[Any], role: str) -> Evidence:
    """Failed jobs as one piece of evidence: their JobEnd lines, job and stage ids."""
    shown = jobs[:EVIDENCE_LINES]
    first = shown[0].end_event
    one_file = all(j.end_event is not None and first is not None and j.end_event.file == first.file for j in shown)
    return Evidence(
        file=_event_file(path, first), line_numbers=[j.end_event.line for j in shown] if one_file else [],
        lines=[first_line(f"Job {j.job_id} failed: {j.failure_reason or 'no reason logged'}", 1_000) for j in shown],
        occurrences=len(jobs), first_line=min(j.end_event.line for j in shown) if one_file else None,
        last_line=max(j.end_event.line for j in shown) if one_file else None, job_ids=[j.job_id for j in jobs][:IDS_KEPT],
        stage_ids=sorted({s for j in jobs for s in j.stage_ids})[:IDS_KEPT], role=role,  # type: ignore[arg-type]
        note=None if one_file else "the JobEnd events are in several parts of the rolling log",
    )


def event_log_findings(path: Path, settings: Settings, sizing: Sizing | None) -> tuple[list[DiagnosisFinding], Any, list[str]]:
    """Findings of an event log, the analysis behind them, and its facts about the log itself (as notes)."""
    from .analysis import analyze_event_log

    analysis = analyze_event_log(path, settings, limit=MAX_LIMIT)
    registry = signatures()
    vocabulary = categories()
    ranked: list[tuple[int, int, DiagnosisFinding]] = []
    for order, failure in enumerate(analysis.task_failures):
        priority, finding = _task_failure_finding(failure, path, sizing)
        ranked.append((priority, order, finding))
    # Killed tasks (info) do not cover a category: the job's own failure message may name the real cause.
    covered = {f.category for _, _, f in ranked if f.severity in ("error", "critical")}
    wrapped: list[Any] = []
    for order, job in enumerate(sorted((j for j in analysis.jobs if j.status == "failed"), key=lambda j: j.job_id)):
        hit = registry.match(job.failure_reason or "", wrappers=False)
        if hit is None or hit[0].category in covered:
            wrapped.append(job)
            continue
        # The job's failure message quotes the cause (maxResultSize is a job-level abort, not a task failure).
        signature = hit[0]
        covered.add(signature.category)
        ranked.append((signature.priority, len(ranked) + order, DiagnosisFinding(
            category=signature.category, rule_id=signature.id, severity=signature.severity, title=signature.title,
            root_cause=f"{signature.root_cause} Job {job.job_id} failed: {first_line(job.failure_reason, 400)}",
            evidence=[_jobs_evidence(path, [job], "cause")],
            fix=signature_fix(signature, signature.category, hit[1].groupdict(), sizing),
        )))
    failures = {(f.rule_id, f.category, f.title) for _, _, f in ranked}
    notes: list[str] = []
    for order, finding in enumerate(analysis.findings):
        if finding.category == "eventlog":
            notes.append(finding.message)  # a fact about the log (incomplete, malformed lines, ...), not about the run
            continue
        if finding.rule_id == "eventlog.failed-jobs" or finding.rule_id.startswith("eventlog.task-failure."):
            continue  # said above, from the same jobs and task failures, with their positions
        if finding.category not in vocabulary.names() or finding.category in covered:
            continue
        covered.add(finding.category)
        ranked.append((70, len(ranked) + order, DiagnosisFinding(
            category=finding.category, rule_id=finding.rule_id, severity=finding.severity,
            title=vocabulary.title(finding.category), root_cause=finding.message,
            evidence=[Evidence(file=str(path), lines=[first_line(finding.message, 1_000)], role="context")],
        )))
    ranked += _failed_sql_findings(analysis, path, covered, len(ranked))
    ranked += _slow_findings(analysis, path, covered, len(ranked))
    ranked += [(90, len(ranked) + i, f) for i, f in enumerate(_event_log_plan_findings(analysis, path, covered))]
    return _with_failed_jobs(rank(ranked), failures, wrapped, path), analysis, notes


def _failed_sql_findings(analysis: Any, path: Path, covered: set[str], start: int
                         ) -> list[tuple[int, int, DiagnosisFinding]]:
    """SQL executions that ended with an error (Spark 3.4+ records it on the execution's end event): the
    category of the cause the message names (a missing table, a broadcast timeout, ...), else a failed query.
    An analysis error runs no job, so this is the only trace such a failure leaves in the event log."""
    registry = signatures()
    found: list[tuple[int, int, DiagnosisFinding]] = []
    for sql in analysis.sql:
        if not sql.error:
            continue
        hit = registry.match(sql.error, wrappers=False)
        # An error on the execution's end event with no task failure quoted in it was raised in the driver.
        on_driver = hit is not None and hit[0].driver_category is not None and "Lost task" not in sql.error
        category = (hit[0].driver_category if on_driver else hit[0].category) if hit else "query_failed"
        if category in covered:
            continue
        covered.add(category)
        what = f"SQL execution {sql.execution_id} ({first_line(sql.description, 80)}) failed: {first_line(sql.error, 400)}"
        evidence = [Evidence(file=str(path), lines=[first_line(sql.error, 1_000)], role="cause")]
        if hit is not None:
            signature = hit[0]
            finding = DiagnosisFinding(category=category, rule_id=signature.id, severity=signature.severity,
                                       title=signature.title, root_cause=f"{signature.root_cause} {what}",
                                       evidence=evidence, fix=signature_fix(signature, category, hit[1].groupdict(), None))
            found.append((signature.priority, start + len(found), finding))
            continue
        found.append((85, start + len(found), DiagnosisFinding(
            category=category, rule_id="eventlog.sql-failed", severity="error",
            title=f"SQL query failed: {_error_name(sql.error)}", root_cause=what, evidence=evidence,
            fix=Fix(summary="Read the error class and message: fix the query or its input (a missing path, a bad "
                    "cast, a divide by zero under ANSI mode), then run it again."))))
    return found


def _error_name(message: str) -> str:
    """Spark's error class (``[DIVIDE_BY_ZERO]``) when the message carries one, else the exception's short class."""
    error_class = _ERROR_CLASS.search(message)
    return error_class.group(1) if error_class else short_class(message)


def _slow_findings(analysis: Any, path: Path, covered: set[str], start: int) -> list[tuple[int, int, DiagnosisFinding]]:
    """Where a run's time went wrong (skew, stragglers, one-task stages, GC, spill), after every failure."""
    from .slowness import slow_stage_findings
    from .tuning import thresholds

    vocabulary = categories()
    found: list[tuple[int, int, DiagnosisFinding]] = []
    for category, rule_id, message in slow_stage_findings(analysis, thresholds()):
        if category in covered:
            continue
        covered.add(category)
        found.append((65, start + len(found), DiagnosisFinding(
            category=category, rule_id=rule_id, severity="warning", title=vocabulary.title(category),
            root_cause=message[0].upper() + message[1:] + ".",
            evidence=[Evidence(file=str(path), lines=[first_line(message, 1_000)], role="cause")])))
    return found


def _with_failed_jobs(findings: list[DiagnosisFinding], failures: set[tuple[str, str, str]], jobs: list[Any],
                      path: Path) -> list[DiagnosisFinding]:
    """The failed jobs as wrapper evidence of the failures they failed of: of the failure seen in one of
    their stages, else of the most likely one.  With no failure to carry them, the abort is the finding."""
    if not jobs:
        return findings
    carriers = [f for f in findings if (f.rule_id, f.category, f.title) in failures and f.severity in ("error", "critical")]
    if not carriers:
        aborted = signatures().by_id("JOB_ABORTED")
        finding = DiagnosisFinding(
            category=aborted.category, rule_id=aborted.id, severity=aborted.severity, title=aborted.title,
            root_cause=f"{aborted.root_cause} {len(jobs)} job(s) failed; first: {first_line(jobs[0].failure_reason, 400)}",
            evidence=[_jobs_evidence(path, jobs, "cause")], fix=Fix(summary=aborted.fix.summary))
        at = next((i for i, f in enumerate(findings) if SEVERITY_ORDER[f.severity] > SEVERITY_ORDER[aborted.severity]),
                  len(findings))
        return [*findings[:at], finding, *findings[at:]]
    carried: dict[int, list[Any]] = {}
    for job in jobs:
        carrier = next((i for i, f in enumerate(carriers) if set(job.stage_ids) & set(f.evidence[0].stage_ids)), 0)
        carried.setdefault(carrier, []).append(job)
    for i, mine in carried.items():
        finding = carriers[i]
        evidence = _jobs_evidence(path, mine, "wrapper")
        finding.evidence = [*finding.evidence[: MAX_EVIDENCE - 1], evidence]
        ids = ", ".join(str(j.job_id) for j in mine[:IDS_KEPT])
        finding.root_cause = (f"{finding.root_cause.rstrip(' .:')}. It failed {len(mine)} job(s): "
                              f"job {ids}{', ...' if len(mine) > IDS_KEPT else ''}.")
    return findings


def pasted_event_log_findings(data: bytes, settings: Settings,
                               sizing: Sizing | None) -> tuple[list[DiagnosisFinding], Any, list[str]]:
    """Pasted event-log lines go through the same file reader: written to a private temporary
    file under the data dir, read with that directory as the only allowed root, then deleted."""
    import tempfile

    settings.home.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pasted-eventlog-", dir=settings.home) as folder:
        path = Path(folder) / "eventlog"
        path.write_bytes(data)
        private = settings.model_copy(update={"allowed_roots": [Path(folder).resolve()]})
        findings, analysis, notes = event_log_findings(path, private, sizing)
    for finding in findings:
        for evidence in finding.evidence:
            evidence.file = None  # the temporary file is gone; the evidence is the pasted text
    return findings, analysis, [note.replace(str(path), "<text>") for note in notes]


def _place_literals(plan: Any, literals: dict[tuple[int, str], int]) -> None:
    """Give the outline's nodes the INSET sizes read from the details it lacks: by operator id and name, else
    (AQE renumbers the operators of its final plan) on the first operator of that name."""
    for (node_id, name), count in literals.items():
        node = next((n for n in plan.nodes if n.id == node_id and n.operator == name), None) or next(
            (n for n in plan.nodes if n.operator == name), None)
        if node is not None:
            node.literals = max(node.literals, count)


def _event_log_plan_findings(analysis: Any, path: Path, covered: set[str]) -> list[DiagnosisFinding]:
    """What the SQL executions' final plans show (a Python UDF, a cartesian product, ...), once per category.

    They rank after every failure: a plan shape explains slowness, not why a job failed.
    """
    from ...errors import BadInputError
    from ..plans.findings import find_plan_issues
    from ..plans.parser import parse_plan

    by_category: dict[str, DiagnosisFinding] = {}
    for sql in analysis.sql:
        if not sql.plan.strip():
            continue
        try:
            plan = parse_plan(sql.plan)
        except BadInputError:
            continue  # an operator tree cut short is not a plan to judge
        _place_literals(plan, sql.inset_literals())
        for finding in find_plan_issues(plan, str(path)):
            if finding.category in covered:
                continue
            seen = by_category.get(finding.category)
            if seen is None:
                finding.root_cause = f"SQL execution {sql.execution_id}: {finding.root_cause}"
                by_category[finding.category] = finding
            elif seen.evidence:
                seen.evidence[0].occurrences += 1
    return list(by_category.values())

