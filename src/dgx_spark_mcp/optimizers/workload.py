"""What a free-text job description says: its workload class and the words that decided it.

The keywords and their weights are data (``data/workload-keywords.json``).  Scoring: every
class sums the weights of its distinct terms found in the text, plus what the request's
operations add (``ml-train`` points at ml-training).  The highest score wins; a tie goes to
the class listed first in the file, and the result says it was a tie.

    confidence = top score / (sum of all scores + prior)

so one weak word gives a low confidence, competing classes share it, and several strong words
for one class approach 1.  With no evidence at all the file's default class is returned with
confidence 0 and a note saying so: an unclassified job is never passed off as a guess.

The same reader finds sizes written in the text ("2 TB of CSV"), for a caller that was given
a description but no data size.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from ..knowledge import load_knowledge
from .models import Workload
from .sizes import parse_size

__all__ = [
    "Confidence",
    "Evidence",
    "WorkloadClassification",
    "WorkloadKeywords",
    "classify_workload",
    "confidence_label",
    "find_terms",
    "keywords",
    "sizes_in_text",
]

Confidence = Literal["low", "medium", "high"]

_TERM = re.compile(r"^[a-z0-9_][a-z0-9_ .-]*\*?$")


class KeywordTerm(BaseModel):
    term: str = Field(description="Lower-case words; a trailing '*' matches any word starting with the text before it.")
    weight: float = Field(gt=0, le=10)

    @field_validator("term")
    @classmethod
    def _plain(cls, value: str) -> str:
        if not _TERM.match(value) or "  " in value:
            raise ValueError(f"term {value!r} must be lower-case words, single-spaced, with at most a trailing '*'")
        return value


class ConfidenceThresholds(BaseModel):
    high: float = Field(gt=0, le=1)
    medium: float = Field(gt=0, le=1)


class WorkloadKeywords(BaseModel):
    """``data/workload-keywords.json``."""

    about: str
    prior: float = Field(gt=0, description="Evidence-free weight in the confidence denominator.")
    classes: dict[Workload, list[KeywordTerm]]
    operations: dict[str, dict[Workload, float]] = Field(description="operation -> the classes it hints at, with weights.")
    default: Workload
    confidence_labels: ConfidenceThresholds


class Evidence(BaseModel):
    """One reason the classifier counted for a class."""

    workload: Workload
    term: str = Field(description="The keyword from the registry, or 'operation:<name>' for a requested operation.")
    matched: str = Field(description="The text as written in the description (or the operation).")
    weight: float


class WorkloadClassification(BaseModel):
    workload: Workload
    source: Literal["given", "keywords", "default"] = Field(
        description="'given': the caller named the class; 'keywords': decided by the words below; "
        "'default': nothing matched and the default class was assumed."
    )
    confidence: float = Field(ge=0, le=1, description="top score / (sum of scores + prior); 1 when given.")
    confidence_label: Confidence
    decided_by: list[Evidence] = Field(description="The words (and operations) that scored for the chosen class.")
    scores: dict[str, float] = Field(default_factory=dict, description="Every class that scored, with its score.")
    note: str | None = None


@cache
def keywords() -> WorkloadKeywords:
    return load_knowledge("workload-keywords.json", WorkloadKeywords)


@cache
def _pattern(term: str) -> re.Pattern[str]:
    words = []
    for word in term.split(" "):
        stem = word.removesuffix("*")
        words.append(re.escape(stem) + (r"[\w-]*" if word.endswith("*") else ""))
    return re.compile(r"(?<![\w])" + r"\s+".join(words) + r"(?![\w])", re.IGNORECASE)


def find_terms(text: str, terms: Iterable[str]) -> list[tuple[str, str]]:
    """``(term, text as written)`` for every term found in ``text``, in the order given."""
    found = []
    for term in terms:
        match = _pattern(term).search(text)
        if match:
            found.append((term, match.group(0)))
    return found


def confidence_label(confidence: float) -> Confidence:
    thresholds = keywords().confidence_labels
    if confidence >= thresholds.high:
        return "high"
    return "medium" if confidence >= thresholds.medium else "low"


def _evidence(description: str | None, operations: Sequence[str]) -> list[Evidence]:
    kw = keywords()
    found: list[Evidence] = []
    if description:
        for workload, terms in kw.classes.items():
            weights = {t.term: t.weight for t in terms}
            found += [
                Evidence(workload=workload, term=term, matched=matched, weight=weights[term])
                for term, matched in find_terms(description, weights)
            ]
    for operation in dict.fromkeys(operations):
        for workload, weight in kw.operations.get(str(operation), {}).items():
            found.append(Evidence(workload=workload, term=f"operation:{operation}", matched=str(operation), weight=weight))
    return found


def _leaders(scores: dict[Workload, float]) -> list[Workload]:
    """The classes with the top score, in the file's order (so ties break the same way every time)."""
    order = list(keywords().classes)
    top = max(scores.values())
    return sorted((w for w, s in scores.items() if s == top), key=order.index)


def classify_workload(
    description: str | None, operations: Sequence[str] = (), given: Workload | None = None
) -> WorkloadClassification:
    """The workload class of a job from its description and operations (or the class given)."""
    kw = keywords()
    evidence = _evidence(description, operations)
    scores: dict[Workload, float] = {}
    for item in evidence:
        scores[item.workload] = scores.get(item.workload, 0.0) + item.weight
    shown = {str(w): round(s, 3) for w, s in sorted(scores.items(), key=lambda kv: -kv[1])}
    leaders = _leaders(scores) if scores else []
    if given is not None:
        differs = bool(leaders) and given not in leaders
        return WorkloadClassification(
            workload=given, source="given", confidence=1.0, confidence_label="high",
            decided_by=[e for e in evidence if e.workload is given], scores=shown,
            note=f"the description reads more like {leaders[0]}; using {given} as given" if differs else None,
        )
    if not leaders:
        return WorkloadClassification(
            workload=kw.default, source="default", confidence=0.0, confidence_label="low", decided_by=[], scores={},
            note=f"no workload keyword or operation matched; assumed {kw.default}. Say what the job does "
            "(e.g. 'join and aggregate for a dashboard', 'train an XGBoost model') or pass the workload",
        )
    winner = leaders[0]
    confidence = round(scores[winner] / (sum(scores.values()) + kw.prior), 3)
    note = f"tie between {', '.join(map(str, leaders))}; took {winner}, listed first" if len(leaders) > 1 else None
    return WorkloadClassification(
        workload=winner, source="keywords", confidence=confidence, confidence_label=confidence_label(confidence),
        decided_by=[e for e in evidence if e.workload is winner], scores=shown, note=note,
    )


_SIZE_IN_TEXT = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*([kmgtp]i?b)(?![\w/])", re.IGNORECASE)


def sizes_in_text(text: str) -> list[tuple[str, int]]:
    """Every data size written in ``text`` with a unit ('2 TB', '500GiB'), as (text, bytes); rates ('3 GB/s') are not sizes."""
    return [(m.group(0), parse_size(m.group(1) + m.group(2))) for m in _SIZE_IN_TEXT.finditer(text)]
