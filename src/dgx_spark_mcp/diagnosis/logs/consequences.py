"""What a cause led to: the Spark job it aborted, the executors it took down, said as findings of their own.

A task's exception is often logged inside the job abort it caused (``Job aborted due to stage failure: ...
most recent failure: Lost task ...: java.lang.OutOfMemoryError``): one record, classified by its innermost
cause, with the abort kept as wrapper evidence.  Whether the job failed, or a task failed and its retry
succeeded, is a fact of its own for whoever reads the answer, so an abort seen only as a wrapper is also
reported as a ``job_aborted`` finding (information next to its cause, as :func:`..findings.ranking.rank` makes
every wrapper once a cause is found), pointing at the abort's line.  An abort logged on its own line is
already a finding of its own.  Likewise an executor lost to a cause that a stronger signature names (``Lost
executor 6 on host: Container killed by YARN for exceeding memory limits``) is reported as ``executor_lost``
next to that cause, with the executors it names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..findings.model import DiagnosisFinding, Evidence, Fix
from ..findings.signatures import signatures
from ..reading.failure_text import first_line
from .groups import Group

__all__ = ["aborted_jobs", "lost_executors"]

_LOST = re.compile(r"Lost executor (\S+) on|ExecutorLostFailure \(executor (\S+) ")


def aborted_jobs(groups: Iterable[Group], source: str | None) -> list[tuple[int, int, DiagnosisFinding]]:
    """(priority, line, finding) of the job abort that wrapped a cause, when no group is that abort itself."""
    registry = signatures()
    groups = list(groups)
    if any(g.category == "job_aborted" for g in groups):
        return []
    quoted = [(n, text, registry.by_id(rule_id), g) for g in groups for rule_id, (n, text) in g.wrappers.items()
              if registry.by_id(rule_id).category == "job_aborted"]
    if not quoted:
        return []
    n, text, rule, cause = min(quoted, key=lambda q: q[0])
    cause_rule = cause.signature.title if cause.signature else first_line(cause.cause[1], 120)
    finding = DiagnosisFinding(
        category="job_aborted", rule_id=rule.id, severity=rule.severity, title=rule.title,
        root_cause=(f"The Spark job did not finish: its failed task was not retried to success, so the job was aborted "
                    f"(the cause: {cause_rule}). Seen: {first_line(text, 300)}"),
        evidence=[Evidence(file=source, line_numbers=[n], lines=[first_line(text, 1_000)], role="wrapper",
                           occurrences=len({q[0] for q in quoted}))],
        fix=Fix(summary="Fix the cause it failed of (the finding above); the job then runs to its end.", changes=[]),
    )
    return [(rule.priority, n, finding)]


def lost_executors(groups: Iterable[Group], source: str | None) -> list[tuple[int, int, DiagnosisFinding]]:
    """(priority, line, finding) of the executors lost to another finding's cause, when no group is an executor loss."""
    groups = list(groups)
    if any(g.category == "executor_lost" for g in groups):
        return []
    lost: dict[str, tuple[int, str, Group]] = {}
    for g in groups:
        for n, text in (g.header, g.cause):
            for match in _LOST.finditer(text):
                lost.setdefault(match.group(1) or match.group(2), (n, text, g))
    if not lost:
        return []
    rule = signatures().by_id("EXECUTOR_LOST")
    n, text, cause = min(lost.values(), key=lambda item: item[0])
    cause_rule = cause.signature.title if cause.signature else first_line(cause.cause[1], 120)
    # Repeats of one message are one group (its first line quoted): they count by the group's occurrences.
    times = sum(g.occurrences for g in {id(g): g for _, _, g in lost.values()}.values())
    names = ", ".join(sorted(lost)[:10])
    which = f"executor {names} first" if len(lost) == 1 else f"among them executors {names}"
    finding = DiagnosisFinding(
        category="executor_lost", rule_id=rule.id, severity="info", title=rule.title,
        root_cause=(f"Executors were lost {times} time(s), {which} (the cause: {cause_rule}). "
                    f"Seen: {first_line(text, 300)}"),
        evidence=[Evidence(file=source, line_numbers=[n], lines=[first_line(text, 1_000)], role="context",
                           occurrences=times)],
        fix=Fix(summary="Fix the cause they were lost to (the finding above).", changes=[]),
    )
    return [(rule.priority, n, finding)]
