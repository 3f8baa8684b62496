"""TensorRT-LLM engine: quantization per GPU and checkpoint, the guarded import, and everything after the import
through a stand-in ``tensorrt_llm`` module (fake_tensorrt_llm.py): constructor arguments, streaming, abort, close."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from dgx_spark_mcp.errors import BadInputError, CouldNotDoError
from dgx_spark_mcp.reasoning.engines.base import EngineError
from dgx_spark_mcp.reasoning.engines.trtllm import (
    INSTALL_HINT,
    TrtllmEngine,
    checkpoint_quantization,
    choose_quantization,
    detected_compute_capability,
    parse_compute_capability,
    quant_plan,
)

from . import fake_tensorrt_llm
from .fake_tensorrt_llm import FakeTrtllm, KvCacheConfig

HOPPER, ADA, AMPERE, TURING = (9, 0), (8, 9), (8, 0), (7, 5)
GB10, B200 = (12, 1), (10, 0)
MESSAGES = [{"role": "system", "content": "You diagnose Spark jobs."}, {"role": "user", "content": "Why did stage 4 fail?"}]


@pytest.mark.parametrize(
    ("cc", "expected"),
    [(HOPPER, "fp8"), (ADA, "fp8"), (GB10, "fp8"), (B200, "fp8"), (AMPERE, "int4_awq"), ((8, 6), "int4_awq"), (TURING, "none")],
)
def test_auto_choice_names_the_format_to_recommend(cc: tuple[int, int], expected: str) -> None:
    assert choose_quantization(cc, "auto") == expected


@pytest.mark.parametrize(
    ("cc", "requested", "expected"),
    [
        (HOPPER, "int4_awq", "int4_awq"),
        (HOPPER, "int4", "int4_awq"),
        (HOPPER, "none", "none"),
        (GB10, "nvfp4", "nvfp4"),
        (B200, "fp8", "fp8"),
        (TURING, "none", "none"),
    ],
)
def test_explicit_choice_that_the_gpu_runs(cc: tuple[int, int], requested: str, expected: str) -> None:
    assert choose_quantization(cc, requested) == expected


@pytest.mark.parametrize(
    ("cc", "requested", "message"),
    [
        (AMPERE, "fp8", "needs FP8 tensor cores .* Ampere"),
        (HOPPER, "nvfp4", "needs a Blackwell GPU .* Hopper"),
        (GB10, "int4_awq", "not listed for Blackwell .*sm_121"),
        (TURING, "int4", "needs Ampere"),
        (HOPPER, "int8", "not in TensorRT-LLM's quantization matrix for Mistral.*engine_kind 'transformers'"),
        (HOPPER, "int2", "unknown"),
    ],
)
def test_explicit_choice_the_gpu_or_the_matrix_cannot_run(cc: tuple[int, int], requested: str, message: str) -> None:
    with pytest.raises(BadInputError, match=message):
        choose_quantization(cc, requested)


def test_no_gpu() -> None:
    with pytest.raises(CouldNotDoError, match="needs an NVIDIA GPU"):
        choose_quantization(None, "auto")


def test_parse_compute_capability() -> None:
    assert parse_compute_capability("9.0") == (9, 0)
    assert parse_compute_capability("12.1") == (12, 1)
    assert parse_compute_capability(None) is None
    assert parse_compute_capability("n/a") is None


def test_detection_gives_a_pair_or_none() -> None:
    cc = detected_compute_capability()
    assert cc is None or (isinstance(cc, tuple) and len(cc) == 2)


def _quantized(tmp_path: Path, tiny_model_dir: Path, algo: str, kv: str | None = None, *, where: str = "hf") -> Path:
    """A copy of the tiny checkpoint marked as ModelOpt-quantized (the weights stay; the fake never reads them)."""
    target = tmp_path / f"tiny-{algo.lower()}-{where}"
    shutil.copytree(tiny_model_dir, target)
    if where == "hf":
        quant: dict[str, object] = {"quant_algo": algo}
        if kv:
            quant["kv_cache_quant_algo"] = kv
        (target / "hf_quant_config.json").write_text(json.dumps({"producer": {"name": "modelopt"}, "quantization": quant}))
    else:
        config = json.loads((target / "config.json").read_text())
        config["quantization_config"] = {"quant_method": algo}
        (target / "config.json").write_text(json.dumps(config))
    return target


def test_plan_for_a_plain_checkpoint_never_quantizes_on_load(tiny_model_dir: Path) -> None:
    plan = quant_plan(tiny_model_dir, HOPPER, "auto")
    assert plan["quantization"] == "none" and plan["kv_cache_dtype"] is None
    assert "huggingface_example.sh" in plan["notes"][0] and "--quant fp8 --export_fmt hf" in plan["notes"][0]
    assert "--quant int4_awq" in quant_plan(tiny_model_dir, AMPERE, "auto")["notes"][0]
    assert quant_plan(tiny_model_dir, HOPPER, "none") == {"quantization": "none", "kv_cache_dtype": None, "notes": []}
    for requested, quant in (("fp8", "fp8"), ("int4", "int4_awq")):
        with pytest.raises(BadInputError, match=f"not a quantized checkpoint.*--quant {quant} --export_fmt hf"):
            quant_plan(tiny_model_dir, HOPPER, requested)


def test_plan_for_a_pre_quantized_checkpoint(tmp_path: Path, tiny_model_dir: Path) -> None:
    nvfp4 = _quantized(tmp_path, tiny_model_dir, "NVFP4")
    plan = quant_plan(nvfp4, GB10, "fp8")
    assert plan["quantization"] == "nvfp4" and plan["kv_cache_dtype"] is None
    assert "pre-quantized as NVFP4" in plan["notes"][0]
    # No GPU check needed to read what the checkpoint already is.
    assert quant_plan(nvfp4, None, "auto")["quantization"] == "nvfp4"
    with pytest.raises(BadInputError, match="pre-quantized as NVFP4: nvfp4 needs a Blackwell GPU"):
        quant_plan(nvfp4, HOPPER, "auto")
    fp8 = _quantized(tmp_path, tiny_model_dir, "FP8")
    assert quant_plan(fp8, HOPPER, "auto")["kv_cache_dtype"] == "fp8"
    with pytest.raises(BadInputError, match="FP8 tensor cores"):
        quant_plan(fp8, AMPERE, "auto")
    assert checkpoint_quantization(tiny_model_dir) is None
    from_config = _quantized(tmp_path, tiny_model_dir, "fp8", where="config")
    assert checkpoint_quantization(from_config) == {"quant_algo": "fp8", "kv_cache_quant_algo": None,
                                                    "source": "config.json quantization_config"}


def test_engine_without_tensorrt_llm_says_how_to_install(tiny_model_dir: Path) -> None:
    try:
        import tensorrt_llm  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("TensorRT-LLM is installed here")
    with pytest.raises(CouldNotDoError) as info:
        TrtllmEngine(tiny_model_dir, compute_capability=HOPPER)
    assert INSTALL_HINT in str(info.value)
    assert "trtllm-serve" in str(info.value)


def test_engine_rejects_a_non_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="config.json"):
        TrtllmEngine(tmp_path)


# ---- after the import: the stand-in module ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("checkpoint", "cc", "requested", "extra_kwargs", "quantization"),
    [
        ("plain", HOPPER, "auto", {}, None),
        ("plain", HOPPER, "none", {}, None),
        ("FP8", HOPPER, "auto", {"kv_cache_config": KvCacheConfig(dtype="fp8")}, "fp8"),
        ("FP8+kv", HOPPER, "auto", {}, "fp8"),
        ("W4A16_AWQ", HOPPER, "fp8", {}, "int4_awq"),
        ("NVFP4", GB10, "auto", {}, "nvfp4"),
    ],
)
def test_constructor_arguments_per_checkpoint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tiny_model_dir: Path, checkpoint: str, cc: tuple[int, int],
    requested: str, extra_kwargs: dict[str, object], quantization: str | None,
) -> None:
    fake = fake_tensorrt_llm.install(monkeypatch)
    if checkpoint == "plain":
        path = tiny_model_dir
    elif checkpoint == "FP8+kv":
        path = _quantized(tmp_path, tiny_model_dir, "FP8", kv="FP8")
    else:
        path = _quantized(tmp_path, tiny_model_dir, checkpoint)
    engine = TrtllmEngine(path, quantization=requested, compute_capability=cc)
    (llm,) = fake.llms
    # Never a quant_config: the PyTorch backend runs pre-quantized checkpoints as they are.
    assert llm.kwargs == {"model": str(path), **extra_kwargs}
    assert engine.quantization == quantization and engine.kind == "trtllm" and engine.context_length == 512
    if checkpoint == "plain" and requested == "auto":
        assert any("--quant fp8 --export_fmt hf" in n for n in engine.notes)
    if checkpoint == "W4A16_AWQ":
        assert any("'fp8' is ignored" in n for n in engine.notes)


@pytest.mark.parametrize(
    ("checkpoint", "cc", "requested", "error", "message"),
    [
        ("plain", HOPPER, "fp8", BadInputError, "--quant fp8 --export_fmt hf"),
        ("plain", HOPPER, "int8", BadInputError, "not in TensorRT-LLM's quantization matrix"),
        ("NVFP4", HOPPER, "auto", BadInputError, "needs a Blackwell GPU"),
        ("plain", None, "auto", CouldNotDoError, "needs an NVIDIA GPU"),
    ],
)
def test_refused_before_loading(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tiny_model_dir: Path, checkpoint: str,
    cc: tuple[int, int] | None, requested: str, error: type[Exception], message: str,
) -> None:
    fake = fake_tensorrt_llm.install(monkeypatch)
    if cc is None and detected_compute_capability() is not None:
        pytest.skip("a GPU is detected here; the no-GPU refusal needs a machine without one")
    path = tiny_model_dir if checkpoint == "plain" else _quantized(tmp_path, tiny_model_dir, checkpoint)
    with pytest.raises(error, match=message):
        TrtllmEngine(path, quantization=requested, compute_capability=cc)
    assert fake.llms == []  # nothing was loaded


def test_a_failed_load_is_could_not_do(monkeypatch: pytest.MonkeyPatch, tiny_model_dir: Path) -> None:
    fake_tensorrt_llm.install(monkeypatch, FakeTrtllm(fail_load=True))
    with pytest.raises(CouldNotDoError, match="could not load .*RuntimeError: CUDA out of memory"):
        TrtllmEngine(tiny_model_dir, compute_capability=HOPPER)


def test_streams_each_piece_and_counts_tokens(monkeypatch: pytest.MonkeyPatch, tiny_model_dir: Path) -> None:
    fake = fake_tensorrt_llm.install(monkeypatch)
    engine = TrtllmEngine(tiny_model_dir, compute_capability=HOPPER)
    chunks: list[str] = []
    text, stats = engine.generate(MESSAGES, max_tokens=64, on_token=chunks.append)
    (request,) = fake.requests
    assert chunks == fake.pieces and text == "".join(fake.pieces)
    # Token ids rendered with the checkpoint's chat template, not text (no second <s>).
    assert request.prompt_token_ids == engine._tokenizer.apply_chat_template(
        MESSAGES, add_generation_prompt=True, tokenize=True, return_dict=False)
    assert request.sampling_params.kwargs == {"max_tokens": 64, "temperature": None}
    assert stats.prompt_tokens == len(request.prompt_token_ids) and stats.completion_tokens == len(fake.pieces)
    assert stats.ttft_s is not None and stats.token_count_method == "tokenizer"
    assert request.finished and request.outputs[0].finish_reason == "length" and not request.aborted
    _, sampled = engine.generate(MESSAGES, max_tokens=3, temperature=0.7)
    assert fake.requests[-1].sampling_params.kwargs == {"max_tokens": 3, "temperature": 0.7}
    assert sampled.completion_tokens == 3


def test_timeout_aborts_the_request(monkeypatch: pytest.MonkeyPatch, tiny_model_dir: Path) -> None:
    fake = fake_tensorrt_llm.install(monkeypatch, FakeTrtllm(pieces=[f"w{i} " for i in range(200)], step_s=0.05))
    engine = TrtllmEngine(tiny_model_dir, compute_capability=HOPPER)
    chunks: list[str] = []
    started = time.monotonic()
    with pytest.raises(EngineError, match="did not finish within 0.3 s; the request was aborted") as info:
        engine.generate(MESSAGES, max_tokens=200, on_token=chunks.append, timeout_s=0.3)
    assert time.monotonic() - started < 2.0
    (request,) = fake.requests
    assert request.aborted and request.finished and request.outputs[0].finish_reason == "cancelled"
    # The generation stopped at the abort: no piece came after it.
    assert request.steps == request.steps_at_abort < 200
    assert info.value.partial_text == "".join(chunks) and chunks
    assert info.value.partial_stats is not None and info.value.partial_stats.completion_tokens == len(chunks)


def test_a_failure_mid_stream_keeps_the_partial_text(monkeypatch: pytest.MonkeyPatch, tiny_model_dir: Path) -> None:
    fake_tensorrt_llm.install(monkeypatch, FakeTrtllm(fail_after=2))
    engine = TrtllmEngine(tiny_model_dir, compute_capability=HOPPER)
    with pytest.raises(EngineError, match="failed while generating: RuntimeError: Executor worker died") as info:
        engine.generate(MESSAGES)
    assert info.value.partial_text == "The heap "


def test_a_callback_that_raises_aborts_the_request(monkeypatch: pytest.MonkeyPatch, tiny_model_dir: Path) -> None:
    fake = fake_tensorrt_llm.install(monkeypatch, FakeTrtllm(pieces=[f"w{i} " for i in range(100)], step_s=0.01))
    engine = TrtllmEngine(tiny_model_dir, compute_capability=HOPPER)

    def gone(piece: str) -> None:
        raise ConnectionResetError("the client went away")

    with pytest.raises(ConnectionResetError):
        engine.generate(MESSAGES, max_tokens=100, on_token=gone)
    (request,) = fake.requests
    assert request.aborted and request.finished and request.steps == request.steps_at_abort < 100


def test_close_shuts_down_once_and_generation_after_it_is_refused(monkeypatch: pytest.MonkeyPatch,
                                                                   tiny_model_dir: Path) -> None:
    fake = fake_tensorrt_llm.install(monkeypatch)
    with TrtllmEngine(tiny_model_dir, compute_capability=HOPPER) as engine:
        engine.generate(MESSAGES, max_tokens=2)
    engine.close()
    assert fake.llms[0].shutdown_calls == 1
    with pytest.raises(EngineError, match="is closed"):
        engine.generate(MESSAGES)
