"""The HTTP engine against a real OpenAI-compatible server on loopback serving the tiny model."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from dgx_spark_mcp.errors import BadInputError, CouldNotDoError
from dgx_spark_mcp.reasoning.engines.base import EngineError
from dgx_spark_mcp.reasoning.engines.http import HttpEngine, context_length_of, normalize_base_url
from dgx_spark_mcp.reasoning.engines.transformers_local import TransformersEngine

from .openai_server import OpenAICompatServer

MESSAGES = [
    {"role": "system", "content": "You diagnose Spark jobs."},
    {"role": "user", "content": "Stage 4 lost 12 tasks to ExecutorLostFailure; what now?"},
]


@pytest.fixture(scope="module")
def local(tiny_model_dir: Path) -> TransformersEngine:
    return TransformersEngine(tiny_model_dir)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_streams_through_the_server(local: TransformersEngine) -> None:
    expected, expected_stats = local.generate(MESSAGES, max_tokens=20)
    with OpenAICompatServer(local) as server:
        engine = HttpEngine(server.base_url)
        chunks: list[str] = []
        text, stats = engine.generate(MESSAGES, max_tokens=20, on_token=chunks.append)
        body = server.chat_requests()[-1]
    assert engine.model == "tiny-mistral" and engine.endpoint == server.base_url
    assert text == expected  # greedy: the server's engine and the local one agree token for token
    assert len(chunks) > 1 and "".join(chunks) == text
    assert stats.completion_tokens == expected_stats.completion_tokens
    assert stats.prompt_tokens == expected_stats.prompt_tokens
    assert stats.token_count_method == "server"  # from the usage chunk
    assert stats.ttft_s is not None and 0 < stats.ttft_s <= stats.seconds
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["max_tokens"] == 20 and body["temperature"] == 0.0


def test_context_length_and_server_tokenizer(local: TransformersEngine) -> None:
    with OpenAICompatServer(local) as server:
        engine = HttpEngine(server.base_url)
        assert engine.context_length == 512
        n = engine.count_tokens("ExecutorLostFailure on 10.0.0.3")
        assert n == local.count_tokens("ExecutorLostFailure on 10.0.0.3")
        assert engine.token_count_method == "server"
        posts = [p for m, p, _ in server.requests if p == "/tokenize"]
        engine.count_tokens("again")
        assert len([p for m, p, _ in server.requests if p == "/tokenize"]) == len(posts) + 1


def test_without_usage_or_tokenize_counts_with_the_local_tokenizer(local: TransformersEngine, tiny_model_dir: Path) -> None:
    with OpenAICompatServer(local, usage=False, tokenize=False, context_length=0) as server:
        engine = HttpEngine(server.base_url, tokenizer=str(tiny_model_dir))
        text, stats = engine.generate(MESSAGES, max_tokens=10)
        assert engine.context_length is None  # the listing does not say
        assert stats.token_count_method == "tokenizer"
        assert stats.prompt_tokens == local.count_tokens(local.render_prompt(MESSAGES))
        assert stats.completion_tokens == local.count_tokens(text)
        # The local tokenizer comes first: the server is never asked to count.
        engine.count_tokens("one")
        engine.count_tokens("two")
        assert [p for m, p, _ in server.requests if p == "/tokenize"] == []


def test_estimate_when_nothing_better(local: TransformersEngine) -> None:
    with OpenAICompatServer(local, usage=False, tokenize=False) as server:
        engine = HttpEngine(server.base_url)
        assert engine.count_tokens("x" * 40) == 10
        assert engine.token_count_method == "estimate"
        _, stats = engine.generate(MESSAGES, max_tokens=6)
        assert stats.token_count_method == "estimate" and stats.completion_tokens >= 1


def test_non_streaming_contract(local: TransformersEngine) -> None:
    from openai import OpenAI

    with OpenAICompatServer(local) as server:
        client = OpenAI(base_url=server.base_url, api_key="not-needed", max_retries=0)
        reply = client.chat.completions.create(model="tiny-mistral", messages=MESSAGES, max_tokens=7)  # type: ignore[arg-type]
        client.close()
    assert reply.choices[0].message.role == "assistant"
    assert reply.usage is not None and 1 <= reply.usage.completion_tokens <= 7
    assert reply.choices[0].finish_reason in ("stop", "length")


def test_model_choice(local: TransformersEngine) -> None:
    with OpenAICompatServer(local) as server:
        assert HttpEngine(server.base_url, "tiny-mistral").model == "tiny-mistral"
        with pytest.raises(BadInputError, match="'llama-70b' is not served .* tiny-mistral"):
            HttpEngine(server.base_url, "llama-70b")


def test_connection_refused_names_the_url() -> None:
    url = f"http://127.0.0.1:{_free_port()}/v1"
    started = time.monotonic()
    with pytest.raises(CouldNotDoError, match=f"nothing is listening at {url}/models"):
        HttpEngine(url)
    assert time.monotonic() - started < 5


def test_server_gone_before_generate(local: TransformersEngine) -> None:
    server = OpenAICompatServer(local).start()
    engine = HttpEngine(server.base_url, max_retries=1)
    server.stop()
    started = time.monotonic()
    with pytest.raises(EngineError, match=f"cannot reach {server.base_url}/chat/completions") as info:
        engine.generate(MESSAGES, max_tokens=4, timeout_s=5)
    assert info.value.partial_text == ""
    assert time.monotonic() - started < 3  # one bounded retry, not the whole timeout


def test_server_sleeping_past_the_timeout(local: TransformersEngine) -> None:
    with OpenAICompatServer(local, sleep_s=30) as server:
        engine = HttpEngine(server.base_url)
        started = time.monotonic()
        with pytest.raises(EngineError, match="did not answer within the timeout") as info:
            engine.generate(MESSAGES, max_tokens=4, timeout_s=0.5)
        elapsed = time.monotonic() - started
    assert elapsed < 2.0  # no retry of a timed-out request
    assert str(server.base_url) in str(info.value)
    assert isinstance(info.value, CouldNotDoError)


@pytest.mark.parametrize("how", ["reset", "eof"])
def test_server_dying_mid_stream_keeps_the_partial_text(local: TransformersEngine, how: str) -> None:
    full, _ = local.generate(MESSAGES, max_tokens=20)
    with OpenAICompatServer(local, die_after_chunks=3, die_how=how) as server:
        engine = HttpEngine(server.base_url)
        chunks: list[str] = []
        with pytest.raises(EngineError, match="mid-answer") as info:
            engine.generate(MESSAGES, max_tokens=20, on_token=chunks.append)
    partial = info.value.partial_text
    assert len(chunks) == 3 and partial == "".join(chunks)
    assert partial and full.startswith(partial) and len(partial) < len(full)
    assert info.value.partial_stats is not None and info.value.partial_stats.completion_tokens >= 1
    assert server.base_url in str(info.value)


def test_render_prompt_without_a_tokenizer_tags_roles(local: TransformersEngine) -> None:
    with OpenAICompatServer(local) as server:
        engine = HttpEngine(server.base_url)
        prompt = engine.render_prompt(MESSAGES)
    assert "<|system|>" in prompt and MESSAGES[1]["content"] in prompt and prompt.endswith("<|assistant|>\n")


def test_url_normalization_and_listing_metadata() -> None:
    assert normalize_base_url("http://127.0.0.1:11434") == "http://127.0.0.1:11434/v1"
    assert normalize_base_url("http://127.0.0.1:8000/v1/") == "http://127.0.0.1:8000/v1"
    assert normalize_base_url("https://gpu-box:8443/openai/v1") == "https://gpu-box:8443/openai/v1"
    with pytest.raises(BadInputError, match="engine_url 'localhost:8000'"):
        normalize_base_url("localhost:8000")
    assert context_length_of({"id": "m", "max_model_len": 32768}) == 32768  # vLLM
    assert context_length_of({"id": "m", "meta": {"n_ctx_train": 8192}}) == 8192  # llama.cpp
    assert context_length_of({"id": "m", "owned_by": "library"}) is None  # Ollama


def test_a_loading_server_is_retried(local: TransformersEngine) -> None:
    with OpenAICompatServer(local, fail_first=(503,)) as server:
        engine = HttpEngine(server.base_url)
        text, stats = engine.generate(MESSAGES, max_tokens=4)
        assert len(server.chat_requests()) == 2
    assert stats.completion_tokens >= 1


def test_a_server_error_is_not_retried(local: TransformersEngine) -> None:
    with OpenAICompatServer(local, fail_first=(500, 500)) as server:
        engine = HttpEngine(server.base_url)
        with pytest.raises(EngineError, match="answered HTTP 500: .*failing on purpose"):
            engine.generate(MESSAGES, max_tokens=4)
        assert len(server.chat_requests()) == 1
