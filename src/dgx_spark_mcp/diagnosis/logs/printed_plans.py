"""Query plans a job printed into its own log (``df.explain()``), judged by the plan rules.

A PySpark or spark-shell driver log often holds the job's own ``== Physical Plan ==`` output on stdout,
between log4j lines.  Such a plan says why the job is slow as well as the same plan pasted into
analyze_query_plan would (a ``Coalesce 1`` before a write, a window without PARTITION BY, a cartesian
product), so each printed plan is cut out (to the next log4j line or explain header) and run through
:func:`..plans.findings.find_plan_issues`.  Findings of one category are kept once, the first plan's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..findings.model import DiagnosisFinding

__all__ = ["MAX_PLAN_LINES", "printed_plan_findings"]

MAX_PLAN_LINES = 2_000
_HEADER = "== Physical Plan =="
_ENDS = re.compile(r"^(?:\d{2}/\d{2}/\d{2}|\d{4}-\d{2}-\d{2})[ T]\d{2}:\d{2}:\d{2}|^== (?!Physical Plan)")


def _plans(lines: Iterable[str]) -> Iterable[str]:
    plan: list[str] | None = None
    for line in lines:
        if _HEADER in line:
            if plan:
                yield "\n".join(plan)
            plan = [_HEADER]
            continue
        if plan is None:
            continue
        if _ENDS.match(line) or len(plan) >= MAX_PLAN_LINES:
            yield "\n".join(plan)
            plan = None
            continue
        plan.append(line)
    if plan:
        yield "\n".join(plan)


def printed_plan_findings(text_lines: Iterable[str], file: str | None) -> list[DiagnosisFinding]:
    """The plan findings of every physical plan printed in the log, one per category."""
    from ...errors import BadInputError
    from ..plans.findings import find_plan_issues
    from ..plans.parser import parse_plan

    found: dict[str, DiagnosisFinding] = {}
    for plan_text in _plans(text_lines):
        try:
            plan = parse_plan(plan_text)
        except BadInputError:
            continue  # a header with no operator tree under it
        for finding in find_plan_issues(plan, file):
            found.setdefault(finding.category, finding)
    return list(found.values())
