"""Findings as a summary shows them: the cause and its fix, the evidence cut to what shows the cause.

diagnose_log and analyze_query_plan answer ``detail="summary"`` with their top findings through
:func:`brief_findings`.  A finding keeps its category, rule, severity, title, root cause and fix
(without the documents: those are in the full answer's references); its evidence keeps

- the cause: the last lines quoted (the innermost exception, a Python UDF's frame and error;
  the header line before them only repeats the stage and task ids), with their line numbers,
  how often it repeated and where first and last;
- one wrapper (Py4JJavaError, job aborted, Airflow's task failure), its first line clipped,
  and how many more there were; a wrapper whose line the cause quotes already is not said again;
- context lines only when nothing else points at the log, and never when they just repeat the
  root cause.

The order of the findings never changes: the summary's first finding is the full answer's.
"""

from __future__ import annotations

from .model import DiagnosisFinding, Evidence

__all__ = ["SUMMARY_FINDINGS", "brief_findings", "evidence_cut"]

SUMMARY_FINDINGS = 5
"""Findings a summary shows at most."""
CAUSE_LINES = 2
CAUSE_PIECES = 2
LINE_CHARS = 300
WRAPPER_CHARS = 160
IDS = 5


def _clip(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


_NOT_A_CAUSE = ("Traceback (most recent call last):",)
"""Lines quoted for their position in a trace, which say nothing of the cause themselves."""


def _common(e: Evidence, source: str | None) -> dict[str, object]:
    """What every kept piece loses: the file when it is the answer's own, the template, long id lists, and a
    first and last line that are the line itself."""
    once = e.occurrences == 1
    return {"file": None if e.file == source else e.file, "template": None, "job_ids": e.job_ids[:IDS],
            "stage_ids": e.stage_ids[:IDS], "task_ids": e.task_ids[:IDS],
            "first_line": None if once else e.first_line, "last_line": None if once else e.last_line}


def _cause(e: Evidence, source: str | None) -> Evidence:
    numbered = len(e.line_numbers) >= len(e.lines)  # numbered line by line: keep the numbers of the lines kept
    pairs = list(zip(e.line_numbers if numbered else [0] * len(e.lines), e.lines, strict=False))
    pairs = [(n, line) for n, line in pairs if line.strip() not in _NOT_A_CAUSE][-CAUSE_LINES:] or pairs[-CAUSE_LINES:]
    return e.model_copy(update={
        **_common(e, source), "lines": [_clip(line, LINE_CHARS) for _, line in pairs],
        "line_numbers": [n for n, _ in pairs] if numbered else e.line_numbers[:CAUSE_LINES],
    })


def _wrapper(e: Evidence, source: str | None, more: int) -> Evidence:
    note = e.note
    if more:
        note = (f"{note}; " if note else "") + f"{more} more wrapper(s) with detail='full'"
    return e.model_copy(update={
        **_common(e, source), "lines": [_clip(line, WRAPPER_CHARS) for line in e.lines[:1]],
        "line_numbers": e.line_numbers[:1], "note": note,
    })


def _brief_evidence(finding: DiagnosisFinding, source: str | None) -> list[Evidence]:
    causes = [e for e in finding.evidence if e.role == "cause"]
    kept = [_cause(e, source) for e in causes[:CAUSE_PIECES]]
    quoted = {n for e in kept for n in e.line_numbers}
    # A wrapper whose line a cause already quotes (Airflow's 'Task failed with exception') is not said again.
    wrappers = [e for e in finding.evidence if e.role == "wrapper"
                and not (e.line_numbers and e.line_numbers[0] in quoted)]
    if wrappers:
        kept.append(_wrapper(wrappers[0], source, len(wrappers) - 1))
    if not kept:
        context = [e for e in finding.evidence if e.line_numbers or [line.strip() for line in e.lines] != [finding.root_cause]]
        kept = [_cause(e, source) for e in context[:1]]
    return kept


def evidence_cut(full: list[DiagnosisFinding], brief: list[DiagnosisFinding]) -> bool:
    """Whether the brief findings left out evidence the full ones carry."""
    def size(finding: DiagnosisFinding) -> tuple[int, int]:
        return len(finding.evidence), sum(len(e.lines) for e in finding.evidence)

    return any(size(a) != size(b) for a, b in zip(full, brief, strict=False))


def brief_findings(findings: list[DiagnosisFinding], source: str | None, limit: int) -> list[DiagnosisFinding]:
    """The first ``min(limit, SUMMARY_FINDINGS)`` findings, briefly; ``source`` (the log or plan file) is not
    repeated on each piece of evidence."""
    out = []
    for finding in findings[: min(limit, SUMMARY_FINDINGS)]:
        fix = finding.fix
        if fix is not None and fix.changes:
            fix = fix.model_copy(update={"changes": [c.model_copy(update={"reference": None, "ref": None})
                                                     for c in fix.changes]})
        out.append(finding.model_copy(update={"evidence": _brief_evidence(finding, source), "fix": fix}))
    return out
