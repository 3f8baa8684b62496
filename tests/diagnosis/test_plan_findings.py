"""The plan-rule registry: every rule flags its fail examples and leaves its pass examples alone."""

from __future__ import annotations

import pytest

from dgx_spark_mcp.diagnosis.findings.signatures import categories
from dgx_spark_mcp.diagnosis.plans.findings import (
    MATCHERS,
    PlanExamples,
    PlanRule,
    find_plan_issues,
    plan_rules,
)
from dgx_spark_mcp.diagnosis.plans.parser import parse_plan

RULES = plan_rules().rules
CASES = [(rule, kind, i) for rule in RULES for kind, examples in (("fail", rule.examples.fail), ("pass", rule.examples.passing))
         for i in range(len(examples))]


def _example(rule: PlanRule, kind: str, i: int) -> str:
    return PlanExamples.expanded((rule.examples.fail if kind == "fail" else rule.examples.passing)[i])


@pytest.mark.parametrize(("rule", "kind", "i"), CASES, ids=lambda v: v.id if isinstance(v, PlanRule) else str(v))
def test_rule_flags_its_fail_examples_and_passes_its_pass_examples(rule: PlanRule, kind: str, i: int) -> None:
    found = find_plan_issues(parse_plan(_example(rule, kind, i)), rules=[rule])
    if kind == "pass":
        assert found == []
        return
    assert found and all(f.category == rule.category and f.rule_id == rule.id for f in found)
    finding = found[0]
    assert finding.fix is not None and finding.fix.summary == rule.fix
    assert finding.evidence and finding.evidence[0].lines  # the node (id + text) or RAPIDS' own line
    assert "{node}" not in finding.root_cause and "{count}" not in finding.root_cause


def test_registry_covers_every_plan_category_once_with_a_matcher() -> None:
    # Plan categories, and large_task_binary: a plan's long IN list is what makes a task binary large.
    plan_categories = {c.name for c in categories().categories if c.group == "plan"} | {"large_task_binary"}
    assert sorted(r.category for r in RULES) == sorted(plan_categories) == sorted(MATCHERS)
    assert len({r.id for r in RULES}) == len(RULES)


def test_every_config_change_has_a_reason_and_reference_and_thresholds_a_source() -> None:
    for rule in RULES:
        for change in rule.changes:
            assert change.reason and change.reference.startswith("https://"), rule.id
        if rule.threshold is not None:
            assert rule.threshold.value > 0 and rule.threshold.source, rule.id
    assert next(r for r in RULES if r.category == "many_exchanges").threshold is not None


def test_the_healthy_example_trips_no_rule_at_all() -> None:
    healthy = next(r for r in RULES if r.id == "CARTESIAN_PRODUCT").examples.passing[0]
    assert find_plan_issues(parse_plan(healthy)) == []


def test_findings_come_most_severe_first_and_name_their_nodes() -> None:
    rules = {r.id: r for r in RULES}
    text = rules["CARTESIAN_PRODUCT"].examples.fail[0].replace("*(2) Scan ExistingRDD[b#1L]",
                                                              "ObjectHashAggregate(keys=[b#1L], functions=[collect_list(c#2)])")
    found = find_plan_issues(parse_plan(text))
    assert [f.category for f in found] == ["cartesian_product", "object_hash_aggregate"]
    assert found[0].evidence[0].plan_node == 1 and found[0].evidence[0].lines == ["(1) CartesianProduct"]
    assert found[1].severity == "info"


def test_partial_and_final_halves_of_an_aggregate_are_one_finding() -> None:
    rule = next(r for r in RULES if r.id == "OBJECT_HASH_AGGREGATE")
    found = find_plan_issues(parse_plan(rule.examples.fail[0]), rules=[rule])
    assert len(found) == 1 and found[0].evidence[0].occurrences == 2 and len(found[0].evidence) == 2


def test_a_long_in_list_in_formatted_details_is_counted_before_the_details_are_cut() -> None:
    plan = PlanExamples.expanded(
        "== Physical Plan ==\n* Filter (2)\n+- * Range (1)\n\n\n(1) Range [codegen id : 1]\nOutput [1]: [id#0L]\n\n"
        "(2) Filter [codegen id : 1]\nInput [1]: [id#0L]\nCondition : id#0L INSET <12000 values>\n")
    found = find_plan_issues(parse_plan(plan), rules=[r for r in RULES if r.id == "LARGE_LITERAL_LIST"])
    assert [f.category for f in found] == ["large_task_binary"]
    assert "Filter (id 2:" in found[0].root_cause and "(INSET) in 12,000 literal values" in found[0].root_cause
    assert len(found[0].root_cause) < 1_000  # the list itself is not quoted


def test_event_log_plans_get_their_in_list_sizes_from_the_details_the_outline_drops() -> None:
    from dgx_spark_mcp.diagnosis.eventlogs.diagnose import _place_literals
    from dgx_spark_mcp.diagnosis.eventlogs.listener import _inset_literals, plan_outline

    text = PlanExamples.expanded(
        "== Physical Plan ==\nAdaptiveSparkPlan (5)\n+- == Final Plan ==\n   ResultQueryStage (4)\n   +- * Filter (2)\n"
        "      +- * Range (1)\n\n\n(1) Range\nOutput [1]: [id#0L]\n\n(2) Filter [codegen id : 1]\nInput [1]: [id#0L]\n"
        "Condition : id#0L INSET <15000 values>\n")
    literals = _inset_literals(text)
    assert literals == {(2, "Filter"): 15000}
    plan = parse_plan(plan_outline(text))
    _place_literals(plan, literals)
    assert [(n.operator, n.literals) for n in plan.nodes if n.literals] == [("Filter", 15000)]


def test_an_event_logs_plan_says_when_it_funnels_into_one_partition() -> None:
    from dgx_spark_mcp.diagnosis.eventlogs.listener import funnels_into_one_partition, plan_outline

    text = ("== Physical Plan ==\nAdaptiveSparkPlan (4)\n+- Sort (3)\n   +- Exchange (2)\n      +- Scan csv  (1)\n\n\n"
            "(1) Scan csv\nOutput [1]: [a#0]\n\n(2) Exchange\nInput [1]: [a#0]\n"
            "Arguments: SinglePartition, REPARTITION_BY_NUM, [plan_id=12]\n\n(3) Sort\nInput [1]: [a#0]\n")
    assert funnels_into_one_partition(text) and "Arguments" not in plan_outline(text)
    hashed = text.replace("SinglePartition, REPARTITION_BY_NUM", "hashpartitioning(a#0, 200), ENSURE_REQUIREMENTS")
    assert not funnels_into_one_partition(hashed)
