"""The best-practice registry stays honest: every rule documented, checked, exemplified, and in the docs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from dgx_spark_mcp.errors import BadInputError
from dgx_spark_mcp.optimizers.checker import check_config
from dgx_spark_mcp.optimizers.checks import load_checks
from dgx_spark_mcp.optimizers.checks.context import Context
from dgx_spark_mcp.optimizers.config_sources import ConfigFormat, parse_dict
from dgx_spark_mcp.optimizers.rules import Rule, RuleBook, RuleCase, get_rule, list_rules, render_rules_markdown, rule_book

from ..conftest import REPO

RULES = list_rules()
CASES = [(rule, case) for rule in RULES for case in rule.cases]


def _run(rule: Rule, case: RuleCase, with_hardware: bool = True) -> tuple[list[Any], list[Any]]:
    config: dict[str, Any] | str = case.text if case.text is not None else case.config
    result = check_config(
        config, ConfigFormat(case.format), hardware=case.hardware if with_hardware else None,
        deploy_mode=case.deploy_mode, language=case.language,
    )
    return ([f for f in result.findings if f.rule_id == rule.id],
            [s for s in result.skipped if s.rule_id == rule.id])


def test_every_rule_has_a_check_and_every_check_a_rule() -> None:
    checks = set(load_checks())
    ids = {r.id for r in RULES}
    assert ids - checks == set(), "rules without a check function"
    assert checks - ids == set(), "check functions without a rule in data/best-practices.json"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_every_rule_is_documented_and_has_pass_and_fail_cases(rule: Rule) -> None:
    assert rule.rationale.strip() and rule.anti_pattern.strip() and rule.best_practice.strip()
    assert rule.fix.text.strip() and rule.fix.keys
    assert rule.references and all(ref.url.startswith("https://") for ref in rule.references)
    assert {c.expect for c in rule.cases} == {"pass", "fail"}, "needs at least one pass and one fail case"
    for threshold in rule.thresholds.values():
        assert threshold.source.strip()
    if rule.needs_hardware:
        assert any(c.hardware for c in rule.cases), "a hardware rule's cases must name a hardware profile"


@pytest.mark.parametrize(("rule", "case"), CASES, ids=[f"{r.id}:{c.name}" for r, c in CASES])
def test_rule_case(rule: Rule, case: RuleCase) -> None:
    mine, skipped = _run(rule, case)
    assert not skipped, f"{rule.id} was skipped on its own case: {skipped}"
    if case.expect == "fail":
        assert mine, f"{rule.id} should report {case.name}"
        assert all(f.severity in ("info", "warning", "error", "critical") for f in mine)
    else:
        assert mine == [], f"{rule.id} should pass {case.name}: {[f.message for f in mine]}"


HARDWARE_FAILS = [(r, c) for r, c in CASES if r.needs_hardware and c.expect == "fail"]


@pytest.mark.parametrize(("rule", "case"), HARDWARE_FAILS, ids=[f"{r.id}:{c.name}" for r, c in HARDWARE_FAILS])
def test_hardware_rules_say_they_were_skipped_instead_of_passing(rule: Rule, case: RuleCase) -> None:
    mine, skipped = _run(rule, case, with_hardware=False)
    assert mine == [] and len(skipped) == 1
    assert "hardware" in skipped[0].reason


def test_docs_rules_md_is_generated_from_the_registry() -> None:
    committed = (REPO / "docs" / "rules.md").read_text(encoding="utf-8")
    assert committed == render_rules_markdown(rule_book()), "docs/rules.md is stale: run scripts/gen_rules_doc.py"


def test_rules_md_names_every_rule_and_threshold_source() -> None:
    text = render_rules_markdown(rule_book())
    for rule in RULES:
        assert f"## {rule.id}" in text
        for threshold in rule.thresholds.values():
            assert threshold.source in text


def test_graded_rule_reports_the_band_the_value_falls_in() -> None:
    rule = get_rule("executor-memory-band")
    check = load_checks()[rule.id]
    low = check(Context(parse_dict({"spark.executor.memory": "12g"})), rule)
    high = check(Context(parse_dict({"spark.executor.memory": "30g"})), rule)
    assert isinstance(low, list) and isinstance(high, list)
    assert low[0].severity == "info" and "low band" in low[0].message
    assert high[0].severity == "warning"
    assert high[0].message.startswith("spark.executor.memory is 30g, above the 25g critical band")


def test_thresholds_come_from_the_data_not_the_code() -> None:
    rule = get_rule("executor-memory-band")
    data = rule.model_dump()
    data["thresholds"]["critical"]["value"] = 40
    moved = Rule.model_validate(data)
    result = load_checks()[rule.id](Context(parse_dict({"spark.executor.memory": "30g"})), moved)
    assert isinstance(result, list)
    assert "severe band" in result[0].message and "critical" not in result[0].message


def test_a_rule_is_found_by_its_alias() -> None:
    assert get_rule("drelephant-executor-memory").id == "executor-memory-band"


def test_an_unknown_rule_id_names_the_close_ones() -> None:
    with pytest.raises(BadInputError, match="executor-memory-band"):
        get_rule("executor-memory-bands")


def test_an_id_used_twice_is_refused_when_loading() -> None:
    data = json.loads((REPO / "data" / "best-practices.json").read_text(encoding="utf-8"))
    data["rules"][1]["aliases"].append(data["rules"][0]["id"])
    with pytest.raises(ValidationError, match="is used by both"):
        RuleBook.model_validate(data)


def test_grades_must_name_declared_thresholds_in_order() -> None:
    data = get_rule("executor-cores-band").model_dump()
    data["grades"][0]["threshold"] = "nope"
    with pytest.raises(ValidationError, match="unknown threshold"):
        Rule.model_validate(data)
    data = get_rule("executor-cores-band").model_dump()
    data["grades"].reverse()
    with pytest.raises(ValidationError, match="ascending"):
        Rule.model_validate(data)
