"""Record *shapes*: records whose bytes differ only in their ASCII digits (task ids, stages, hosts' numbers).

An error-heavy Spark log repeats a few stack traces thousands of times, each under a header with
its own TID, stage and timestamp.  The reader keys every clean record (valid UTF-8, no progress
bar, closed inside its block) by its bytes with each digit masked to ``0`` (one C-level
``bytes.translate``, so lengths and offsets are kept); a record whose key was seen before comes out
as a :class:`Repeat` that is counted, not decoded, unless its consumer needs its lines.

Why a repeat can reuse the first record's classification: every regex the classification runs
(the signatures' patterns, and those of the modules that parse and classify records) treats all
digits alike (``\\d``, ``\\w``, ``[^)]``), so it matches both records at the same offsets and the
classification differs only in the digits of the texts it quotes.  :func:`digit_triggers` checks
that when the signatures load: a pattern that tells one digit from another (``exit code 137``,
``-10[34]``) gets literals one of which each of its matches holds, and a record whose masked key
holds one of them is keyed by its exact bytes instead.  When the check cannot be made (a pattern
that ignores case, a backreference), every record is keyed by its exact bytes.  The classifying
code must compare digits only through regexes (no ``"137" in text``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from typing import Any

from .logkind import parse_log4j
from .record import MAX_LINE_CHARS, MAX_RECORD_LINES, Record

__all__ = ["MASK", "Repeat", "ShapeTable", "clean_record", "digit_triggers", "required_literals"]

MASK = bytes.maketrans(b"123456789", b"000000000")
"""Every ASCII digit to 0: UTF-8 never uses those bytes inside a multi-byte character, so a masked
record decodes exactly when the record does, with its characters at the same offsets."""
MAX_SHAPE_BYTES = 1 << 15
"""Longer records are read as they always were: they seldom repeat, and would fill the table."""
MAX_SHAPES = 8_192
MAX_SHAPE_TABLE_BYTES = 16 << 20
"""The table is emptied when it holds this many keys or bytes: memory stays bounded, a shape seen
again only costs one more full read."""


def clean_record(buf: bytes, start: int, nl: int, stop: int, line_no: int) -> Record:
    """The record of the clean lines ``buf[start:stop]`` (header ``buf[start:nl]``) at ``line_no``: what the
    scanner's header and block paths make of them (no bytes to replace, no progress bar, no ``\\r``)."""
    text = buf[start:nl].decode("utf-8")
    parsed = parse_log4j(text)
    record = Record(line_no=line_no, level=parsed.level if parsed else None, thread=parsed.thread if parsed else None)
    record.add(line_no, parsed.message if parsed else text)
    if stop > nl:
        record.extend(line_no + 1, buf[nl + 1 : stop].decode("utf-8").split("\n"))
    return record


class Repeat:
    """A record whose masked bytes were seen before: where it is, and its lines on demand.

    Holds the scanner's block, so it is to be used before the next record is read."""

    __slots__ = ("shape", "line_no", "lines", "stop", "_buf", "_start", "_nl", "_offset")

    def __init__(self, shape: int, line_no: int, lines: int, buf: bytes, start: int, nl: int, stop: int,
                 offset: int) -> None:
        self.shape = shape
        self.line_no = line_no
        self.lines = lines
        self.stop = stop
        self._buf, self._start, self._nl, self._offset = buf, start, nl, offset

    def kept(self, r: int) -> str:
        """The text the record keeps for its line ``line_no + r``: the header's message, or the line."""
        buf = self._buf
        if r == 0:
            return buf[self._start : self._nl].decode("utf-8")[self._offset :][:MAX_LINE_CHARS]
        p = self._start
        for _ in range(r):
            p = buf.find(b"\n", p, self.stop) + 1
        q = buf.find(b"\n", p, self.stop)
        return buf[p : self.stop if q < 0 else q].decode("utf-8")[:MAX_LINE_CHARS]

    def record(self) -> Record:
        """The full record, as the scanner would have made it."""
        record = clean_record(self._buf, self._start, self._nl, self.stop, self.line_no)
        record.shape = self.shape
        return record


Pending = tuple[dict[bytes, tuple[int, int, int]], bytes, int, int]
"""(table, key, lines, header offset): the first record of a shape, to be remembered once read whole."""


class ShapeTable:
    """Masked keys (and, for records that hold a trigger, exact ones) to (shape id, lines, header offset)."""

    UNSHAPED = (-1, 0, 0)
    """A key whose records are read the usual way (a progress bar, bytes that are not UTF-8, too many lines)."""
    EXACT = (-2, 0, 0)
    """A masked key that holds a digit trigger: its records are keyed by their exact bytes."""

    def __init__(self, next_record: re.Pattern[bytes], guarded: tuple[re.Pattern[str], ...]) -> None:
        """``guarded``: the regexes of the code that parses and classifies records (the caller's, which this
        module may not import): a record is keyed by its masked bytes only when none of them tells digits apart."""
        self.next_record = next_record
        self.triggers = digit_triggers(guarded)
        self.masked: dict[bytes, tuple[int, int, int]] = {}
        self.exact: dict[bytes, tuple[int, int, int]] = {}
        self.next_id = 0
        self._bytes = 0

    def find(self, buf: bytes, start: int, nl: int, end: int, line_no: int) -> Repeat | Pending | None:
        """The Spark record whose header is ``buf[start:nl]`` (line ``line_no``), as a :class:`Repeat` when
        its masked bytes were seen before; else None, or what to :meth:`settle` it with once read.

        Its end is where the scanner's block path finds it (the header's own newline when the next line
        opens a record).  A record that goes on into the next block, or that the usual path reads line
        by line, is left to the usual path."""
        if nl + 1 >= end:
            return None
        after = self.next_record.search(buf, nl, end)
        if after is None:
            return None
        stop = after.start()
        if stop - start > MAX_SHAPE_BYTES:
            return None
        raw = buf[start:stop]
        key = raw.translate(MASK)
        known = self.masked.get(key)
        if known is None or known[0] <= 0:
            return self._unknown(buf, start, nl, stop, line_no, raw, key, known)
        return Repeat(known[0], line_no, known[1], buf, start, nl, stop, known[2])

    def _unknown(self, buf: bytes, start: int, nl: int, stop: int, line_no: int, raw: bytes, key: bytes,
                 known: tuple[int, int, int] | None) -> Repeat | Pending | None:
        """:meth:`find` for a masked key seen for the first time, or one that stands for exact keys."""
        if known is None:
            known = self._first(raw, key)
            if known is self.UNSHAPED or known is self.EXACT:
                self.remember(self.masked, key, known)
        table = self.masked
        if known is self.EXACT:  # it may hold digits a signature tells apart: only the same bytes repeat it
            table, key = self.exact, raw
            known = table.get(raw) or self._first(raw, key)
        if known is self.UNSHAPED:
            return None
        shape, lines, offset = known
        if shape == 0:
            return table, key, lines, offset
        return Repeat(shape, line_no, lines, buf, start, nl, stop, offset)

    def _first(self, raw: bytes, key: bytes) -> tuple[int, int, int]:
        """What a key seen for the first time stands for: UNSHAPED, EXACT (it holds a digit trigger), or
        (0: not numbered yet, its lines, its header's message offset).

        Checked once per key: a progress bar, a ``\\r`` and bytes that are not UTF-8 hold no digit (nor
        does a record's line count), so every record of a key has them or none does."""
        if b"\r" in raw or b"[Stage " in raw:
            return self.UNSHAPED
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return self.UNSHAPED
        lines = raw.count(b"\n") + 1
        if lines > MAX_RECORD_LINES:
            return self.UNSHAPED
        if key is not raw and (self.triggers is None or any(t in key for t in self.triggers)):
            return self.EXACT
        header = text.split("\n", 1)[0]
        parsed = parse_log4j(header)
        return 0, lines, len(header) - len(parsed.message) if parsed else 0

    def settle(self, pending: Pending, record: Record) -> None:
        """Number the first record of a shape, now read, so that its repeats are known by it."""
        table, key, lines, offset = pending
        if record.total_lines == lines:  # read whole, as find measured it: its repeats will be too
            self.next_id += 1
            record.shape = self.next_id
            self.remember(table, key, (record.shape, lines, offset))

    def remember(self, table: dict[bytes, tuple[int, int, int]], key: bytes, entry: tuple[int, int, int]) -> None:
        if len(self.masked) + len(self.exact) >= MAX_SHAPES or self._bytes + len(key) > MAX_SHAPE_TABLE_BYTES:
            self.masked.clear()
            self.exact.clear()
            self._bytes = 0
        table[key] = entry
        self._bytes += len(key)


# -- which patterns tell digits apart ------------------------------------------------------------------

def _parser() -> tuple[Any, Any]:
    try:
        import re._constants as constants  # type: ignore[import-not-found]
        import re._parser as parser  # type: ignore[import-not-found]
    except ImportError:  # pragma: no cover - before Python 3.11
        import sre_constants as constants  # type: ignore[no-redef]
        import sre_parse as parser  # type: ignore[no-redef]
    return parser, constants


_DIGITS = range(ord("0"), ord("9") + 1)


def _may_tell_digits(source: str) -> bool:
    """False for a pattern that cannot tell one digit from another, without parsing it: to do so it
    needs a digit (a literal, a range's end, an escape's code), a named backreference or ``\\N{}``."""
    return any(d in source for d in "0123456789") or "(?P=" in source or "\\N{" in source


def _tells_digits(items: Iterable[tuple[Any, Any]], c: Any) -> bool:
    """Whether a parsed pattern may match a text and not the same text with other digits (conservative)."""
    for op, av in items:
        if op in (c.LITERAL, c.NOT_LITERAL):
            if av in _DIGITS:
                return True
        elif op is c.IN:
            for member, value in av:
                if member is c.LITERAL and value in _DIGITS:
                    return True
                if member is c.RANGE and 0 < min(value[1], 57) - max(value[0], 48) + 1 < 10:
                    return True  # [1-9], [5-9]: some digits but not all
                if member not in (c.LITERAL, c.RANGE, c.NEGATE, c.CATEGORY):
                    return True
        elif op is c.SUBPATTERN:
            if _tells_digits(av[3], c):
                return True
        elif op is c.BRANCH:
            if any(_tells_digits(branch, c) for branch in av[1]):
                return True
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT) or op is getattr(c, "POSSESSIVE_REPEAT", None):
            if _tells_digits(av[2], c):
                return True
        elif op in (c.ASSERT, c.ASSERT_NOT):
            if _tells_digits(av[1], c):
                return True
        elif op is getattr(c, "ATOMIC_GROUP", None):
            if _tells_digits(av, c):
                return True
        elif op not in (c.ANY, c.AT, c.CATEGORY):
            return True  # a backreference, or something this walk does not know
    return False


def _shortest(found: frozenset[str] | None) -> int:
    return -1 if not found else min(len(s) for s in found)


def _required(items: Iterable[tuple[Any, Any]], c: Any) -> frozenset[str] | None:
    """Literals one of which every match of the parsed pattern holds; None when there are none to tell."""
    best: frozenset[str] | None = None
    run: list[str] = []
    candidates: list[frozenset[str] | None] = []
    for op, av in items:
        if op is c.LITERAL:
            run.append(chr(av))
            continue
        candidates.append(frozenset(["".join(run)]) if run else None)
        run = []
        if op is c.SUBPATTERN:
            # A group that ignores case holds its literals in any case: nothing to find byte for byte.
            candidates.append(None if av[1] & re.IGNORECASE else _required(av[3], c))
        elif op is c.BRANCH:
            options = [_required(branch, c) for branch in av[1]]
            if all(options):
                candidates.append(frozenset().union(*options))  # type: ignore[arg-type]
        elif (op in (c.MAX_REPEAT, c.MIN_REPEAT) or op is getattr(c, "POSSESSIVE_REPEAT", None)) and av[0] >= 1:
            candidates.append(_required(av[2], c))
    candidates.append(frozenset(["".join(run)]) if run else None)
    for found in candidates:
        if _shortest(found) > _shortest(best):
            best = found
    return best


def required_literals(pattern: str) -> frozenset[str] | None:
    """Literals one of which every match of ``pattern`` holds, byte for byte (an alternation gives one per
    branch); None when there are none to tell (it ignores case, or has no plain text it needs)."""
    try:
        parser, c = _parser()
        compiled = re.compile(pattern)
        if compiled.flags & re.IGNORECASE:
            return None
        return _required(parser.parse(pattern, compiled.flags), c)
    except Exception:  # noqa: BLE001 - a regex internals change: no literals, the caller's anchors only
        return None


@cache
def digit_triggers(guarded: tuple[re.Pattern[str], ...]) -> tuple[bytes, ...] | None:
    """Masked literals whose presence makes a record keyed by its exact bytes; None: every record is.

    One literal of each signature pattern that tells digits apart (every match of the pattern holds
    one of its literals, and so, masked, does the masked key of every record it can match)."""
    from ..findings.signatures import signatures

    try:
        parser, c = _parser()
        for pattern in guarded:
            if _may_tell_digits(pattern.pattern) and _tells_digits(parser.parse(pattern.pattern, pattern.flags), c):
                return None
        triggers: set[bytes] = set()
        for signature in signatures().signatures:
            for source in signature.patterns:
                if not _may_tell_digits(source):
                    continue
                compiled = re.compile(source)
                parsed = parser.parse(source, compiled.flags)
                if not _tells_digits(parsed, c):
                    continue
                literals = _required(parsed, c)
                if not literals or compiled.flags & re.IGNORECASE or any("\n" in s for s in literals):
                    return None
                triggers.update(s.encode().translate(MASK) for s in literals)
    except Exception:  # noqa: BLE001 - a regex internals change: read every record exactly, as before
        return None
    return tuple(sorted(triggers))
