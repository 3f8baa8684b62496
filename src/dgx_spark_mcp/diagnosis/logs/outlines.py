"""What the first record of a shape was classified as, for its repeats to be counted without classifying them.

A shape (:mod:`..reading.shapes`) is a record's bytes with their digits masked: repeats of a shape differ only in
digits, so they classify alike, with the cause at the same offsets.  :func:`outline_of` remembers where that cause
is; :class:`.groups.RecordGroups` counts each repeat into the group the first one joined.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..findings.model import Severity
from ..findings.ranking import SEVERITY_ORDER
from ..reading.failure_text import first_line
from ..reading.record import Record
from .classify import Classified

__all__ = ["SLOW", "Outline", "outline_of"]

_DIGIT = re.compile(r"[0-9]")
SLOW = object()
"""A shape whose repeats are classified one by one (its cause's text is not found once in its line)."""


@dataclass(frozen=True, slots=True)
class Outline:
    """What the first record of a shape (:mod:`..reading.shapes`) was classified as, by position: its
    repeats differ only in digits, so they classify alike, with the cause at the same offsets."""

    rule_id: str
    category: str
    severity: Severity
    line: int
    """The cause's line, counted from the record's header (0)."""
    start: int
    end: int
    """The cause's span in the text the record keeps for that line."""
    key: str | None
    """The cause's Drain3 message when the cause holds no digit: every repeat's is then the same."""
    wrappers: tuple[str, ...]
    signature: bool
    rank: int
    """Its severity's rank (SEVERITY_ORDER)."""


def outline_of(record: Record, found: Classified | None) -> Outline | object | None:
    if found is None:
        return None
    n, text = found.cause
    if n < record.line_no or record.line_numbers.count(n) != 1:
        return SLOW
    kept = record.lines[record.line_numbers.index(n)]
    start = kept.find(text)
    if start < 0 or kept.find(text, start + 1) >= 0:
        return SLOW  # where a repeat's cause is would be a guess
    rule = found.signature or found.fallback
    return Outline(
        rule_id=rule.id if rule else "UNCLASSIFIED_ERROR", category=found.category,
        severity=found.severity or (rule.severity if rule else "info"), line=n - record.line_no, start=start,
        end=start + len(text), key=None if _DIGIT.search(text) else first_line(text, 2_000),
        wrappers=tuple(dict.fromkeys(w for w, _, _ in found.wrappers)), signature=found.signature is not None,
        rank=SEVERITY_ORDER[found.severity or (rule.severity if rule else "info")],
    )
