"""What an agent pays to read us: every answer of bench/agent_tokens.py's call set, on small inputs of the
same shapes, under the hard cap; tools/list within its budget; every tool in the set.

Sizes, not times: the same inputs give the same token counts on any machine, so they are asserted here
and guard every tool added later (a tool with no call in the set fails the coverage test)."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

BENCH = Path(__file__).resolve().parent.parent / "bench"
HARD_CAP = 8_000
TOOLS_LIST_BUDGET = 6_000
PER_TOOL_BUDGET = 450
"""The most one tool's model-visible definition (name, description, input schema) may cost."""


def _bench() -> Any:
    spec = importlib.util.spec_from_file_location("agent_tokens", BENCH / "agent_tokens.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["agent_tokens"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], dict[str, Any], Any]:
    bench = _bench()
    work = tmp_path_factory.mktemp("agent-tokens")
    inputs = bench.prepare(work, bench.SCALES["small"])
    with bench.history_server(work) as url:  # a real Spark History Server for the live tools' calls
        rows, listed = asyncio.run(bench.run_calls(inputs, bench.settings_for(work, url), bench.calls(inputs)))
    return rows, listed, bench


def test_every_answer_of_the_call_set_stays_under_the_hard_cap(measured: Any) -> None:
    rows, _, _ = measured
    over = [f"{r['tool']} ({r['label']}): {r['tokens']:,} tokens" for r in rows if r["tokens"] > HARD_CAP]
    assert not over, over
    wrong = [f"{r['tool']} ({r['label']}): {'an error' if r['is_error'] else 'an answer'}" for r in rows
             if r["is_error"] != r["expect_error"]]
    assert not wrong, f"calls of the set that got what they should not: {wrong}"


def test_every_listed_tool_has_a_call_in_the_set(measured: Any) -> None:
    rows, listed, _ = measured
    assert set(listed["per_tool"]) <= {r["tool"] for r in rows}


def test_tools_list_fits_its_budget_and_no_tool_takes_more_than_its_share(measured: Any) -> None:
    _, listed, _ = measured
    assert listed["model_visible"] <= TOOLS_LIST_BUDGET, listed["per_tool"]
    big = {name: n for name, n in listed["per_tool"].items() if n > PER_TOOL_BUDGET}
    assert not big, big


def test_the_text_and_the_structured_content_say_the_same_once(measured: Any) -> None:
    """One rendering: the text block is the structured content as compact JSON, not a second, longer copy."""
    rows, _, _ = measured
    for row in rows:
        if row["structured_tokens"]:
            assert row["text_tokens"] <= row["structured_tokens"] + 5, row


def test_tokens_are_counted_with_a_real_tokenizer() -> None:
    bench = _bench()
    assert bench.tokens("hello world") == 2
    long = '{"a":1},' * 40_000  # past the tokenizer's single-input limit: counted in pieces
    assert bench.tokens(long) >= 40_000
