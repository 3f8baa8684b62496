"""The in-process transformers engine on the tiny random Mistral: generation, streaming, counting."""

from __future__ import annotations

from pathlib import Path

import pytest

from dgx_spark_mcp.errors import BadInputError
from dgx_spark_mcp.reasoning.engines.base import EngineError
from dgx_spark_mcp.reasoning.engines.transformers_local import TransformersEngine, is_checkpoint_dir

MESSAGES = [
    {"role": "system", "content": "You diagnose Spark jobs."},
    {"role": "user", "content": "Why did executor 3 die with java.lang.OutOfMemoryError?"},
]


@pytest.fixture(scope="module")
def engine(tiny_model_dir: Path) -> TransformersEngine:
    return TransformersEngine(tiny_model_dir)


def test_generates_and_streams(engine: TransformersEngine) -> None:
    chunks: list[str] = []
    text, stats = engine.generate(MESSAGES, max_tokens=24, on_token=chunks.append)
    assert chunks and "".join(chunks) == text
    assert len(chunks) > 1  # streamed token by token, not in one piece at the end
    assert 1 <= stats.completion_tokens <= 24
    assert stats.prompt_tokens == engine.count_tokens(engine.render_prompt(MESSAGES))
    assert stats.ttft_s is not None and 0 < stats.ttft_s <= stats.seconds
    assert stats.tokens_per_s is None or stats.tokens_per_s > 0
    assert stats.token_count_method == "tokenizer"


def test_greedy_is_deterministic(engine: TransformersEngine) -> None:
    first, _ = engine.generate(MESSAGES, max_tokens=12)
    second, _ = engine.generate(MESSAGES, max_tokens=12)
    assert first == second


def test_facts(engine: TransformersEngine, tiny_model_dir: Path) -> None:
    assert engine.kind == "transformers"
    assert engine.endpoint is None
    assert engine.model == str(tiny_model_dir)
    assert engine.context_length == 512
    assert engine.quantization is None  # auto on CPU: none
    assert engine.device == "cpu"
    assert engine.describe()["kind"] == "transformers"


def test_render_prompt_uses_the_chat_template(engine: TransformersEngine) -> None:
    prompt = engine.render_prompt(MESSAGES)
    assert prompt.startswith("<s>[INST] You diagnose Spark jobs.\n\nWhy did executor 3 die")
    assert prompt.endswith(" [/INST]")
    assert engine.count_tokens(prompt) > engine.count_tokens(MESSAGES[1]["content"])
    assert engine.count_tokens("") == 0


def test_int8_quantizes_weights_with_torchao(tiny_model_dir: Path) -> None:
    engine = TransformersEngine(tiny_model_dir, quantization="int8")
    assert engine.quantization == "int8"
    weight = engine._model.model.layers[0].mlp.up_proj.weight
    assert "int8" in type(weight).__name__.lower()
    text, stats = engine.generate(MESSAGES, max_tokens=8)
    assert 1 <= stats.completion_tokens <= 8 and isinstance(text, str)


def test_int4_on_cpu_falls_back_to_int8_with_a_note(tiny_model_dir: Path) -> None:
    engine = TransformersEngine(tiny_model_dir, quantization="int4")
    assert engine.quantization == "int8"
    assert any("int4" in note and "CPU" in note for note in engine.notes)
    _, stats = engine.generate(MESSAGES, max_tokens=4)
    assert stats.completion_tokens >= 1


@pytest.mark.parametrize("quantization", ["fp8", "nvfp4", "int4_awq"])
def test_trtllm_formats_are_refused(tiny_model_dir: Path, quantization: str) -> None:
    with pytest.raises(BadInputError, match="TensorRT-LLM"):
        TransformersEngine(tiny_model_dir, quantization=quantization)


def test_not_a_checkpoint_dir(tmp_path: Path) -> None:
    assert not is_checkpoint_dir(str(tmp_path))
    with pytest.raises(BadInputError, match="config.json"):
        TransformersEngine(tmp_path)


def test_prompt_past_the_context_is_refused(engine: TransformersEngine) -> None:
    long = [{"role": "user", "content": "executor lost " * 400}]
    with pytest.raises(BadInputError, match="context of 512"):
        engine.generate(long, max_tokens=8)


@pytest.mark.parametrize("messages", [[], [{"role": "robot", "content": "hi"}], [{"role": "user"}]])
def test_malformed_messages(engine: TransformersEngine, messages: list) -> None:
    with pytest.raises(BadInputError, match="messages"):
        engine.generate(messages)


def test_failure_in_the_token_callback_keeps_partial_text(engine: TransformersEngine) -> None:
    seen: list[str] = []

    def stop_after_three(piece: str) -> None:
        seen.append(piece)
        if len(seen) == 3:
            raise RuntimeError("client went away")

    with pytest.raises(RuntimeError, match="client went away"):
        engine.generate(MESSAGES, max_tokens=24, on_token=stop_after_three)
    # The engine is still usable afterwards.
    _, stats = engine.generate(MESSAGES, max_tokens=4)
    assert stats.completion_tokens >= 1
    assert EngineError  # re-exported for callers
