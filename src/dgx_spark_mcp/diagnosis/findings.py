"""What a diagnosis returns: findings with a category, the evidence behind them, and a fix.

One model for every diagnosis (logs, event logs, Airflow, query plans), so an agent reads
them the same way.  Categories are the stable vocabulary of ``data/diagnosis-categories.json``
(the log-signatures knowledge file); ``rule_id`` names the signature or rule that matched.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from ..optimizers.models import ConfigChange

__all__ = ["DiagnosisFinding", "Evidence", "Fix", "Severity"]

Severity = Literal["info", "warning", "error", "critical"]


class Evidence(BaseModel):
    """Where a finding was seen: the lines, and how often the same message repeated."""

    file: str | None = Field(default=None, description="The file (None for pasted text).")
    line_numbers: list[int] = Field(default_factory=list, description="1-based lines of the quoted text (event logs: "
                                    "the lines of the events quoted).")
    lines: list[str] = Field(default_factory=list, description="The lines themselves, trimmed; bounded in number.")
    occurrences: int = Field(default=1, ge=1, description="How many times this message (template) appeared.")
    first_line: int | None = Field(default=None, description="First occurrence, when it repeated.")
    last_line: int | None = Field(default=None, description="Last occurrence, when it repeated.")
    template: str | None = Field(default=None, description="The message template repeated lines share (<*> = variable).")
    role: Literal["cause", "wrapper", "context"] = Field(
        default="cause", description="cause: the innermost error; wrapper: what wrapped it (Py4JJavaError, job aborted); "
        "context: lines that explain it."
    )
    plan_node: int | None = Field(default=None, description="The query-plan node's id, for plan findings.")
    job_ids: list[int] = Field(default_factory=list, description="Spark jobs the lines are about (event logs).")
    stage_ids: list[int] = Field(default_factory=list, description="Stages the lines name (event logs: the first few "
                                 "of every occurrence).")
    task_ids: list[int] = Field(default_factory=list, description="Task ids (TID) the lines name (event logs: the first "
                                "few failed tasks).")
    note: str | None = Field(default=None, description="What to know when reading the lines, e.g. that some held bytes "
                             "that are not UTF-8, shown as U+FFFD.")


class Fix(BaseModel):
    summary: str = Field(description="What to do, in prose.")
    changes: list[ConfigChange] = Field(default_factory=list, description="Concrete configuration changes, sized to the "
                                        "hardware when it is known.")


class DiagnosisFinding(BaseModel):
    category: str = Field(description="Stable category (see the diagnosis://categories resource).")
    rule_id: str = Field(description="The signature or rule that matched, e.g. JVM_OOM, CARTESIAN_PRODUCT.")
    severity: Severity
    title: str
    root_cause: str = Field(description="The cause in one sentence.")
    evidence: list[Evidence] = Field(default_factory=list)
    fix: Fix | None = None
