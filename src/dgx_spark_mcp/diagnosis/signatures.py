"""The failure signatures of Spark and Airflow logs, and the category vocabulary they use.

Both are knowledge, kept as data: ``data/log-signatures.json`` (what to look for, what it means,
what to change) and ``data/diagnosis-categories.json`` (the stable category names every
diagnosis uses).  The list order of the signatures is their priority: the first signature whose
pattern matches a message classifies it, so specific markers (a YARN kill quoted inside an
ExecutorLostFailure) are listed before the general ones.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Literal

from pydantic import BaseModel, Field, PrivateAttr

from ..knowledge import load_knowledge
from .findings import Severity

__all__ = [
    "Category",
    "CategoryVocabulary",
    "ConfigAdvice",
    "Signature",
    "SignatureMatcher",
    "SignatureRegistry",
    "categories",
    "signatures",
    "spark_signatures",
]


class Category(BaseModel):
    name: str
    group: Literal["spark", "airflow", "plan"]
    meaning: str


class CategoryVocabulary(BaseModel):
    about: str
    source: str
    categories: list[Category]

    def names(self) -> set[str]:
        return {c.name for c in self.categories}


class ConfigAdvice(BaseModel):
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


class SignatureFix(BaseModel):
    summary: str
    changes: list[ConfigAdvice] = Field(default_factory=list)


class Examples(BaseModel):
    passing: list[str] = Field(min_length=1, description="Lines the signature must match.")
    failing: list[str] = Field(min_length=1, description="Near misses it must not match.")


class Signature(BaseModel):
    id: str
    category: str
    driver_category: str | None = Field(default=None, description="Category when the error happened on the driver.")
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
    driver_changes: list[ConfigAdvice] = Field(default_factory=list)
    examples: Examples
    _compiled: list[re.Pattern[str]] = PrivateAttr(default_factory=list)

    def model_post_init(self, _context: object) -> None:
        self._compiled = [re.compile(p) for p in self.patterns]

    def search(self, text: str) -> re.Match[str] | None:
        for pattern in self._compiled:
            if match := pattern.search(text):
                return match
        return None


class SignatureRegistry(BaseModel):
    about: str
    source: str
    signatures: list[Signature]

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


class SignatureMatcher:
    """The signatures' patterns, compiled, in plain attributes: this runs for every WARN/ERROR
    record of a big log, where a pydantic attribute lookup costs more than a regex search."""

    __slots__ = ("_table", "_any", "_any_cause", "_any_wrapper")

    def __init__(self, selected: list[Signature]) -> None:
        self._table = [(s, s._compiled) for s in selected]
        self._any = _union(selected)
        self._any_cause = _union([s for s in selected if not s.wrapper])
        self._any_wrapper = _union([s for s in selected if s.wrapper])

    def may_match(self, text: str) -> bool:
        """False when no signature, wrapper or cause, can match ``text``: one search rules out all of them."""
        return self._any is not None and self._any.search(text) is not None

    def match(self, text: str, *, wrappers: bool = True) -> tuple[Signature, re.Match[str]] | None:
        """The first signature (in priority order) whose pattern is found in ``text``."""
        prefilter = self._any if wrappers else self._any_cause
        if prefilter is None or prefilter.search(text) is None:
            return None
        for signature, patterns in self._table:
            if signature.wrapper and not wrappers:
                continue
            for pattern in patterns:
                if found := pattern.search(text):
                    return signature, found
        return None

    def wrappers_in(self, text: str) -> list[Signature]:
        if self._any_wrapper is None or self._any_wrapper.search(text) is None:
            return []
        return [s for s, patterns in self._table if s.wrapper and any(p.search(text) for p in patterns)]


def _union(selected: list[Signature]) -> re.Pattern[str] | None:
    """One pattern matching wherever any of ``selected`` matches (named groups dropped: names repeat)."""
    parts = [re.sub(r"\(\?P<\w+>", "(?:", p) for s in selected for p in s.patterns]
    return re.compile("|".join(f"(?:{p})" for p in parts)) if parts else None


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
