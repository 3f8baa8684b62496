"""What a diagnosis returns: findings with a category, the evidence behind them, and a fix.

One model for every diagnosis (logs, event logs, Airflow, query plans), so an agent reads
them the same way.  Categories are the stable vocabulary of ``data/diagnosis-categories.json``
(the log-signatures knowledge file); ``rule_id`` names the signature or rule that matched.

A change's document is named once per answer: :func:`cite` moves each ``reference`` into the
answer's ``references`` table and leaves the id (``ref``) on the change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

from pydantic import BaseModel, Field

from ...optimizers.models import ConfigChange

__all__ = ["DiagnosisFinding", "Evidence", "Fix", "Severity", "cite", "cite_findings"]

Severity = Literal["info", "warning", "error", "critical"]


class Evidence(BaseModel):
    """Where a finding was seen: the lines, and how often the same message repeated."""

    file: str | None = Field(default=None, description="The file (None for pasted text, and in a summary for the log "
                             "or plan file the answer is about).")
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


def cite(changes: Iterable[ConfigChange], references: dict[str, str], known: Mapping[str, str] | None = None
         ) -> list[ConfigChange]:
    """The changes with each document moved into ``references`` (id -> document, filled in place): the id a
    knowledge file gives it (``known``: document -> id), else R1, R2, ... in order of first use."""
    ids = {doc: ref for ref, doc in references.items()}
    cited = []
    for given in changes:
        change = given
        if change.reference is None:
            cited.append(change)
            continue
        ref = ids.get(change.reference) or (known or {}).get(change.reference) or f"R{len(references) + 1}"
        references.setdefault(ref, change.reference)
        ids[change.reference] = ref
        cited.append(change.model_copy(update={"reference": None, "ref": ref}))
    return cited


def cite_findings(findings: Iterable[DiagnosisFinding], references: dict[str, str]) -> list[DiagnosisFinding]:
    """Copies of the findings whose fixes point into ``references`` (filled in place) instead of naming documents."""
    out = []
    for finding in findings:
        if finding.fix is not None and any(c.reference is not None for c in finding.fix.changes):
            fix = finding.fix.model_copy(update={"changes": cite(finding.fix.changes, references)})
            finding = finding.model_copy(update={"fix": fix})
        out.append(finding)
    return out
