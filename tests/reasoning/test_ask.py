"""ask end to end: the no-engine path through the MCP client, and real generation (transformers, HTTP)."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from dgx_spark_mcp.reasoning.ask import ask
from dgx_spark_mcp.reasoning.engines.transformers_local import TransformersEngine
from dgx_spark_mcp.server import build_server
from dgx_spark_mcp.settings import Settings
from dgx_spark_mcp.tools import reasoning as reasoning_tools

from .openai_server import OpenAICompatServer

SECRET = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
LOG = f"""24/05/01 10:00:00 INFO SparkContext: Running Spark version 3.5.1
24/05/01 10:00:05 ERROR Executor: Exception in task 3.0 in stage 12.0 (TID 40) token={SECRET}
java.lang.OutOfMemoryError: Java heap space
\tat java.util.Arrays.copyOf(Arrays.java:3236)
24/05/01 10:00:06 ERROR TaskSetManager: Task 3 in stage 12.0 failed 4 times; aborting job
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    path = tmp_path / "driver.log"
    path.write_text(LOG)
    return path


def _server(settings: Settings) -> Any:
    return build_server(settings)  # server.py registers tools/reasoning.py


def _structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    return result.structured_content or json.loads(result.content[0].text)


@pytest.mark.anyio
@pytest.mark.parametrize("engine_url", ["none", "auto"])
async def test_no_engine_still_answers_with_context(tmp_path: Path, log_file: Path, engine_url: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # "auto" probes one free port where nothing listens: the real probe, answered by a refused connection.
    port = _free_port()
    monkeypatch.setattr(reasoning_tools, "PROBE_OVERRIDE", {"ports": [(port, "nothing")], "probe_timeout_s": 0.3})
    settings = Settings(home=tmp_path / "home", allowed_roots=[str(tmp_path)], log_level="WARNING", engine_url=engine_url)
    async with Client(_server(settings), raise_exceptions=True) as client:
        out = _structured(await client.call_tool("ask", {"question": "why did stage 12 fail?", "log_path": str(log_file)}))
        status = _structured(await client.call_tool("engine_status", {}))
    assert out["answer"] is None and out["engine"] is None
    assert any("No local engine is running" in n for n in out["notes"])
    assert any("trtllm-serve" in c for c in out["start_commands"]) and any("ollama" in c for c in out["start_commands"])
    ids = [b["id"] for b in out["context"]]
    assert ids[0] == "F1" and "H1" in ids
    f1 = out["context"][0]  # the summary gives each block as id, file, lines and the text the model would read
    assert f1["text"].startswith("[F1] ") and "JVM_OOM" in f1["text"] and f1["line_numbers"] == [2, 3]
    assert set(f1) <= {"id", "source", "file", "line_numbers", "text"}
    assert SECRET not in json.dumps(out) and out["redactions"].get("github_token") == 1
    assert out["prompt_tokens_method"] == "estimate" and out["prompt_tokens"] <= out["budget_tokens"] + 512
    assert status["available"] is False
    if engine_url == "auto":
        assert [p["port"] for p in status["probe"]["probes"]] == [port]


def test_budget_drops_the_least_relevant(tmp_path: Path, log_file: Path) -> None:
    settings = Settings(home=tmp_path / "home", allowed_roots=[str(tmp_path)], log_level="WARNING", engine_url="none")
    full = ask("why did stage 12 fail?", settings, log=str(log_file))
    assert not full.dropped
    # A budget with room for the most relevant block only: the rest is listed as dropped, not silently cut.
    from dgx_spark_mcp.reasoning import context

    room = len(full.context[0].text) // 4 + 1  # F1 fits, the job abort (F2) and H1 no longer do
    small = context.fit_blocks([b.model_copy() for b in full.context], "stage 12", room, lambda t: len(t) // 4)
    assert [b.id for b in small.blocks] == ["F1"] and sorted(b.id for b in small.dropped) == ["F2", "H1"]


@pytest.fixture(scope="module")
def local(tiny_model_dir: Path) -> TransformersEngine:
    return TransformersEngine(tiny_model_dir)


@pytest.mark.anyio
async def test_transformers_engine_streams_progress(tmp_path: Path, log_file: Path, tiny_model_dir: Path) -> None:
    settings = Settings(home=tmp_path / "home", allowed_roots=[str(tmp_path)], log_level="WARNING",
                        engine_url="none", engine_kind="transformers", engine_model=str(tiny_model_dir))
    progress: list[tuple[float, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, message))

    async with Client(_server(settings), raise_exceptions=True) as client:
        out = _structured(await client.call_tool("ask", {"question": "why did stage 12 fail?", "log_path": str(log_file),
                                                         "max_tokens": 16, "detail": "full"},
                                                 progress_callback=on_progress))
        status = _structured(await client.call_tool("engine_status", {}))
    assert out["answer"] is not None and out["engine"]["kind"] == "transformers"
    assert 1 <= out["stats"]["completion_tokens"] <= 16
    assert len(progress) >= 1 and [p[0] for p in progress] == list(range(1, len(progress) + 1))
    assert "".join(m or "" for _, m in progress) == out["answer"]
    assert out["prompt_tokens_method"] == "tokenizer"
    # The tiny model's window is 512 tokens and its small vocabulary spends many tokens per word: counted with its
    # own tokenizer, the blocks exceed what is left after the answer and the frame, so they are listed as dropped.
    assert sum(b["tokens"] for b in out.get("context", [])) <= out["budget_tokens"]
    assert out["prompt_tokens"] + 16 <= 512
    # F1 the OOM, F2 the job abort it caused ('failed 4 times; aborting job'), H1 the hardware.
    assert {b["id"] for b in out.get("dropped", [])} | {b["id"] for b in out.get("context", [])} == {"F1", "F2", "H1"}
    assert status["latency"]["calls"] >= 1


def test_http_engine_never_sees_the_secret(tmp_path: Path, log_file: Path, local: TransformersEngine) -> None:
    # The tiny model is built with 512 positions; RoPE positions are computed, so serving it with a 1024 window is
    # real (not faked) generation. The server reports a 1024-token window, so the findings fit (the tiny tokenizer spends many tokens per word).
    local.context_length = 1024
    with OpenAICompatServer(local, context_length=1024) as server:
        settings = Settings(home=tmp_path / "home", allowed_roots=[str(tmp_path)], log_level="WARNING",
                            engine_url=server.base_url, engine_kind="http")
        tokens: list[str] = []
        result = ask("why did stage 12 fail?", settings, log=str(log_file), hardware=False, max_tokens=12,
                     on_token=tokens.append)
        sent = json.dumps(server.chat_requests())
    assert result.answer is not None and result.engine is not None and result.engine.kind == "http"
    assert "".join(tokens) == result.answer
    assert "[F1]" in sent and "JVM_OOM" in sent
    assert SECRET not in sent and "[REDACTED:github_token]" in sent
    # Citations are only ids present in the context; each maps to its block's evidence.
    context_ids = {b.id for b in result.context}
    assert all(c.id in context_ids for c in result.citations)


def test_citation_ids_are_parsed() -> None:
    # Any capital letter is read, so an id the context never had is seen (and reported as unknown), not skipped.
    from dgx_spark_mcp.reasoning.ask import _CITE

    assert _CITE.findall("heap ran out [F1], see [H1] and [Z9]; not [f1] or [F]") == ["F1", "H1", "Z9"]


def _bench(*args: str) -> dict[str, Any]:
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, str(repo / "bench" / "engine.py"), *args], capture_output=True, text=True,
                          timeout=300, cwd=repo)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


@pytest.mark.slow
def test_bench_quick(tiny_model_dir: Path) -> None:
    out = _bench("--quick", "--model-dir", str(tiny_model_dir), "--answer-tokens", "64")
    assert out["speed"]["engine"]["kind"] == "transformers" and out["speed"]["decode_tokens_per_s_median"] > 0
    assert len(out["headline"]) <= 300 and "transformers engine" in out["headline"] and "ask's prompt" in out["headline"]
    prompt = out["prompt"]
    assert prompt["log_bytes"] >= 2 << 20 and prompt["prompt_tokens"] > 0
    # The prompt is counted as sent (frame included) with the engine's tokenizer, and fits its window with the answer.
    assert prompt["prompt_tokens_method"] == "tokenizer" and prompt["window_tokens"] == 512
    assert prompt["prompt_tokens"] + prompt["answer_tokens"] <= prompt["window_tokens"]
    # The log is counted with the same tokenizer on a sample, extrapolated, and says so.
    assert "extrapolated" in prompt["log_tokens_method"] and prompt["log_tokens_method"].startswith("tokenizer")
    assert prompt["log_tokens"] > 50 * prompt["prompt_tokens"]


@pytest.mark.slow
def test_bench_shape_runs_each_quantization_against_the_ceiling() -> None:
    # The same code path the mistral-7b shape takes on a GPU, on the CPU with the tiny shape.
    out = _bench("--shape", "tiny", "--quick", "--bandwidth-tbs", "0.05", "--log-bytes", "0")
    speed = out["speed"]
    assert speed["device"] in ("cpu", "cuda") and speed["bandwidth_tb_s"] == 0.05
    runs = {r["requested"]: r for r in speed["runs"]}
    assert len(out["headline"]) <= 300 and "vs the 0.05 TB/s ceiling" in out["headline"]
    assert list(runs) == ["none", "int8", "int4"] and runs["none"]["quantization"] is None
    assert runs["int8"]["quantization"] == "int8"
    assert runs["int8"]["weight_bytes_resident"] < runs["none"]["weight_bytes_resident"]
    for run in runs.values():
        assert run["decode_tokens_per_s_median"] > 0 and run["weight_bytes_per_token"] < run["weight_bytes_resident"]
        assert run["ceiling_tokens_per_s"] == pytest.approx(0.05e12 / run["weight_bytes_per_token"], rel=1e-3)
        assert run["fraction_of_ceiling"] == pytest.approx(
            run["decode_tokens_per_s_median"] / run["ceiling_tokens_per_s"], abs=2e-3)
    if speed["device"] == "cpu":  # torchao's int4 needs CUDA: the run says what it really got
        assert runs["int4"]["quantization"] == "int8" and runs["int4"]["notes"]
        refused = _bench("--shape", "mistral-7b", "--quick")["speed"]
        assert "needs CUDA" in refused["refused"] and "runs" not in refused


def test_every_input_kind_becomes_citable_blocks(tmp_path: Path) -> None:
    fixtures = Path(__file__).resolve().parents[1] / "fixtures"
    plan = next(p for p in sorted((fixtures / "plans" / "formatted").iterdir()) if p.is_file())
    event_log = fixtures / "eventlogs" / "corpus" / "aqeshuffle_eventlog.zstd"
    config = "spark.executor.memory 1g\nspark.sql.shuffle.partitions 1\nspark.executor.cores 64\n"
    settings = Settings(home=tmp_path / "home", allowed_roots=[str(tmp_path), str(fixtures)], log_level="WARNING",
                        engine_url="none")
    result = ask("what should I change?", settings, event_log=str(event_log), plan=str(plan), config=config)
    prefixes = {b.id[0] for b in result.context + result.dropped}
    assert {"E", "C", "H"} <= prefixes
    assert all(b.text.startswith(f"[{b.id}]") for b in result.context)
    ranks = [b.relevance for b in result.context]
    assert ranks == sorted(ranks, reverse=True)


class _ScriptedEngine:
    """What OpenAICompatServer serves: a fixed answer, streamed in pieces (no model, no tokenizer)."""

    context_length = 8192

    def __init__(self, pieces: list[str]) -> None:
        self.pieces = pieces

    def generate(self, messages: list[dict[str, str]], *, max_tokens: int = 64, temperature: float = 0.0,
                 on_token: Any = None, timeout_s: float = 120.0) -> Any:
        from dgx_spark_mcp.reasoning.engines.base import GenerationStats

        for piece in self.pieces:
            if on_token is not None:
                on_token(piece)
        return "".join(self.pieces), GenerationStats(ttft_s=0.01, seconds=0.02, prompt_tokens=100,
                                                     completion_tokens=len(self.pieces), tokens_per_s=100.0)


def test_a_scripted_answer_maps_its_citations_to_files_and_lines(tmp_path: Path, log_file: Path) -> None:
    fixtures = Path(__file__).resolve().parents[1] / "fixtures"
    event_log = fixtures / "eventlogs" / "corpus" / "aqeshuffle_eventlog.zstd"
    answer = ["The executor ran out of heap in stage 12 [F1]. ", "The shuffle stage also spilled to disk [E2]. ",
              "Raise spark.executor.memory [Z3]; the heap error again [F1]."]
    with OpenAICompatServer(_ScriptedEngine(answer), tokenize=False, usage=False) as server:
        settings = Settings(home=tmp_path / "home", allowed_roots=[str(tmp_path), str(fixtures)], log_level="WARNING",
                            engine_url=server.base_url, engine_kind="http")
        result = ask("why did stage 12 fail?", settings, log=str(log_file), event_log=str(event_log), hardware=False)
    assert result.answer == "".join(answer)
    by_id = {c.id: c for c in result.citations}
    assert list(by_id) == ["F1", "E2"]  # in order of first mention, each once
    assert by_id["F1"].source == "log" and by_id["F1"].file == str(log_file) and by_id["F1"].line_numbers == [2, 3]
    assert by_id["F1"].rule_id == "JVM_OOM"
    assert by_id["E2"].source == "event_log" and by_id["E2"].file == str(event_log)
    assert by_id["E2"].title == next(b.title for b in result.context if b.id == "E2")
    # [Z3] is no block of the context: reported, not silently dropped.
    assert result.unknown_citations == ["Z3"]
    assert any("[Z3], which is not in the context" in n for n in result.notes)
    from dgx_spark_mcp.reasoning.render import render_answer

    text = render_answer(result)
    assert "Cited but not in the context (unsupported): [Z3]" in text and "[F1]" in text


def test_the_summary_of_an_answer_keeps_the_answer_and_citations_and_of_none_the_most_relevant_context() -> None:
    from dgx_spark_mcp.reasoning.ask import SUMMARY_CONTEXT_TOKENS, AskResult, Citation, summarize_answer
    from dgx_spark_mcp.reasoning.context import ContextBlock

    blocks = [ContextBlock(id=f"F{i}", source="log", file="x.log", line_numbers=[i], severity="error", rule_id="R",
                           title=f"t{i}", text=f"[F{i}] " + "word " * 400, tokens=500, relevance=3.0 - i / 10)
              for i in range(1, 6)]
    base = AskResult(question="q", answer=None, citations=[], context=blocks, dropped=blocks[:1], prompt_tokens=1,
                     prompt_tokens_method="estimate", budget_tokens=5000, engine=None, stats=None, redactions={},
                     notes=[])
    none = summarize_answer(base)
    assert [b.id for b in none.context] == ["F1", "F2"]  # the most relevant, up to the summary's budget
    assert sum(b.tokens or 0 for b in blocks[:2]) <= SUMMARY_CONTEXT_TOKENS < sum(b.tokens or 0 for b in blocks[:3])
    assert none.context[0].rule_id is None and none.context[0].text == blocks[0].text and not none.dropped
    assert none.more == "detail='full' adds 3 more context block(s) and 1 dropped, with each block's severity and ranking"
    answered = summarize_answer(base.model_copy(update={
        "answer": "Because [F1].", "citations": [Citation(id="F1", source="log", file="x.log", line_numbers=[1],
                                                          rule_id="R", title="t1")]}))
    assert answered.answer == "Because [F1]." and answered.citations and not answered.context
    assert answered.more is not None and "5 more context block(s)" in answered.more
