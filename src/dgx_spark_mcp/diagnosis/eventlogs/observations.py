"""The findings an event log gives about itself and its run: the ``eventlog.*`` rule ids.

Whether the log is complete and readable (cut off or still being written, malformed lines,
impossible metric values), a run with no jobs, failed jobs, task-failure groups, removed
executors, streaming and RAPIDS runs.  The findings from the metrics (spill, skew, GC, ...)
and their recommendations come from :mod:`.tuning`; :mod:`.analysis` puts both lists together.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from .app_log import AppLog
from .models import AppSummary, Executors, FailureSummary, Finding, LogReading, Totals
from .tuning import ladder_severity, thresholds

__all__ = ["log_findings"]


def log_findings(app: AppLog, reading: LogReading, summary: AppSummary, totals: Totals,
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
