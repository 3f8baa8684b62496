"""RAPIDS explain output as one finding: every operator and expression that will not run on the GPU, with why.

The plugin's explain lines (``!Exec <SortExec> cannot run on GPU because ...``, ``!Expression <...>``,
``! <...>``) differ in the operator and the reason, so the log reader groups them apart; an engineer
wants them together: which operators fall back and the plugin's reason for each.  The first finding
keeps its place in the ranking and takes the others' operators, reasons and evidence.
"""

from __future__ import annotations

import re

from ..findings.model import DiagnosisFinding
from ..findings.ranking import MAX_EVIDENCE

__all__ = ["merge_fallbacks"]

_RULE = "RAPIDS_FALLBACK"
_LINE = re.compile(r"!(?:Exec|Expression|NOT_FOUND)? ?<(?P<op>\w+)>.*?cannot run on GPU(?: because (?P<why>.*))?")
NAMED = 8
"""Operators named in the cause sentence; the evidence holds the lines of more."""


def merge_fallbacks(ranked: list[tuple[int, int, DiagnosisFinding]]) -> list[tuple[int, int, DiagnosisFinding]]:
    """``ranked`` with every RAPIDS fallback finding folded into the first one."""
    fallbacks = [item for item in ranked if item[2].rule_id == _RULE]
    if not fallbacks:
        return ranked
    first = min(fallbacks, key=lambda item: (item[0], item[1]))
    named: dict[str, str] = {}
    evidence = []
    for _, _, finding in sorted(fallbacks, key=lambda item: item[1]):
        for piece in finding.evidence:
            for line in piece.lines:
                if (m := _LINE.search(line)) and m["op"] not in named:
                    named[m["op"]] = (m["why"] or "").strip()
        if finding.evidence and len(evidence) < MAX_EVIDENCE:
            evidence.append(finding.evidence[0])
    if not named:
        return ranked  # lines in a shape this does not know: the findings as the reader made them
    said = "; ".join(f"{op} ({why[:90]}{'…' if len(why) > 90 else ''})" if why else op
                     for op, why in list(named.items())[:NAMED])
    more = f"; and {len(named) - NAMED} more" if len(named) > NAMED else ""
    root = first[2].root_cause.split(" Seen", 1)[0]
    merged = first[2].model_copy(update={
        "root_cause": f"{root} {len(named)} operator(s) or expression(s) stay on the CPU: {said}{more}.",
        "evidence": evidence,
    })
    return [(first[0], first[1], merged)] + [item for item in ranked if item[2].rule_id != _RULE]
