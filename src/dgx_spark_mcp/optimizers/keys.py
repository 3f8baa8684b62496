"""Which configuration keys exist: Apache Spark's (from the installed PySpark) and the RAPIDS Accelerator's.

Three knowledge files answer it:

* ``data/spark-keys.json`` — generated from the JVM by ``scripts/gen_spark_keys.py``: every
  key with its default and version, the deprecated and removed keys, key-family prefixes;
* ``data/spark-key-patterns.json`` — the families no JVM constant names (``spark.hadoop.*``,
  ``spark.executor.resource.{resourceName}.amount``, ...), each with its documentation source;
* ``data/rapids-keys.json`` — the ``spark.rapids.*`` keys of the RAPIDS Accelerator docs.

``is_known`` is what the optimizer uses to check the keys it emits; ``suggest`` gives the
"did you mean" of the checker; ``deprecated`` names the replacement and the version.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import cache
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from ..knowledge import load_knowledge

__all__ = [
    "Deprecation",
    "KeyInfo",
    "KnownKey",
    "SparkKeysFile",
    "deprecated",
    "is_known",
    "lookup",
    "spark_keys_version",
    "suggest",
]


class KnownKey(BaseModel):
    default: str | None = Field(default=None, description="Default value as Spark prints it; None when unset.")
    computed: bool = Field(default=False, description="Spark computes the default on the machine it starts on.")
    since: str | None = Field(default=None, description="Version that introduced the key.")
    public: bool = Field(default=True, description="False for internal keys Spark does not document.")
    applicable: Literal["Startup", "Runtime"] | None = Field(
        default=None, description="RAPIDS only: whether the key can change after the application started."
    )
    doc: str | None = Field(default=None, description="RAPIDS only: the page (see 'sources') that lists the key.")


class Deprecation(BaseModel):
    replacement: str | None = Field(description="The key to use instead; None when there is none.")
    since: str | None = Field(default=None, description="Version that deprecated (or removed) the key.")
    note: str = Field(description="The project's own deprecation message.")
    removed: bool = Field(default=False, description="True when the key no longer has any effect or is refused.")
    removed_default: str | None = Field(default=None, description="For removed SQL keys: the only value still accepted.")
    origin: str = Field(description="Where the fact was read (a JVM table, or a document).")


class SparkKeysFile(BaseModel):
    """``data/spark-keys.json``."""

    about: str
    spark_version: str
    config_objects: list[str]
    keys: dict[str, KnownKey]
    deprecated: dict[str, Deprecation]
    prefixes: list[str] = Field(description="Key families named by prefix constants, as 'spark.x.y.*' patterns.")


class KeyPattern(BaseModel):
    pattern: str = Field(description="'{name}' matches one dot-free segment; a trailing '*' matches the rest.")
    example: str
    source: str = Field(min_length=8)

    @field_validator("pattern")
    @classmethod
    def _shape(cls, value: str) -> str:
        if not value.startswith("spark.") or "*" in value[:-1]:
            raise ValueError(f"pattern {value!r} must start with 'spark.' and may only end with '*'")
        return value


class PatternFile(BaseModel):
    """``data/spark-key-patterns.json``: curated key families and the few keys no ConfigEntry declares."""

    about: str
    patterns: list[KeyPattern]
    keys: dict[str, str] = Field(description="key -> where it is documented.")


class RapidsKeysFile(BaseModel):
    """``data/rapids-keys.json``."""

    about: str
    sources: dict[str, str]
    keys: dict[str, KnownKey]
    patterns: list[KeyPattern]
    deprecated: dict[str, Deprecation]


@dataclass(frozen=True)
class KeyInfo:
    key: str
    origin: Literal["spark", "rapids", "pattern"]
    known: KnownKey | None
    pattern: str | None = None


def _compile(pattern: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\}|\*$)", pattern)
    regex = "".join("[^.]+" if p.startswith("{") else ".+" if p == "*" else re.escape(p) for p in parts)
    return re.compile(f"^{regex}$")


@dataclass(frozen=True)
class _Registry:
    spark: SparkKeysFile
    rapids: RapidsKeysFile
    extra: dict[str, str]
    patterns: tuple[tuple[str, re.Pattern[str]], ...]
    by_lower: dict[str, str]


@cache
def _registry() -> _Registry:
    spark = load_knowledge("spark-keys.json", SparkKeysFile)
    curated = load_knowledge("spark-key-patterns.json", PatternFile)
    rapids = load_knowledge("rapids-keys.json", RapidsKeysFile)
    texts = [*spark.prefixes, *(p.pattern for p in curated.patterns), *(p.pattern for p in rapids.patterns)]
    concrete = [*spark.keys, *rapids.keys, *curated.keys]
    return _Registry(
        spark=spark,
        rapids=rapids,
        extra=curated.keys,
        patterns=tuple((text, _compile(text)) for text in dict.fromkeys(texts)),
        by_lower={key.lower(): key for key in concrete},
    )


def spark_keys_version() -> str:
    """The Spark version ``data/spark-keys.json`` was generated from."""
    return _registry().spark.spark_version


def deprecated(key: str) -> Deprecation | None:
    """The deprecation (replacement, version, message) of ``key``, or None when it is current or unknown."""
    r = _registry()
    return r.spark.deprecated.get(key) or r.rapids.deprecated.get(key)


def lookup(key: str) -> KeyInfo | None:
    """What is known of ``key``: a declared Spark or RAPIDS key, or a member of a key family."""
    r = _registry()
    if key in r.spark.keys:
        return KeyInfo(key, "spark", r.spark.keys[key])
    if key in r.rapids.keys:
        return KeyInfo(key, "rapids", r.rapids.keys[key])
    if key in r.extra:
        return KeyInfo(key, "spark", None)
    for text, regex in r.patterns:
        if regex.match(key):
            return KeyInfo(key, "pattern", None, pattern=text)
    return None


def is_known(key: str) -> bool:
    """True for a Spark or RAPIDS key (or a member of a known key family) that still has an effect."""
    gone = deprecated(key)
    if gone is not None:
        return not gone.removed
    return lookup(key) is not None


def suggest(key: str, limit: int = 3) -> list[str]:
    """Known keys close to ``key`` (a different case first, then spelling), best first."""
    r = _registry()
    lowered = key.lower()
    exact = r.by_lower.get(lowered)
    if exact is not None and exact != key:
        return [exact]
    # 0.8 keeps real typos (memroy, partition without s) and drops keys that merely share 'spark.sql.'
    close = difflib.get_close_matches(lowered, list(r.by_lower), n=limit, cutoff=0.8)
    return [r.by_lower[c] for c in close if r.by_lower[c] != key]
