"""analyze_query_plan's summary (the plan at a glance and the findings) and its full answer (the operator tree
a page at a time, lists cut with a note): a 1,001-operator plan stays a small answer either way."""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

import pytest
from mcp import Client

from dgx_spark_mcp.diagnosis.plans.analysis import (
    LIST_LIMIT,
    NODE_PAGE,
    analyze_query_plan,
)
from dgx_spark_mcp.errors import BadInputError
from dgx_spark_mcp.settings import Settings
from dgx_spark_mcp.tools.answers import compact

from ..conftest import REPO, structured
from .answer_size import answer_tokens

UDF_PLAN = REPO / "tests" / "fixtures" / "plans" / "formatted" / "spark355_python_udf__sql0.txt"


def _generated_plan(joins: int) -> str:
    """The plan bench/plan_analysis.py and the agent-tokens bench analyse: a chain of sort-merge joins."""
    spec = importlib.util.spec_from_file_location("plan_analysis_bench", REPO / "bench" / "plan_analysis.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("plan_analysis_bench", module)
    spec.loader.exec_module(module)
    text: str = module.generated_plan(joins)
    return text


@pytest.fixture(scope="module")
def big_plan() -> str:
    return _generated_plan(500)  # 1,001 operators


def test_a_summary_of_a_thousand_operators_is_the_plan_at_a_glance(settings: Settings, big_plan: str) -> None:
    summary = analyze_query_plan(big_plan, settings, detail="summary")
    data = compact(summary)
    assert summary.summary.node_count == 1001 and "nodes" not in data and "next_cursor" not in data
    assert not {"joins", "exchanges", "estimates"} & set(data["summary"])
    assert summary.summary.joins_by_type == {"SortMergeJoin Inner": 500} and summary.summary.shuffle_exchanges == 500
    assert answer_tokens(summary) <= 1_000
    assert summary.more and "the operator tree" in summary.more


def test_the_full_answer_pages_the_tree_and_cuts_its_lists_with_a_note(settings: Settings, big_plan: str) -> None:
    first = analyze_query_plan(big_plan, settings)
    assert len(first.nodes) == NODE_PAGE and first.next_cursor
    assert len(first.summary.joins) == len(first.summary.exchanges) == LIST_LIMIT
    assert first.more and "joins (25 of 500)" in first.more and "cursor=next_cursor" in first.more
    assert answer_tokens(first) <= 8_000
    seen: list[Any] = list(first.nodes)
    cursor = first.next_cursor
    while cursor:
        page = analyze_query_plan(big_plan, settings, cursor=cursor)
        assert page.findings == first.findings and page.summary == first.summary
        seen += page.nodes
        cursor = page.next_cursor
    assert len(seen) == 1001 and len({n.id for n in seen}) == 1001
    assert all(n.parent is None or n.parent in {m.id for m in seen[:i]} for i, n in enumerate(seen))


def test_a_cursor_belongs_to_its_plan_and_to_the_full_answer(settings: Settings, big_plan: str) -> None:
    cursor = analyze_query_plan(big_plan, settings).next_cursor
    with pytest.raises(BadInputError, match="other arguments"):
        analyze_query_plan(_generated_plan(499), settings, cursor=cursor)
    with pytest.raises(BadInputError, match="only detail='full' lists"):
        analyze_query_plan(big_plan, settings, detail="summary", cursor=cursor)


def test_the_summary_keeps_the_findings_in_order_with_the_node_that_shows_them(settings: Settings) -> None:
    full = analyze_query_plan(UDF_PLAN.read_text(), settings, path=str(UDF_PLAN))
    summary = analyze_query_plan(UDF_PLAN.read_text(), settings, path=str(UDF_PLAN), detail="summary")
    assert [f.rule_id for f in summary.findings] == [f.rule_id for f in full.findings]
    brief, whole = summary.findings[0].evidence[0], full.findings[0].evidence[0]
    assert brief.plan_node == whole.plan_node == 3 and brief.lines == whole.lines and brief.file is None
    assert full.references and all(c.ref in full.references for f in full.findings if f.fix for c in f.fix.changes)
    assert not summary.references


@pytest.mark.anyio
async def test_the_tool_answers_the_summary_and_pages_the_full_tree(client: Client, big_plan: str) -> None:
    summary = structured(await client.call_tool("analyze_query_plan", {"plan": big_plan}))
    full = structured(await client.call_tool("analyze_query_plan", {"plan": big_plan, "detail": "full"}))
    assert "nodes" not in summary and len(full["nodes"]) == NODE_PAGE
    assert summary["findings"][0]["rule_id"] == full["findings"][0]["rule_id"]
    page = structured(await client.call_tool("analyze_query_plan", {"plan": big_plan, "detail": "full",
                                                                    "cursor": full["next_cursor"]}))
    assert page["nodes"][0]["id"] != full["nodes"][0]["id"]
