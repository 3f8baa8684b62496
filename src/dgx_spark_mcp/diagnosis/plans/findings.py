"""Findings over a parsed plan: the plan categories of the diagnosis vocabulary.

The rules (ids, categories, severities, operator names, thresholds, fixes and their pass/fail
example plans) are data in ``data/plan-rules.json``; this module holds one small matcher per
category, because what "matches" means differs (an operator name, a scan without filters, a
count over the whole plan).  A registry test runs every rule against its examples.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Literal

from pydantic import BaseModel, Field

from ...knowledge import load_knowledge
from ...optimizers.models import ConfigChange
from ..findings.model import DiagnosisFinding, Evidence, Fix, Severity
from .parser import ParsedPlan, PlanNode

__all__ = ["PlanRule", "PlanRules", "find_plan_issues", "plan_rules"]

EVIDENCE_NODES = 5
"""Nodes quoted per finding: enough to find them in the plan, few enough to read."""


class Threshold(BaseModel):
    value: float
    unit: str
    source: str = Field(description="Where the number comes from (a document, or why it was chosen).")


class PlanExamples(BaseModel):
    """Plans a rule must flag and plans it must leave alone.  ``<N values>`` in one stands for the list
    ``0, 1, ..., N-1`` (:meth:`expanded`): a rule about long IN lists needs thousands of them."""

    fail: list[str] = Field(min_length=1, description="Plans the rule must flag.")
    passing: list[str] = Field(alias="pass", min_length=1, description="Plans the rule must leave alone.")

    @staticmethod
    def expanded(example: str) -> str:
        return re.sub(r"<(\d+) values>", lambda m: ", ".join(map(str, range(int(m.group(1))))), example)


class PlanRule(BaseModel):
    id: str
    category: Literal[
        "cartesian_product", "broadcast_nested_loop_join", "python_udf", "no_pushed_filters", "full_partition_scan",
        "single_partition_exchange", "sort_aggregate", "object_hash_aggregate", "skewed_join", "many_exchanges",
        "cpu_fallback", "large_task_binary",
    ]
    severity: Severity
    title: str
    why: str = Field(description="Why it hurts, one sentence; '{node}' is replaced by the node.")
    fix: str
    operators: list[str] = Field(default_factory=list, description="Canonical operator names the rule looks for.")
    ignore_operators: list[str] = Field(default_factory=list, description="Operators the rule leaves alone.")
    trivial_filters: list[str] = Field(
        default_factory=list, description="Pushed predicates that prune nothing (no_pushed_filters), e.g. IsNotNull."
    )
    threshold: Threshold | None = None
    warn_above: Threshold | None = Field(default=None, description="Counted rules: at or under this count the finding "
                                         "is information, above it the rule's severity.")
    changes: list[ConfigChange] = Field(default_factory=list)
    examples: PlanExamples


class PlanRules(BaseModel):
    about: str
    rules: list[PlanRule]


@cache
def plan_rules() -> PlanRules:
    return load_knowledge("plan-rules.json", PlanRules)


Hit = list[PlanNode]
Matcher = Callable[[PlanRule, ParsedPlan], list[Hit]]


def _each(nodes: list[PlanNode]) -> list[Hit]:
    return [[node] for node in nodes]


def _together(nodes: list[PlanNode]) -> list[Hit]:
    """One finding for all the nodes: a partial and a final aggregate are one problem, not two."""
    return [nodes] if nodes else []


def _by_operator(rule: PlanRule, plan: ParsedPlan) -> list[Hit]:
    return _together([n for n in plan.nodes if n.operator in rule.operators])


def _ancestors(node: PlanNode, index: dict[int, PlanNode]) -> list[PlanNode]:
    found, parent = [], node.parent
    while parent is not None and parent in index and len(found) < 50:
        found.append(index[parent])
        parent = index[parent].parent
    return found


def _no_pushed_filters(rule: PlanRule, plan: ParsedPlan) -> list[Hit]:
    """A file scan under a Filter that pushed nothing but null checks: the filter runs on every row read."""
    index = {n.id: n for n in plan.nodes}
    trivial = tuple(rule.trivial_filters)
    hits = []
    for node in plan.nodes:
        if node.scan is None or not (node.scan.location or node.scan.format):
            continue
        pushed = node.scan.pushed_filters if node.scan.pushed_filters is not None else []
        if any(not f.startswith(trivial) for f in pushed):
            continue
        for above in _ancestors(node, index):  # the Filter sits right above, past projections and row converters
            if above.operator == "Filter":
                # a condition beyond null checks that the source did not take
                condition = re.sub(r"isnotnull\([^()]*\)", "", above.full_text()[len(above.name):])
                if re.search(r"[<>=]|\bIN\b|\bLIKE\b|[a-z]\(", condition):
                    hits.append([node, above])
                break
            if above.operator not in rule.operators:
                break
    return hits


def _full_partition_scan(rule: PlanRule, plan: ParsedPlan) -> list[Hit]:
    return _each([n for n in plan.nodes if n.scan is not None and n.scan.partitioned and not n.scan.partition_filters])


_ONE = re.compile(r"(?:Arguments: )?1")


def _single_partition_exchange(rule: PlanRule, plan: ParsedPlan) -> list[Hit]:
    """``Exchange SinglePartition`` that moves whole rows (a final global aggregate over partial results is fine), and
    ``Coalesce 1``."""
    index = {n.id: n for n in plan.nodes}
    hits = []
    for node in plan.nodes:
        if node.operator == "Coalesce" and _ONE.fullmatch(" ".join(node.full_text().split()[1:])):
            hits.append([node])  # coalesce(1): no shuffle, but every upstream operator of the stage runs in one task
            continue
        if node.exchange is None or node.exchange.partitioning != "single":
            continue
        below = [index[c] for c in node.children if c in index]
        pre_reduced = any(
            c.operator in rule.ignore_operators and ("partial_" in c.full_text() or "Aggregate" not in c.operator)
            for c in below
        )
        if not pre_reduced:
            hits.append([node])
    return hits


def _skewed_join(rule: PlanRule, plan: ParsedPlan) -> list[Hit]:
    return _together([
        n for n in plan.nodes
        if "skew=true" in n.text or (n.operator in rule.operators and re.search(r"\bskewed\b", n.full_text()))
    ])


def _many_exchanges(rule: PlanRule, plan: ParsedPlan) -> list[Hit]:
    assert rule.threshold is not None
    shuffles = [n for n in plan.nodes if n.exchange is not None and n.exchange.kind == "shuffle"]
    return [shuffles] if len(shuffles) > rule.threshold.value else []


def _cpu_fallback(rule: PlanRule, plan: ParsedPlan) -> list[Hit]:
    """CPU operators next to accelerated ones: each boundary costs a row/columnar conversion and a copy."""
    if not any(n.accelerator for n in plan.nodes):
        return []
    index = {n.id: n for n in plan.nodes}
    hits = []
    for node in plan.nodes:
        if node.accelerator or node.operator in rule.ignore_operators or node.name.startswith("Execute "):
            continue
        neighbours = [index[i] for i in [*node.children, node.parent] if i is not None and i in index]
        if any(n.accelerator for n in neighbours) or any(
            n.operator in rule.operators and any(index[c].accelerator for c in n.children if c in index)
            for n in neighbours
        ):
            hits.append([node])
    return hits


def _large_literal_list(rule: PlanRule, plan: ParsedPlan) -> list[Hit]:
    assert rule.threshold is not None
    return [[n] for n in plan.nodes if n.literals >= rule.threshold.value]


MATCHERS: dict[str, Matcher] = {
    "cartesian_product": _by_operator,
    "broadcast_nested_loop_join": _by_operator,
    "python_udf": _by_operator,
    "sort_aggregate": _by_operator,
    "object_hash_aggregate": _by_operator,
    "no_pushed_filters": _no_pushed_filters,
    "full_partition_scan": _full_partition_scan,
    "single_partition_exchange": _single_partition_exchange,
    "skewed_join": _skewed_join,
    "many_exchanges": _many_exchanges,
    "cpu_fallback": _cpu_fallback,
    "large_task_binary": _large_literal_list,
}


def _operator_says(node: PlanNode) -> str:
    """The node's line and details, short: what it does (the UDFs it calls, its partitioning, its join condition)."""
    text = " ".join(node.full_text().split())
    return text if len(text) <= 160 else text[:159] + "…"


def _node_label(node: PlanNode) -> str:
    label = f"({node.id}) {node.text}"
    return label if len(label) <= 1_000 else label[:999] + "…"  # a simple-mode line holds whole IN lists


def _finding(rule: PlanRule, hit: Hit, file: str | None, extra: list[str]) -> DiagnosisFinding:
    first = hit[0]
    count = len(hit)
    more = f" and {count - 1} more" if count > 1 and rule.category not in ("no_pushed_filters", "many_exchanges") else ""
    why = rule.why.replace("{node}", f"{first.name} (id {first.id}: {_operator_says(first)}){more}").replace(
        "{count}", str(count)).replace("{literals}", f"{first.literals:,}")
    evidence = [
        Evidence(file=file, lines=[_node_label(n)], plan_node=n.id, role="cause" if i == 0 else "context")
        for i, n in enumerate(hit[:EVIDENCE_NODES])
    ]
    if len(hit) > 1 and rule.category != "no_pushed_filters":
        evidence[0].occurrences = len(hit)  # e.g. the partial and final halves of one aggregate
    if extra:
        evidence.append(Evidence(file=file, lines=extra[:EVIDENCE_NODES], occurrences=len(extra), role="context"))
    severity = rule.severity if rule.warn_above is None or count > rule.warn_above.value else "info"
    return DiagnosisFinding(
        category=rule.category, rule_id=rule.id, severity=severity, title=rule.title, root_cause=why,
        evidence=evidence, fix=Fix(summary=rule.fix, changes=list(rule.changes)),
    )


_SEVERITY_ORDER = {"critical": 0, "error": 1, "warning": 2, "info": 3}


def _fallback_said(notes: list[str]) -> str:
    """What the accelerator's own verdicts say: how many, and the first one."""
    if all(n.startswith("!Comet: ") for n in notes):
        return (f"Comet reported {len(notes)} operator(s) it leaves to Spark (not native), starting with: "
                f"{notes[0].removeprefix('!Comet: ')[:300]}.")
    return f"RAPIDS reported {len(notes)} operator(s) or expression(s) that cannot run on the GPU, starting with: {notes[0][:300]}"


def find_plan_issues(plan: ParsedPlan, file: str | None = None, rules: list[PlanRule] | None = None) -> list[DiagnosisFinding]:
    """Every rule over ``plan``; most severe first, one finding per offending node (many_exchanges: one)."""
    findings = []
    for rule in rules if rules is not None else plan_rules().rules:
        hits = MATCHERS[rule.category](rule, plan)
        # RAPIDS' own verdicts ('!Exec <X> cannot run on GPU because ...') are the best evidence of a fallback
        notes = [n for n in plan.fallback_notes if n.startswith("!")] if rule.category == "cpu_fallback" else []
        findings += [_finding(rule, hit, file, notes) for hit in hits]
        if notes and not hits:
            findings.append(DiagnosisFinding(
                category=rule.category, rule_id=rule.id, severity=rule.severity, title=rule.title,
                root_cause=_fallback_said(notes),
                evidence=[Evidence(file=file, lines=notes[:EVIDENCE_NODES], occurrences=len(notes))],
                fix=Fix(summary=rule.fix, changes=list(rule.changes)),
            ))
    findings.sort(key=lambda f: _SEVERITY_ORDER[f.severity])
    return findings
