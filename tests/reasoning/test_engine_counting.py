"""How an OpenAI-compatible engine's prompt is counted (engine_tokenizer, the server's /tokenize, an estimate), and
what Ollama's native API tells about its model (quantization, trained context, the window it serves)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from dgx_spark_mcp.errors import BadInputError
from dgx_spark_mcp.reasoning.ask import ask
from dgx_spark_mcp.reasoning.engines.base import estimate_prompt_tokens
from dgx_spark_mcp.reasoning.engines.http import OLLAMA_DEFAULT_CONTEXT, HttpEngine
from dgx_spark_mcp.reasoning.engines.tokenizer import load_tokenizer
from dgx_spark_mcp.reasoning.engines.transformers_local import TransformersEngine
from dgx_spark_mcp.reasoning.status import engine_status
from dgx_spark_mcp.settings import Settings

from .openai_server import OpenAICompatServer

MESSAGES = [
    {"role": "system", "content": "You diagnose Spark jobs."},
    {"role": "user", "content": "Stage 4 lost 12 tasks to ExecutorLostFailure on 10.0.0.3; what now?"},
]


@pytest.fixture(scope="module")
def local(tiny_model_dir: Path) -> TransformersEngine:
    return TransformersEngine(tiny_model_dir)


def _exact(local: TransformersEngine, messages: list[dict[str, str]] = MESSAGES) -> int:
    return local.count_tokens(local.render_prompt(messages))


@pytest.mark.parametrize("style", ["vllm", "llama.cpp"])
def test_the_server_counts_the_prompt_with_its_template(local: TransformersEngine, style: str) -> None:
    with OpenAICompatServer(local, tokenize_style=style) as server:
        engine = HttpEngine(server.base_url)
        assert engine.describe()["token_count_method"] == "server"
        assert engine.count_prompt_tokens(MESSAGES) == _exact(local)
        assert engine.count_tokens("ExecutorLostFailure") == local.count_tokens("ExecutorLostFailure")
        bodies = [b or {} for _, path, b in server.requests if path in ("/tokenize", "/apply-template")]
    if style == "vllm":  # the messages themselves go to /tokenize: the served template is applied there
        assert any(b.get("messages") == MESSAGES and b.get("add_generation_prompt") is True for b in bodies)
    else:  # llama.cpp renders with /apply-template, then counts the text
        assert any(b.get("messages") == MESSAGES for b in bodies)


@pytest.mark.parametrize("form", ["directory", "tokenizer.json", "tokenizer.json+jinja"])
def test_engine_tokenizer_counts_exactly_with_any_server(local: TransformersEngine, tiny_model_dir: Path,
                                                         tmp_path: Path, form: str) -> None:
    if form == "directory":
        location = str(tiny_model_dir)
    else:
        shutil.copy(tiny_model_dir / "tokenizer.json", tmp_path / "tokenizer.json")
        if form == "tokenizer.json+jinja":
            shutil.copy(tiny_model_dir / "chat_template.jinja", tmp_path / "chat_template.jinja")
        location = str(tmp_path / "tokenizer.json")
    # A server that cannot count at all (trtllm-serve, Ollama): the local files make the count exact anyway.
    with OpenAICompatServer(local, tokenize=False, usage=False) as server:
        engine = HttpEngine(server.base_url, tokenizer=location)
        assert engine.token_count_method == "tokenizer"
        count = engine.count_prompt_tokens(MESSAGES)
        _, stats = engine.generate(MESSAGES, max_tokens=4)
        asked = [p for _, p, _ in server.requests if p == "/tokenize"]
    assert stats.token_count_method == "tokenizer" and asked == []
    if form == "tokenizer.json":
        # No template beside the file: the turns are counted exactly, the template markers estimated.
        assert engine.render_prompt(MESSAGES).startswith("<|system|>")
        assert any("no chat template" in n for n in engine.notes)
        assert abs(count - _exact(local)) <= 10
    else:
        assert count == _exact(local) and stats.prompt_tokens == count


def test_estimate_without_a_tokenizer_or_a_counting_server(local: TransformersEngine) -> None:
    with OpenAICompatServer(local, tokenize=False) as server:
        engine = HttpEngine(server.base_url)
        assert engine.count_prompt_tokens(MESSAGES) == estimate_prompt_tokens(MESSAGES)
        assert engine.describe()["token_count_method"] == "estimate"


def test_a_bad_engine_tokenizer_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="without tokenizer.json"):
        load_tokenizer(str(tmp_path))
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(BadInputError, match="neither a directory nor a tokenizer.json"):
        load_tokenizer(str(tmp_path / "notes.txt"))
    (tmp_path / "tokenizer.json").write_text("{}")
    with pytest.raises(BadInputError, match="not a tokenizer.json"):
        load_tokenizer(str(tmp_path / "tokenizer.json"))


def test_ask_says_which_method_counted(tmp_path: Path, local: TransformersEngine, tiny_model_dir: Path) -> None:
    log = tmp_path / "driver.log"
    log.write_text("24/05/01 10:00:05 ERROR Executor: Exception in task 3.0 in stage 12.0 (TID 40)\n"
                   "java.lang.OutOfMemoryError: Java heap space\n")
    with OpenAICompatServer(local, tokenize=False, context_length=4096) as server:
        base = Settings(home=tmp_path / "home", allowed_roots=[str(tmp_path)], log_level="WARNING",
                        engine_url=server.base_url, engine_kind="http")
        estimated = ask("why did it fail?", base, log=str(log), hardware=False, max_tokens=4)
        exact = ask("why did it fail?", base.model_copy(update={"engine_tokenizer": str(tiny_model_dir)}), log=str(log),
                    hardware=False, max_tokens=4)
        sent = server.chat_requests()[-1]["messages"]
    assert estimated.prompt_tokens_method == "estimate" and exact.prompt_tokens_method == "tokenizer"
    # The whole prompt, counted as it was sent: system prompt, context, question and the chat template.
    assert exact.prompt_tokens == _exact(local, sent)
    assert estimated.prompt_tokens == estimate_prompt_tokens(sent)


# ---- Ollama -------------------------------------------------------------------------------------------------


def _ollama(parameters: str | None = None, ps_context: int | None = None) -> dict[str, Any]:
    """Bodies shaped like Ollama 0.12's /api/tags, /api/show and /api/ps for mistral:7b."""
    details = {"parent_model": "", "format": "gguf", "family": "llama", "families": ["llama"],
               "parameter_size": "7.2B", "quantization_level": "Q4_K_M"}
    show: dict[str, Any] = {
        "license": "Apache License 2.0", "template": "[INST] {{ .Prompt }} [/INST]", "details": details,
        "model_info": {"general.architecture": "llama", "general.parameter_count": 7248023552,
                       "llama.context_length": 32768, "llama.embedding_length": 4096, "llama.block_count": 32},
        "capabilities": ["completion", "tools"], "modified_at": "2026-02-01T10:00:00Z",
    }
    if parameters is not None:
        show["parameters"] = parameters
    bodies: dict[str, Any] = {
        "tags": {"models": [{"name": "mistral:7b", "model": "mistral:7b", "size": 4372824384,
                             "digest": "6577803aa9a0", "details": details}]},
        "show": show,
    }
    if ps_context is not None:
        bodies["ps"] = {"models": [{"name": "mistral:7b", "model": "mistral:7b", "size": 5137025024,
                                    "details": details, "context_length": ps_context}]}
    return bodies


@pytest.mark.parametrize(
    ("parameters", "ps_context", "window", "why"),
    [
        ('num_ctx                        8192\nstop                           "[INST]"', None, 8192, "num_ctx"),
        (None, 16384, 16384, "/api/ps"),
        (None, None, OLLAMA_DEFAULT_CONTEXT, "OLLAMA_CONTEXT_LENGTH"),
        ("num_ctx 65536", None, 32768, "num_ctx"),  # never more than the model was trained for
    ],
)
def test_ollama_reports_quantization_and_the_window_it_serves(
    local: TransformersEngine, tmp_path: Path, parameters: str | None, ps_context: int | None, window: int, why: str
) -> None:
    with OpenAICompatServer(local, model_name="mistral:7b", tokenize=False,
                            ollama=_ollama(parameters, ps_context)) as server:
        settings = Settings(home=tmp_path / "home", allowed_roots=[str(tmp_path)], log_level="WARNING",
                            engine_url=server.base_url.replace("/v1", ""), engine_kind="http")
        status = engine_status(settings)
        shows = [b for _, p, b in server.requests if p == "/api/show"]
    assert status.engine is not None
    assert status.engine.quantization == "Q4_K_M" and status.engine.context_length == window
    assert status.engine.token_count_method == "estimate"
    note = " ".join(status.engine.notes)
    assert "trained for 32768 tokens" in note and f"{window}-token window" in note and why in note
    assert shows and shows[0] == {"model": "mistral:7b"}
    assert json.loads(status.model_dump_json())["engine"]["quantization"] == "Q4_K_M"


def test_a_server_that_is_not_ollama_is_not_asked_again(local: TransformersEngine) -> None:
    # vLLM-like: the listing carries the window, so Ollama's routes are never tried.
    with OpenAICompatServer(local) as server:
        engine = HttpEngine(server.base_url)
        paths = [p for _, p, _ in server.requests]
    assert engine.context_length == 512 and engine.quantization is None
    assert not any(p.startswith("/api/") for p in paths)
