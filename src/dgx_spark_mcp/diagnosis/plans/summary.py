"""analyze_query_plan's summary: the plan at a glance and what to change, without the operator tree.

Cut from the full analysis: the counts (operators, joins by type, exchanges, accelerated
operators), AQE's state, the result estimate and the first scans; the findings briefly
(:mod:`.finding_brief`: the node that shows the problem, the fix without its document).  The
operator tree, the join/exchange lists, every estimate, the references and (for SQL) Spark's own
EXPLAIN output are in the full answer (``detail="full"``, the tree a page at a time); ``more`` says so.
"""

from __future__ import annotations

from ..findings.brief import SUMMARY_FINDINGS, brief_findings
from .models import PlanAnalysis

__all__ = ["plan_summary"]

SUMMARY_SCANS = 5


def _more(full: PlanAnalysis, shown_findings: int) -> str:
    s = full.summary
    adds = ["the operator tree"] + [name for name, listed in (("the joins", s.joins), ("the exchanges", s.exchanges),
                                                              ("every estimate", s.estimates)) if listed]
    if len(s.scans) > SUMMARY_SCANS:
        adds.append("more scans")
    if len(full.findings) > shown_findings:
        adds.append(f"{len(full.findings) - shown_findings} more finding(s)")
    if full.references:
        adds.append("the fixes' references")
    if full.explained_plan:
        adds.append("Spark's EXPLAIN output")
    return f"detail='full' adds {', '.join(adds)}."


def plan_summary(full: PlanAnalysis) -> PlanAnalysis:
    """The summary of a full analysis (its first page)."""
    findings = brief_findings(full.findings, full.file, SUMMARY_FINDINGS)
    summary = full.summary.model_copy(update={"joins": [], "exchanges": [], "scans": full.summary.scans[:SUMMARY_SCANS],
                                              "estimates": []})
    return PlanAnalysis(source=full.source, file=full.file, form=full.form, summary=summary, findings=findings,
                        notes=full.notes, more=_more(full, len(findings)))
