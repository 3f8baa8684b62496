"""What ``check_spark_config`` answers: findings with their keys' locations, fixes and skipped rules."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from .config_sources import ConfigFormat, ParsedKey
from .models import ConfigChange

__all__ = ["SEVERITY_RANK", "Category", "CheckResult", "Finding", "KeyRef", "Severity", "SeverityCounts", "SkippedRule"]

# The vocabulary of findings; the rule registry (rules.py) uses the same words.
Severity = Literal["info", "warning", "error", "critical"]
SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "error": 2, "critical": 3}
Category = Literal[
    "memory", "cores", "parallelism", "serialization", "aqe", "dynamic-allocation", "joins", "driver",
    "rapids", "security", "deprecated", "unknown-key", "hygiene", "values",
]


class KeyRef(BaseModel):
    """A key a finding is about, and where it is written (None when it is not set at all)."""

    key: str
    value: str | None = Field(
        default=None, description="The value as written (secrets redacted); None when unset or computed."
    )
    line: int | None = None
    column: int | None = None
    cell: int | None = None
    origin: str | None = Field(default=None, description="How it was set ('--conf', '.config()', ...); None when unset.")


class Finding(BaseModel):
    rule_id: str = Field(description="Stable rule id; read spark://rules/{rule_id} for the rule in full.")
    severity: Severity
    category: Category
    title: str
    message: str = Field(description="What is wrong, with the actual values.")
    keys: list[KeyRef] = Field(description="The keys involved, with their source locations.")
    fix: list[ConfigChange] = Field(
        default_factory=list, description="Concrete changes; recommended_value None = remove the key."
    )
    suggestions: list[str] = Field(default_factory=list, description="For unknown keys: known keys it may be a typo of.")
    reference: str = Field(description="The main document behind the rule.")


class SkippedRule(BaseModel):
    rule_id: str
    reason: str = Field(description="Why it was not evaluated, and what would let it run.")


class SeverityCounts(BaseModel):
    critical: int = 0
    error: int = 0
    warning: int = 0
    info: int = 0


class CheckResult(BaseModel):
    format: ConfigFormat = Field(description="How the input was read.")
    language: str | None = Field(description="The job's language, when known (python enables the PySpark rules).")
    deploy_mode: str | None = Field(
        description="Cluster manager the rules assumed (given, or read from spark.master); None if unknown."
    )
    hardware: str | None = Field(description="The hardware the hardware-aware rules used; None when none was given.")
    spark_keys_version: str = Field(description="Spark version the known-keys list was generated from.")
    findings: list[Finding] = Field(description="Most severe first, then by line; cut to the limit.")
    findings_total: int
    counts: SeverityCounts = Field(description="Findings by severity, all of them.")
    keys_read: int = Field(description="Keys read from the input.")
    parsed: list[ParsedKey] = Field(default_factory=list, description="With detail='full': every key read, in order, "
                                    "with its line (secret values redacted).")
    skipped: list[SkippedRule] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    more: str | None = Field(default=None, description="What was left out, and the call that returns it.")
