"""The failure signatures of Spark and Airflow logs, and the category vocabulary they use.

Both are knowledge, kept as data: ``data/log-signatures.json`` (what to look for, what it means,
what to change) and ``data/diagnosis-categories.json`` (the stable category names every
diagnosis uses).  The list order of the signatures is their priority: the first signature whose
pattern matches a message classifies it, so specific markers (a YARN kill quoted inside an
ExecutorLostFailure) are listed before the general ones.  The file's ``fallbacks`` say what an
error that no signature recognises becomes: a failed task, a driver stopped by an uncaught
exception, or an error line worth a look.

Every model forbids keys it does not know: a key put one level too deep (``driver_changes``
inside ``fix``) fails the load, naming the file and the key, instead of being ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from ...knowledge import load_knowledge
from .model import Severity

__all__ = [
    "Category",
    "CategoryVocabulary",
    "ConfigAdvice",
    "FallbackRule",
    "Signature",
    "SignatureMatcher",
    "SignatureRegistry",
    "categories",
    "signatures",
    "spark_signatures",
]


class _Strict(BaseModel):
    """Knowledge models: an unknown key is a mistake in the file, not something to skip."""

    model_config = ConfigDict(extra="forbid")


class Category(_Strict):
    name: str
    group: Literal["spark", "airflow", "plan"]
    title: str = Field(description="A short human-readable title, for findings that have no rule of their own.")
    meaning: str


class CategoryVocabulary(_Strict):
    about: str
    source: str
    categories: list[Category]

    def names(self) -> set[str]:
        return {c.name for c in self.categories}

    def title(self, name: str) -> str:
        return next((c.title for c in self.categories if c.name == name), name.replace("_", " ").capitalize())


class ConfigAdvice(_Strict):
    """A configuration change a signature recommends, with the rule that sizes its value.

    ``rule`` is a literal value ("-1", "300s"), "double"/"half" of the current value (or of the
    default when the log does not show it), or "hardware:heap|overhead|driver|max_result": sized from the
    machine's executor plan when one is given, else doubled.
    """

    key: str
    rule: str
    default: str = Field(description="Spark's default, the base of 'double'/'half' when the log shows no value.")
    current_group: str | None = Field(default=None, description="Pattern group holding the value in use, when the message quotes it.")
    reason: str
    reference: str


class SignatureFix(_Strict):
    summary: str
    changes: list[ConfigAdvice] = Field(default_factory=list)


class Examples(_Strict):
    passing: list[str] = Field(min_length=1, description="Lines the signature must match.")
    failing: list[str] = Field(min_length=1, description="Near misses it must not match.")


class FrameCategory(_Strict):
    """Another category when the record's kept stack frames show where the error was raised."""

    frames: str = Field(description="Regex searched in the record's kept lines (its first frames); no digit in it, so "
                        "records that differ only in digits classify alike.", pattern=r"^[^0-9]*$")
    category: str
    why: str
    fix: SignatureFix


class Signature(_Strict):
    id: str
    category: str
    driver_category: str | None = Field(default=None, description="Category when the error happened on the driver.")
    frame_category: FrameCategory | None = Field(default=None, description="Category when the frames say more.")
    severity: Severity
    wrapper: bool = Field(default=False, description="Wraps another error: classified only when nothing inner matches.")
    priority: int = Field(description="Lower = more likely the root cause when several findings are made.")
    title: str
    root_cause: str
    patterns: list[str] = Field(min_length=1)
    anchors: list[str] = Field(
        default_factory=list,
        description="Literal text every match contains, unless each pattern already contains ERROR, Exception or Error: "
        "the reader of Spark logs only stops at lines holding an anchor (Airflow logs are read line by line).")
    fix: SignatureFix
    driver_summary: str | None = Field(default=None, description="The fix's prose when the error happened on the driver.")
    driver_changes: list[ConfigAdvice] = Field(
        default_factory=list, description="The changes when the error happened on the driver (driver_category).")
    examples: Examples
    _compiled: list[re.Pattern[str]] = PrivateAttr(default_factory=list)

    def model_post_init(self, _context: object) -> None:
        self._compiled = [re.compile(p) for p in self.patterns]

    def search(self, text: str) -> re.Match[str] | None:
        for pattern in self._compiled:
            if match := pattern.search(text):
                return match
        return None


class FallbackRule(_Strict):
    """What an error no signature recognises becomes (TASK_EXCEPTION, DRIVER_EXCEPTION, UNCLASSIFIED_ERROR)."""

    id: str
    category: str
    severity: Severity
    priority: int = Field(description="As a signature's: lower = more likely the root cause.")
    title: str = Field(description="'{exception}' in it becomes the exception's short class name ('exception' when none).")
    root_cause: str
    fix: SignatureFix


class SignatureRegistry(_Strict):
    about: str
    source: str
    signatures: list[Signature]
    fallbacks: list[FallbackRule]

    _matcher: SignatureMatcher | None = PrivateAttr(default=None)

    def model_post_init(self, _context: object) -> None:
        self._matcher = SignatureMatcher(self.signatures)

    @property
    def matcher(self) -> SignatureMatcher:
        """The compiled patterns; callers in a loop read this once (pydantic's private attributes are slow to reach)."""
        assert self._matcher is not None
        return self._matcher

    def match(self, text: str, *, wrappers: bool = True) -> tuple[Signature, re.Match[str]] | None:
        return self.matcher.match(text, wrappers=wrappers)

    def wrappers_in(self, text: str) -> list[Signature]:
        return self.matcher.wrappers_in(text)

    def by_id(self, rule_id: str) -> Signature:
        return next(s for s in self.signatures if s.id == rule_id)

    def fallback(self, rule_id: str) -> FallbackRule:
        return next(f for f in self.fallbacks if f.id == rule_id)


_MEMO = 4_096
"""Messages whose match is remembered: an error-heavy log repeats the same exception lines."""
_MEMO_CHARS = 500
"""Longer messages are not remembered: they seldom repeat word for word, and would fill the memo."""
_MISSING = object()
_MIN_LITERAL = 3


class SignatureMatcher:
    """The signatures' patterns, compiled, in plain attributes: this runs for every WARN/ERROR
    record of a big log, where a pydantic attribute lookup costs more than a regex search.

    Every pattern has a literal it cannot match without (``Job aborted due to stage failure``,
    ``xit`` of ``[Ee]xit(?:ed with)?``), found by :func:`required_literal`.  One Aho-Corasick pass
    over a message finds which of those literals it holds, and only the patterns they belong to
    are searched, in priority order: the same answer as trying every pattern in turn (or one
    union of them all, which Python's regex engine tries alternative by alternative at every
    position: about 5 microseconds a message), for a fraction of the cost.  The last few thousand
    answers are remembered."""

    __slots__ = ("_table", "_literals", "_by_literal", "_always", "_memo", "_scans")

    def __init__(self, selected: list[Signature]) -> None:
        import ahocorasick_rs

        self._table = [(s, s._compiled) for s in selected]
        literals: dict[str, list[tuple[int, int]]] = {}
        self._always: list[tuple[int, int]] = []  # patterns without a usable literal: searched every time
        for i, signature in enumerate(selected):
            for j, pattern in enumerate(signature.patterns):
                literal = required_literal(pattern)
                if literal is None or len(literal) < _MIN_LITERAL:
                    self._always.append((i, j))
                else:
                    literals.setdefault(literal, []).append((i, j))
        self._by_literal = list(literals.values())
        self._literals = ahocorasick_rs.AhoCorasick(list(literals)) if literals else None
        self._memo: dict[tuple[bool, str], tuple[Signature, re.Match[str]] | None] = {}
        self._scans: dict[str, Scan | None] = {}

    def _candidates(self, text: str) -> list[tuple[int, int]]:
        """(signature, pattern) indexes that may match ``text``, in priority order."""
        found = set(self._always)
        if self._literals is not None:
            for literal, _, _ in self._literals.find_matches_as_indexes(text, overlapping=True):
                found.update(self._by_literal[literal])
        return sorted(found)

    def may_match(self, text: str) -> bool:
        """False when no signature, wrapper or cause, can match ``text``."""
        return self.scan(text) is not None

    def scan(self, text: str) -> Scan | None:
        """The wrappers found in ``text`` and its first cause signature (priority order); None when neither is."""
        known = self._scans.get(text, _MISSING)
        if known is not _MISSING:
            return known  # type: ignore[return-value]
        wrappers: list[Signature] = []
        cause = None
        for i, j in self._candidates(text):
            signature, patterns = self._table[i]
            if (signature.wrapper and any(w is signature for w in wrappers)) or (not signature.wrapper and cause is not None):
                continue
            if hit := patterns[j].search(text):
                if signature.wrapper:
                    wrappers.append(signature)
                else:
                    cause = (signature, hit)
        found = Scan(wrappers, cause) if wrappers or cause else None
        if len(text) <= _MEMO_CHARS:
            if len(self._scans) >= _MEMO:
                self._scans.clear()
            self._scans[text] = found
        return found

    def match(self, text: str, *, wrappers: bool = True) -> tuple[Signature, re.Match[str]] | None:
        """The first signature (in priority order) whose pattern is found in ``text``."""
        key = (wrappers, text)
        known = self._memo.get(key, _MISSING)  # get, not "in" then []: another thread may clear the memo between
        if known is not _MISSING:
            return known  # type: ignore[return-value]
        found = None
        for i, j in self._candidates(text):
            signature, patterns = self._table[i]
            if (wrappers or not signature.wrapper) and (hit := patterns[j].search(text)):
                found = (signature, hit)
                break
        if len(text) <= _MEMO_CHARS:
            if len(self._memo) >= _MEMO:
                self._memo.clear()  # bounded: a log whose messages all differ gains nothing from remembering them
            self._memo[key] = found
        return found

    def wrappers_in(self, text: str) -> list[Signature]:
        scan = self.scan(text)
        return list(scan.wrappers) if scan is not None else []


@dataclass(frozen=True, slots=True)
class Scan:
    """What the signatures found in one message."""

    wrappers: list[Signature]
    cause: tuple[Signature, re.Match[str]] | None


_QUANTIFIERS = "?*+{"
_CLASS_ESCAPES = "dDsSwWbBAZzG0123456789"


def required_literal(pattern: str) -> str | None:
    """The longest run of plain characters ``pattern`` cannot match without, or None when it has none.

    Only text outside groups counts, and none when the pattern has a top-level ``|`` or ignores case
    (the literal pass is case-sensitive); a character followed by a quantifier is not required.
    Conservative: an unusual construct only ends a run."""
    if re.compile(pattern).flags & re.IGNORECASE:
        return None
    runs: list[str] = []
    run: list[str] = []
    depth = i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            escaped = pattern[i + 1]
            i += 2
            if depth == 0 and escaped not in _CLASS_ESCAPES and escaped.isascii() and not escaped.isalnum():
                run.append(escaped)
                continue
            runs.append("".join(run))
            run = []
            continue
        if char == "[":
            runs.append("".join(run))
            run = []
            i = _class_end(pattern, i)
            continue
        if char in _QUANTIFIERS and depth == 0:
            run = run[:-1]  # the character before is optional (or repeated): not part of a required run
            runs.append("".join(run))
            run = []
            if char == "{":  # {m,n}: its digits are no text to find
                close = pattern.find("}", i)
                i = len(pattern) if close < 0 else close + 1
                continue
        elif char == "(":
            depth += 1
            runs.append("".join(run))
            run = []
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            return None
        elif depth == 0 and char not in ".^$":
            run.append(char)
        elif depth == 0:
            runs.append("".join(run))
            run = []
        i += 1
    runs.append("".join(run))
    best = max(runs, key=len)
    return best or None


def _class_end(pattern: str, i: int) -> int:
    """The index after the character class that opens at ``pattern[i]``."""
    j = i + 1
    if j < len(pattern) and pattern[j] == "^":
        j += 1
    if j < len(pattern) and pattern[j] == "]":
        j += 1
    while j < len(pattern) and pattern[j] != "]":
        j += 2 if pattern[j] == "\\" else 1
    return j + 1


@cache
def signatures() -> SignatureRegistry:
    return load_knowledge("log-signatures.json", SignatureRegistry)


def spark_signatures() -> list[Signature]:
    """The signatures of Spark logs: those whose category is not in the vocabulary's Airflow group."""
    airflow = {c.name for c in categories().categories if c.group == "airflow"}
    return [s for s in signatures().signatures if s.category not in airflow]


@cache
def categories() -> CategoryVocabulary:
    return load_knowledge("diagnosis-categories.json", CategoryVocabulary)
