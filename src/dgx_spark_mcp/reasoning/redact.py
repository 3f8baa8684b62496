"""Redact secrets and personal data from text before it reaches a language model.

Logs, configs and tracebacks that an agent asks a model about routinely hold credentials (S3 keys
in spark-defaults, passwords in Airflow connection URIs, bearer tokens in curl lines) and personal
data (e-mails, home directories, addresses).  Everything a prompt holds passes through
:func:`redact` first.

The patterns are knowledge, kept as data in ``data/redaction-patterns.json``: each has an id, a
kind, a regex, a replacement label and examples that the registry test runs.  They are applied in
list order, one ``re.sub`` pass each, so specific token formats win over the generic
``key=value`` rule, and a value once replaced by ``[REDACTED:...]`` is not matched again.

What stays on purpose, because the diagnosis needs it and it names no person: host names,
Spark configuration keys, class names and stack frames, numbers and sizes, GPU UUIDs, and long
hex strings (commit ids, content hashes) unless a secret-named key labels them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from functools import cache

from pydantic import BaseModel, Field, PrivateAttr

from ..errors import BadInputError
from ..knowledge import load_knowledge

__all__ = [
    "RedactionCase",
    "RedactionExamples",
    "RedactionPattern",
    "RedactionPatterns",
    "RedactionResult",
    "RedactionScore",
    "Redactor",
    "default_redactor",
    "measure",
    "redact",
]


class RedactionExamples(BaseModel):
    passing: list[str] = Field(min_length=1, description="Text this pattern must redact.")
    failing: list[str] = Field(min_length=1, description="Near misses the whole redactor must leave unchanged.")


class RedactionPattern(BaseModel):
    """One redaction rule.  A named group ``secret`` (or ``secret_*``) limits the replacement to that group."""

    id: str
    kind: str = Field(description="What is redacted (aws_access_key, email, ipv4, ...); the key of RedactionResult.counts.")
    regex: str
    replacement: str = Field(description="Text put in place of the secret, e.g. [REDACTED:aws_access_key].")
    description: str
    examples: RedactionExamples
    keep_values: str | None = Field(
        default=None, description="A captured value that fully matches this regex is left alone (references, booleans, masks)."
    )

    _compiled: re.Pattern[str] = PrivateAttr()
    _keep: re.Pattern[str] | None = PrivateAttr(default=None)
    _groups: tuple[str, ...] = PrivateAttr(default=())

    def model_post_init(self, __context: object) -> None:
        try:
            self._compiled = re.compile(self.regex)
            self._keep = re.compile(self.keep_values) if self.keep_values else None
        except re.error as exc:
            raise BadInputError(f"redaction pattern {self.id}: regex does not compile ({exc}); fix data/redaction-patterns.json") from exc
        self._groups = tuple(name for name in self._compiled.groupindex if name == "secret" or name.startswith("secret_"))

    @property
    def compiled(self) -> re.Pattern[str]:
        return self._compiled

    def apply(self, text: str) -> tuple[str, int]:
        """Return ``text`` with this pattern's matches replaced, and how many secrets were replaced."""
        replaced = 0

        def substitute(match: re.Match[str]) -> str:
            nonlocal replaced
            whole = match.group(0)
            if not self._groups:
                replaced += 1
                return self.replacement
            start0 = match.start()
            pieces: list[str] = []
            cursor = 0
            for name in self._groups:
                value = match.group(name)
                if not value:
                    continue
                if self._keep is not None and self._keep.fullmatch(value):
                    continue
                begin, end = match.start(name) - start0, match.end(name) - start0
                pieces.append(whole[cursor:begin])
                pieces.append(self.replacement)
                cursor = end
                replaced += 1
            pieces.append(whole[cursor:])
            return "".join(pieces)

        return self._compiled.sub(substitute, text), replaced


class RedactionPatterns(BaseModel):
    about: str
    source: str
    patterns: list[RedactionPattern]

    def by_id(self, pattern_id: str) -> RedactionPattern:
        for pattern in self.patterns:
            if pattern.id == pattern_id:
                return pattern
        raise BadInputError(
            f"unknown redaction pattern {pattern_id!r}; expected one of {', '.join(p.id for p in self.patterns)}"
        )


class RedactionResult(BaseModel):
    text: str = Field(description="The input with every secret replaced by its label.")
    counts: dict[str, int] = Field(default_factory=dict, description="Secrets replaced, by kind (only kinds that occurred).")
    total: int = Field(default=0, description="Secrets replaced in all.")


class Redactor:
    """Applies a list of redaction patterns in order; thread-safe (compiled patterns hold no state)."""

    def __init__(self, patterns: RedactionPatterns | Iterable[RedactionPattern] | None = None) -> None:
        if patterns is None:
            patterns = load_redaction_patterns()
        self.patterns: list[RedactionPattern] = list(patterns.patterns if isinstance(patterns, RedactionPatterns) else patterns)

    def redact(self, text: str) -> RedactionResult:
        if not isinstance(text, str):
            raise BadInputError(f"redact() takes text (str), got {type(text).__name__}; decode bytes first")
        counts: Counter[str] = Counter()
        for pattern in self.patterns:
            text, replaced = pattern.apply(text)
            if replaced:
                counts[pattern.kind] += replaced
        return RedactionResult(text=text, counts=dict(counts), total=sum(counts.values()))


@cache
def load_redaction_patterns() -> RedactionPatterns:
    return load_knowledge("redaction-patterns.json", RedactionPatterns)


@cache
def default_redactor() -> Redactor:
    return Redactor(load_redaction_patterns())


def redact(text: str) -> RedactionResult:
    """Redact ``text`` with the packaged patterns (data/redaction-patterns.json)."""
    return default_redactor().redact(text)


# ---- measuring a labelled set (tests and the bench) -------------------------------------------


class RedactionCase(BaseModel):
    """One labelled line: the exact secrets that must disappear and the substrings that must survive."""

    source: str = Field(description="Where such a line comes from (spark log, airflow log, env dump, ...).")
    text: str
    secrets: list[str] = Field(description="Exact substrings that must not appear in the redacted text.")
    keep: list[str] = Field(default_factory=list, description="Diagnosis-relevant substrings that must survive.")


class RedactionMiss(BaseModel):
    case: int = Field(description="Index of the case in the set.")
    value: str
    redacted_text: str


class RedactionScore(BaseModel):
    cases: int
    secrets: int
    caught: int
    missed: list[RedactionMiss] = Field(description="Secrets still present after redaction.")
    keeps: int
    over_redacted: list[RedactionMiss] = Field(description="Diagnosis-relevant substrings that redaction removed.")
    counts: dict[str, int] = Field(description="Secrets replaced over the whole set, by kind.")

    @property
    def catch_rate(self) -> float:
        return self.caught / self.secrets if self.secrets else 1.0


def measure(cases: Iterable[RedactionCase | dict[str, object]], redactor: Redactor | None = None) -> RedactionScore:
    """Redact every case and report what was caught, what was missed and what was over-redacted."""
    redactor = redactor or default_redactor()
    parsed = [c if isinstance(c, RedactionCase) else RedactionCase.model_validate(c) for c in cases]
    caught = secrets = keeps = 0
    missed: list[RedactionMiss] = []
    over: list[RedactionMiss] = []
    counts: Counter[str] = Counter()
    for index, case in enumerate(parsed):
        result = redactor.redact(case.text)
        counts.update(result.counts)
        for value in case.secrets:
            secrets += 1
            if value in result.text:
                missed.append(RedactionMiss(case=index, value=value, redacted_text=result.text))
            else:
                caught += 1
        for value in case.keep:
            keeps += 1
            if value not in result.text:
                over.append(RedactionMiss(case=index, value=value, redacted_text=result.text))
    return RedactionScore(
        cases=len(parsed), secrets=secrets, caught=caught, missed=missed, keeps=keeps, over_redacted=over, counts=dict(counts)
    )
