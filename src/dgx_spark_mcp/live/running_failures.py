"""Failed task attempts of a running application, grouped by reason, each with what to do.

A failed attempt's ``errorMessage`` is a whole stack trace; the reason shown is its telling line
(the Python error at the end of a UDF traceback), grouped with numbers blanked so a thousand failures
of one cause are one group.  The category and the fix come from the log signatures the log diagnosis
uses (``data/log-signatures.json``), so an error reads the same live and in a log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .running_models import FailureGroup, StatusFinding

__all__ = ["FailedStage", "failure_groups"]

LISTED = (3, 10)
"""Failure groups listed: summary, full."""
REASON_CHARS = 160
EXAMPLES = 3
GENERIC_FIX = "read the failed task's executor log (its stack trace) for the cause; the task is retried up to " \
              "spark.task.maxFailures times before the job fails"


@dataclass
class FailedStage:
    """A stage whose task attempts failed: active (retrying), or failed itself."""

    stage: int
    tasks: list[dict[str, Any]]
    stage_failed: bool = False
    in_running_job: bool = True
    failure_reason: str | None = None


@dataclass
class _Group:
    reason: str
    category: str
    fix: str
    count: int = 0
    retried: set[int] = field(default_factory=set)
    """Active stages whose attempts failed (the task is retried)."""
    failed_now: set[int] = field(default_factory=set)
    """Failed stages of running jobs."""
    failed_before: set[int] = field(default_factory=set)
    """Failed stages of jobs no longer running."""
    tasks: list[int] = field(default_factory=list)
    executors: set[str] = field(default_factory=set)

    @property
    def stages(self) -> set[int]:
        return self.retried | self.failed_now | self.failed_before

    def state(self) -> str:
        parts = [f"{label} {', '.join(str(s) for s in sorted(ids)[:5])}" + (f" (+{len(ids) - 5})" if len(ids) > 5 else "")
                 for label, ids in (("failed stage(s) of running jobs:", self.failed_now),
                                    ("retried in stage(s)", self.retried),
                                    ("failed stage(s) of earlier jobs:", self.failed_before)) if ids]
        return "; ".join(parts)


def _reason(text: str) -> str:
    from ..diagnosis.reading.failure_text import exception_message, short_class

    message = exception_message(text)
    if " … " in message:  # a Python traceback: the wrapper's class and the Python error
        return f"{short_class(message)}: {message.rsplit(' … ', 1)[1]}"[:REASON_CHARS]
    return message[:REASON_CHARS]


def _classify(text: str) -> tuple[str, str]:
    from ..diagnosis.eventlogs.tuning import failure_category
    from ..diagnosis.findings.signatures import signatures

    matched = signatures().match(text)
    if matched is not None:
        return matched[0].category, matched[0].fix.summary
    return failure_category(text.split("\n", 1)[0], None, text), GENERIC_FIX


def failure_groups(stages: list[FailedStage], *, full: bool) -> tuple[list[FailureGroup], int, list[StatusFinding]]:
    """Groups (most attempts first), the number of failed attempts read, and one finding per group listed."""
    from ..diagnosis.reading.failure_text import message_key

    groups: dict[str, _Group] = {}
    read = 0
    for stage in stages:
        texts = [(str(t.get("errorMessage") or ""), t) for t in stage.tasks
                 if str(t.get("status", "FAILED")).upper() == "FAILED"]
        if not texts and stage.failure_reason:
            texts = [(stage.failure_reason, {})]
        for text, task in texts:
            if not text:
                continue
            read += 1
            reason = _reason(text)
            key = message_key(reason)
            group = groups.get(key)
            if group is None:
                category, fix = _classify(text)
                group = groups[key] = _Group(reason=reason, category=category, fix=fix)
            group.count += 1
            (group.failed_now if stage.stage_failed and stage.in_running_job else
             group.failed_before if stage.stage_failed else group.retried).add(stage.stage)
            if "taskId" in task and len(group.tasks) < EXAMPLES:
                group.tasks.append(int(task["taskId"]))
            if task.get("executorId"):
                group.executors.add(str(task["executorId"]))
    ordered = sorted(groups.values(), key=lambda g: (not g.failed_now, -g.count))
    listed = ordered[: LISTED[1] if full else LISTED[0]]
    findings = [StatusFinding(
        severity="error" if g.failed_now else "warning", category=g.category, stage=min(g.stages),
        executors=sorted(g.executors)[:3], what=f"{g.count} task attempt(s) failed ({g.state()}): {g.reason}", fix=g.fix)
        for g in listed]
    result = [FailureGroup(reason=g.reason, category=g.category, count=g.count, stages=sorted(g.stages)[:10],
                           tasks=g.tasks if full else [], executors=sorted(g.executors)[:3]) for g in listed]
    return result, read, findings
