"""diagnose_log's summary: the top findings, the fix, and what could not be read — cut from the full result.

The full result is what the context store keeps, so a stored result answers a summary as well as
a full call.  The summary leaves out the reading statistics (codec, bytes and lines read, the
nested log's size), the content hash and the references; ``unreadable`` stays when something
could not be read, because then the findings cover only part of the log.
"""

from __future__ import annotations

from ..findings.brief import SUMMARY_FINDINGS, brief_findings, evidence_cut
from .result import DiagnoseResult, Unreadable

__all__ = ["diagnose_summary"]


def _something_unreadable(u: Unreadable | None) -> bool:
    return u is not None and bool(u.non_utf8_lines or u.oversized_lines or u.last_line_cut or not u.stream_complete
                                  or u.problem or not u.log_complete)


def _more(full: DiagnoseResult, shown: int, limit: int, evidence_trimmed: bool) -> str:
    adds = []
    left = len(full.findings) - shown
    if left:
        adds.append(f"{left} more finding(s)")
    if evidence_trimmed:
        adds.append("every evidence line")
    adds.append("the reading statistics")
    if full.references:
        adds.append("the fixes' references")
    sentence = f"detail='full' adds {', '.join(adds)}"
    if full.findings_total > len(full.findings):
        sentence += f"; {full.findings_total - len(full.findings)} finding(s) beyond limit={limit} need a larger limit"
    return sentence + "."


def diagnose_summary(full: DiagnoseResult, limit: int) -> DiagnoseResult:
    """The summary of a full diagnosis (``limit`` as the full call had it)."""
    source = None if full.source == "<text>" else full.source
    findings = brief_findings(full.findings, source, limit)
    return DiagnoseResult(
        source=full.source, kind=full.kind, kind_detected=full.kind_detected,
        unreadable=full.unreadable if _something_unreadable(full.unreadable) else None,
        findings=findings, findings_total=full.findings_total, hardware=full.hardware, from_store=full.from_store,
        notes=full.notes,
        more=_more(full, len(findings), limit, evidence_cut(full.findings[:SUMMARY_FINDINGS], findings)),
    )
