"""ask never fails because of the engine: a refused connection, an engine dying mid-answer or one past the timeout
gives the context-only answer with a note saying what failed (and the partial text, labelled), through the MCP
client and the CLI alike."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from dgx_spark_mcp.cli import main
from dgx_spark_mcp.reasoning.ask import ask
from dgx_spark_mcp.reasoning.calls import recent_latency
from dgx_spark_mcp.reasoning.engines.transformers_local import TransformersEngine
from dgx_spark_mcp.server import build_server
from dgx_spark_mcp.settings import Settings

from .openai_server import OpenAICompatServer

LOG = """24/05/01 10:00:00 INFO SparkContext: Running Spark version 3.5.1
24/05/01 10:00:05 ERROR Executor: Exception in task 3.0 in stage 12.0 (TID 40)
java.lang.OutOfMemoryError: Java heap space
\tat java.util.Arrays.copyOf(Arrays.java:3236)
24/05/01 10:00:06 ERROR TaskSetManager: Task 3 in stage 12.0 failed 4 times; aborting job
"""
QUESTION = "why did stage 12 fail?"


@pytest.fixture(scope="module")
def local(tiny_model_dir: Path) -> TransformersEngine:
    engine = TransformersEngine(tiny_model_dir)
    # The server reports a 1024-token window so the findings fit the tiny tokenizer; RoPE positions are computed, so
    # generating past the 512 the tiny model was built with is real generation.
    engine.context_length = 1024
    return engine


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    path = tmp_path / "driver.log"
    path.write_text(LOG)
    return path


def _settings(tmp_path: Path, url: str, **extra: Any) -> Settings:
    return Settings(home=tmp_path / "home", allowed_roots=[str(tmp_path)], log_level="WARNING", engine_url=url,
                    engine_kind="http", **extra)


def _structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    return result.structured_content or json.loads(result.content[0].text)


def _assert_context_only(out: dict[str, Any]) -> None:
    assert out["answer"] is None
    assert [b["id"] for b in out["context"]][:1] == ["F1"] and "JVM_OOM" in out["context"][0]["text"]
    assert out["start_commands"] and out["engine"]["kind"] == "http"


@pytest.mark.anyio
async def test_engine_dying_mid_answer_through_the_mcp_client(tmp_path: Path, log_file: Path,
                                                             local: TransformersEngine) -> None:
    progress: list[str] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append(message or "")

    with OpenAICompatServer(local, context_length=1024, die_after_chunks=3) as server:
        settings = _settings(tmp_path, server.base_url)
        async with Client(build_server(settings), raise_exceptions=True) as client:
            out = _structured(await client.call_tool(
                "ask", {"question": QUESTION, "log_path": str(log_file), "hardware": False, "max_tokens": 24},
                progress_callback=on_progress))
    _assert_context_only(out)
    assert len(progress) == 3 and out["partial_answer"] == "".join(progress)
    assert "mid-answer" in out["engine_error"] and server.base_url in out["engine_error"]
    assert any("partial_answer, incomplete and unchecked" in n for n in out["notes"])
    assert out["stats"]["completion_tokens"] >= 1  # what came before the failure is still measured
    latency = recent_latency(settings)
    assert latency.calls == 1 and latency.failures == 1 and "mid-answer" in (latency.last_error or "")


@pytest.mark.anyio
async def test_refused_connection_through_the_mcp_client(tmp_path: Path, log_file: Path,
                                                        local: TransformersEngine) -> None:
    # The server lists its model (so the engine resolves), then stops listening: the chat request is refused.
    with OpenAICompatServer(local, context_length=1024, refuse_after_listing=True) as server:
        settings = _settings(tmp_path, server.base_url)
        async with Client(build_server(settings), raise_exceptions=True) as client:
            started = time.monotonic()
            out = _structured(await client.call_tool("ask", {"question": QUESTION, "log_path": str(log_file)}))
    assert time.monotonic() - started < 10
    _assert_context_only(out)
    assert "partial_answer" not in out and out["stats"] is None
    assert "cannot reach" in out["engine_error"] and "EngineError" in out["engine_error"]
    assert any("failed, so there is no answer" in n for n in out["notes"])


def test_engine_past_the_timeout_setting_is_stopped(tmp_path: Path, log_file: Path, local: TransformersEngine) -> None:
    with OpenAICompatServer(local, context_length=1024, sleep_s=30) as server:
        settings = _settings(tmp_path, server.base_url, engine_timeout_s=0.5)
        started = time.monotonic()
        result = ask(QUESTION, settings, log=str(log_file), hardware=False)
    assert time.monotonic() - started < 5
    assert result.answer is None and result.engine_error is not None
    assert "did not answer within the timeout" in result.engine_error


def test_timeout_setting_comes_from_the_environment() -> None:
    assert Settings.load({}).engine_timeout_s == 120.0
    assert Settings.load({"DGX_SPARK_MCP_ENGINE_TIMEOUT_S": "7.5"}).engine_timeout_s == 7.5
    with pytest.raises(ValueError, match="engine_timeout_s"):
        Settings.load({"DGX_SPARK_MCP_ENGINE_TIMEOUT_S": "0"})


@pytest.fixture
def cli_flags(tmp_path: Path, log_file: Path) -> list[str]:
    return ["--home", str(tmp_path / "home"), "--allowed-roots", str(tmp_path), "--log-level", "WARNING"]


def test_cli_engine_dying_mid_answer(tmp_path: Path, log_file: Path, local: TransformersEngine, cli_flags: list[str],
                                     capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    with OpenAICompatServer(local, context_length=1024, die_after_chunks=2) as server:
        monkeypatch.setenv("DGX_SPARK_MCP_ENGINE_URL", server.base_url)
        assert main(["ask", QUESTION, "--log", str(log_file), "--max-tokens", "16", *cli_flags, "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert main(["ask", QUESTION, "--log", str(log_file), "--max-tokens", "16", *cli_flags]) == 0
        text = capsys.readouterr().out
    _assert_context_only(out)
    assert out["partial_answer"] and "mid-answer" in out["engine_error"]
    # Plain text: the partial answer was streamed as it came, then the failure and the context.
    assert "The http engine failed:" in text and "[F1]" in text and "partial_answer" in text


def test_cli_refused_connection(tmp_path: Path, log_file: Path, local: TransformersEngine, cli_flags: list[str],
                                capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    with OpenAICompatServer(local, context_length=1024, refuse_after_listing=True) as server:
        monkeypatch.setenv("DGX_SPARK_MCP_ENGINE_URL", server.base_url)
        assert main(["ask", QUESTION, "--log", str(log_file), *cli_flags, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    _assert_context_only(out)
    assert "cannot reach" in out["engine_error"]
