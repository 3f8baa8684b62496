"""The llm_calls log in the DuckDB store and its latency summary."""

from __future__ import annotations

from pathlib import Path

import pytest

from dgx_spark_mcp.reasoning.calls import record_call, recent_latency
from dgx_spark_mcp.reasoning.engines.base import EngineError
from dgx_spark_mcp.reasoning.engines.http import HttpEngine
from dgx_spark_mcp.reasoning.engines.transformers_local import TransformersEngine
from dgx_spark_mcp.settings import Settings
from dgx_spark_mcp.store import connect

from .openai_server import OpenAICompatServer

MESSAGES = [{"role": "user", "content": "Why is stage 7 slow?"}]


@pytest.fixture(scope="module")
def local(tiny_model_dir: Path) -> TransformersEngine:
    return TransformersEngine(tiny_model_dir)


def test_empty_log(settings: Settings) -> None:
    summary = recent_latency(settings)
    assert summary.calls == 0 and summary.failures == 0 and summary.median_ttft_s is None and summary.last_at is None


def test_records_real_calls(settings: Settings, local: TransformersEngine) -> None:
    stats = []
    for _ in range(3):
        _, s = local.generate(MESSAGES, max_tokens=6)
        record_call(settings, local, s)
        stats.append(s)
    with OpenAICompatServer(local, die_after_chunks=1) as server:
        engine = HttpEngine(server.base_url)
        with pytest.raises(EngineError) as info:
            engine.generate(MESSAGES, max_tokens=6)
        record_call(settings, engine, info.value.partial_stats, info.value)

    summary = recent_latency(settings)
    assert summary.calls == 4 and summary.failures == 1
    ttfts = sorted(s.ttft_s for s in stats)
    assert summary.median_ttft_s == pytest.approx(ttfts[1])
    assert summary.median_tokens_per_s is not None and summary.median_tokens_per_s > 0
    assert summary.last_error is not None and "mid-answer" in summary.last_error
    assert summary.models == ["tiny-mistral", local.model]
    assert recent_latency(settings, limit=1).calls == 1

    with connect(settings) as con:
        rows = con.execute("SELECT kind, endpoint, ok, prompt_tokens, completion_tokens FROM llm_calls ORDER BY \"at\"").fetchall()
    assert [r[0] for r in rows] == ["transformers"] * 3 + ["http"]
    assert rows[0][1] is None and rows[3][1] == server.base_url
    assert rows[0][2] is True and rows[3][2] is False
    assert rows[0][3] == stats[0].prompt_tokens and rows[0][4] == stats[0].completion_tokens


def test_a_store_that_cannot_be_written_does_not_raise(tmp_path: Path, local: TransformersEngine) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    settings = Settings(home=blocker / "home", allowed_roots=[str(tmp_path)], log_level="WARNING")
    _, s = local.generate(MESSAGES, max_tokens=2)
    record_call(settings, local, s)  # logged as a warning, the answer goes on
