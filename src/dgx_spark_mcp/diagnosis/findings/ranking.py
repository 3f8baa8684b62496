"""The order of a diagnosis's findings, and the bounds on how many and how much each carries.

Most likely root cause first: by severity, then the rule's priority, then where it was
first seen.  Wrappers (job aborted, Py4J, Airflow task failed) become info next to a cause,
and one rule seen in several places is one finding with several pieces of evidence.
"""

from __future__ import annotations

from .model import DiagnosisFinding
from .signatures import signatures

__all__ = ["DEFAULT_LIMIT", "EVIDENCE_LINES", "MAX_EVIDENCE", "MAX_LIMIT", "SEVERITY_ORDER", "rank"]

DEFAULT_LIMIT = 20
"""Findings returned when the caller gives no limit."""
MAX_LIMIT = 1000
"""Findings returned at most (and asked of an event log's analysis)."""
EVIDENCE_LINES = 8
"""Lines quoted per piece of evidence."""
MAX_EVIDENCE = 6
"""Pieces of evidence kept per finding when the same rule matched in several places."""

SEVERITY_ORDER = {"critical": 0, "error": 1, "warning": 2, "info": 3}


def rank(findings: list[tuple[int, int, DiagnosisFinding]]) -> list[DiagnosisFinding]:
    """Most likely root cause first; wrappers (job aborted, Py4J, Airflow task failed) become info next to a cause."""
    registry = signatures()
    wrapper_ids = {s.id for s in registry.signatures if s.wrapper}
    has_cause = any(f.rule_id not in wrapper_ids and f.severity in ("error", "critical") for _, _, f in findings)
    if has_cause:
        findings = [(p, o, f.model_copy(update={"severity": "info"}) if f.rule_id in wrapper_ids else f)
                    for p, o, f in findings]
    findings.sort(key=lambda item: (SEVERITY_ORDER[item[2].severity], item[0], item[1]))
    return _merge_same_rule([f for _, _, f in findings])


def _merge_same_rule(findings: list[DiagnosisFinding]) -> list[DiagnosisFinding]:
    """One finding per rule: the same error seen as a log line and again inside a wrapper's
    stack trace (Py4J, job aborted) is one cause with two pieces of evidence.  A fallback's title
    names the exception, so two different exceptions no signature knows stay two findings."""
    merged: dict[tuple[str, str, str], DiagnosisFinding] = {}
    for finding in findings:
        key = (finding.rule_id, finding.category, finding.title)
        first = merged.get(key)
        if first is None:
            merged[key] = finding.model_copy(update={"evidence": list(finding.evidence)})
        else:
            first.evidence.extend(finding.evidence[: max(0, MAX_EVIDENCE - len(first.evidence))])
    return list(merged.values())

