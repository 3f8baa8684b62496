"""The best-practice rule registry: ``data/best-practices.json`` as typed rules.

A rule is knowledge (why, the anti-pattern, the better practice, the fix, references, numeric
thresholds with units and sources, named pass/fail cases); the code that evaluates it lives in
:mod:`.checks`, one function per rule id.  Ids are stable and never reused: a renamed rule keeps
its old id as an alias.  ``docs/rules.md`` is rendered from this registry by
``scripts/gen_rules_doc.py``, never written by hand.
"""

from __future__ import annotations

import difflib
from functools import cache
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from ..errors import BadInputError
from ..knowledge import load_knowledge
from .check_models import SEVERITY_RANK, Category, Severity
from .models import DeployMode

__all__ = [
    "Category",
    "Grade",
    "Rule",
    "RuleBook",
    "RuleCase",
    "RuleIndex",
    "RuleSummary",
    "Severity",
    "SEVERITY_RANK",
    "Threshold",
    "get_rule",
    "list_rules",
    "render_rules_markdown",
    "rule_book",
    "rule_index",
]

Unit = Literal["GiB", "MiB", "bytes", "cores", "executors", "tasks per core", "tasks", "fraction"]


class Threshold(BaseModel):
    value: float
    unit: Unit
    source: str = Field(min_length=8, description="Where the number comes from ('derived: ...' when computed).")


class Grade(BaseModel):
    """One band of a graded rule: above ``threshold`` the finding has ``severity``."""

    threshold: str
    label: str = Field(description="The band's name in messages, e.g. 'critical band'.")
    severity: Severity


class Reference(BaseModel):
    title: str
    url: str = Field(min_length=8)


class Fix(BaseModel):
    text: str = Field(min_length=10)
    keys: list[str] = Field(min_length=1, description="The keys the fix changes.")


class RuleCase(BaseModel):
    """A named configuration the rule must pass (no finding) or fail (at least one finding) on."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    config: dict[str, str | int | float | bool]
    expect: Literal["pass", "fail"]
    hardware: str | None = Field(default=None, description="A hardware profile name, for hardware-aware rules.")
    deploy_mode: DeployMode | None = None
    language: Literal["python", "scala", "java", "sql", "r"] | None = None
    format: Literal["json", "conf", "submit", "source"] = "json"
    text: str | None = Field(default=None, description="Config text for non-json formats (config is then empty).")


class Rule(BaseModel):
    id: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    aliases: list[str] = Field(default_factory=list)
    title: str
    category: Category
    severity: Severity = Field(description="The highest severity the rule reports.")
    grades: list[Grade] = Field(default_factory=list, description="Graded rules: bands in ascending order.")
    needs_hardware: bool = Field(
        default=False, description="Needs the hardware argument; when it applies without one it is listed as skipped."
    )
    rationale: str = Field(min_length=20)
    anti_pattern: str = Field(min_length=10)
    best_practice: str = Field(min_length=10)
    fix: Fix
    references: list[Reference] = Field(min_length=1)
    thresholds: dict[str, Threshold] = Field(default_factory=dict)
    cases: list[RuleCase] = Field(min_length=2)

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        for grade in self.grades:
            if grade.threshold not in self.thresholds:
                raise ValueError(f"rule {self.id}: grade {grade.label!r} names unknown threshold {grade.threshold!r}")
        values = [self.thresholds[g.threshold].value for g in self.grades]
        if values != sorted(values):
            raise ValueError(f"rule {self.id}: grades must be in ascending order of their thresholds")
        if self.grades and max(SEVERITY_RANK[g.severity] for g in self.grades) != SEVERITY_RANK[self.severity]:
            raise ValueError(f"rule {self.id}: severity must be the highest severity of its grades")
        names = [c.name for c in self.cases]
        if len(set(names)) != len(names):
            raise ValueError(f"rule {self.id}: case names must be unique")
        return self

    def threshold(self, name: str) -> float:
        return self.thresholds[name].value

    def threshold_bytes(self, name: str) -> int:
        """A size threshold in bytes (GiB and MiB are binary, as Spark's sizes are)."""
        t = self.thresholds[name]
        factor = {"GiB": 1024**3, "MiB": 1024**2, "bytes": 1}.get(t.unit)
        if factor is None:
            raise ValueError(f"rule {self.id}: threshold {name!r} is in {t.unit}, not a size")
        return int(t.value * factor)


class RuleBook(BaseModel):
    """``data/best-practices.json``."""

    about: str
    rules: list[Rule]

    @model_validator(mode="after")
    def _unique(self) -> RuleBook:
        seen: dict[str, str] = {}
        for rule in self.rules:
            for name in (rule.id, *rule.aliases):
                if name in seen:
                    raise ValueError(f"rule name {name!r} is used by both {seen[name]} and {rule.id}")
                seen[name] = rule.id
        return self


@cache
def rule_book() -> RuleBook:
    return load_knowledge("best-practices.json", RuleBook)


def list_rules() -> tuple[Rule, ...]:
    return tuple(rule_book().rules)


def get_rule(name: str) -> Rule:
    """The rule with this id or alias; a clear error naming the closest ids otherwise."""
    wanted = name.strip().lower()
    for rule in list_rules():
        if wanted == rule.id or wanted in rule.aliases:
            return rule
    names = [n for r in list_rules() for n in (r.id, *r.aliases)]
    close = difflib.get_close_matches(wanted, names, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise BadInputError(
        f"unknown rule id {name!r}.{hint} Read spark://best-practices for the list of rule ids."
    )


def _threshold_line(name: str, t: Threshold) -> str:
    return f"| `{name}` | {t.value:g} {t.unit} | {t.source} |"


def render_rules_markdown(book: RuleBook) -> str:
    """``docs/rules.md``: every rule with its rationale, fix, thresholds, references and cases."""
    out = [
        "# Spark configuration rules",
        "",
        "<!-- Generated by scripts/gen_rules_doc.py from data/best-practices.json. Do not edit. -->",
        "",
        "The rules `check_spark_config` (CLI: `dgx-spark-mcp check`) evaluates. Severity is the",
        "highest the rule reports; graded rules report the band the value falls in.",
        "",
        "| id | category | severity | title |",
        "|---|---|---|---|",
    ]
    out += [f"| [`{r.id}`](#{r.id}) | {r.category} | {r.severity} | {r.title} |" for r in book.rules]
    for r in book.rules:
        out += ["", f"## {r.id}", "", f"**{r.title}** — {r.category}, {r.severity}"]
        if r.aliases:
            out.append(f"(aliases: {', '.join(f'`{a}`' for a in r.aliases)})")
        if r.needs_hardware:
            out.append("Needs the `hardware` argument; when it applies and none is given, it is listed under `skipped`.")
        out += ["", r.rationale, "", f"- Anti-pattern: {r.anti_pattern}", f"- Best practice: {r.best_practice}",
                f"- Fix: {r.fix.text} (keys: {', '.join(f'`{k}`' for k in r.fix.keys)})"]
        if r.grades:
            bands = ", ".join(f"{g.label} above {r.thresholds[g.threshold].value:g} "
                              f"{r.thresholds[g.threshold].unit} → {g.severity}" for g in r.grades)
            out.append(f"- Bands: {bands}")
        if r.thresholds:
            out += ["", "| threshold | value | source |", "|---|---|---|"]
            out += [_threshold_line(name, t) for name, t in r.thresholds.items()]
        out += ["", "References:"]
        out += [f"- [{ref.title}]({ref.url})" if ref.url.startswith("http") else f"- {ref.title}: {ref.url}"
                for ref in r.references]
        out += ["", "Cases: " + ", ".join(f"`{c.name}` ({c.expect})" for c in r.cases)]
    return "\n".join(out) + "\n"


class RuleSummary(BaseModel):
    """A rule in the index of spark://best-practices."""

    id: str
    aliases: list[str]
    title: str
    category: Category
    severity: Severity
    needs_hardware: bool
    best_practice: str
    keys: list[str] = Field(description="The keys the rule's fix changes.")
    uri: str = Field(description="The resource with the rule in full.")


class RuleIndex(BaseModel):
    rules: list[RuleSummary]


def rule_index() -> RuleIndex:
    return RuleIndex(rules=[
        RuleSummary(id=r.id, aliases=r.aliases, title=r.title, category=r.category, severity=r.severity,
                    needs_hardware=r.needs_hardware, best_practice=r.best_practice, keys=r.fix.keys,
                    uri=f"spark://rules/{r.id}")
        for r in list_rules()
    ])
