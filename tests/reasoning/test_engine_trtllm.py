"""TensorRT-LLM engine: quantization choice per GPU, checkpoint inspection, the guarded import."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dgx_spark_mcp.errors import BadInputError, CouldNotDoError
from dgx_spark_mcp.reasoning.engines.trtllm import (
    INSTALL_HINT,
    TrtllmEngine,
    choose_quantization,
    detected_compute_capability,
    parse_compute_capability,
    quant_plan,
)

HOPPER, ADA, AMPERE, TURING = (9, 0), (8, 9), (8, 0), (7, 5)
GB10, B200 = (12, 1), (10, 0)


@pytest.mark.parametrize(
    ("cc", "expected"),
    [(HOPPER, "fp8"), (ADA, "fp8"), (GB10, "fp8"), (B200, "fp8"), (AMPERE, "int4_awq"), ((8, 6), "int4_awq"), (TURING, "none")],
)
def test_auto_choice(cc: tuple[int, int], expected: str) -> None:
    assert choose_quantization(cc, "auto") == expected


@pytest.mark.parametrize(
    ("cc", "requested", "expected"),
    [
        (HOPPER, "int4_awq", "int4_awq"),
        (HOPPER, "int4", "int4_awq"),
        (HOPPER, "int8", "int8"),
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
        (TURING, "int8", "needs Ampere"),
        (HOPPER, "int2", "unknown"),
    ],
)
def test_explicit_choice_the_gpu_cannot_run(cc: tuple[int, int], requested: str, message: str) -> None:
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


def test_plan_for_a_plain_checkpoint(tiny_model_dir: Path) -> None:
    plan = quant_plan(tiny_model_dir, HOPPER, "auto")
    assert plan["quantization"] == "fp8" and plan["quant_algo"] == "FP8" and plan["kv_cache_dtype"] == "fp8"
    assert any("ModelOpt" in n for n in plan["notes"])
    plan = quant_plan(tiny_model_dir, AMPERE, "int4")
    assert plan["quant_algo"] == "W4A16_AWQ" and plan["kv_cache_dtype"] is None
    assert quant_plan(tiny_model_dir, HOPPER, "none")["quant_algo"] is None


def test_plan_for_a_pre_quantized_checkpoint(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "hf_quant_config.json").write_text(json.dumps({"quantization": {"quant_algo": "NVFP4"}}))
    plan = quant_plan(tmp_path, GB10, "fp8")
    assert plan["quantization"] == "nvfp4" and plan["quant_algo"] is None
    assert "pre-quantized as NVFP4" in plan["notes"][0]
    # No GPU check needed to read what the checkpoint already is.
    assert quant_plan(tmp_path, None, "auto")["quantization"] == "nvfp4"


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
