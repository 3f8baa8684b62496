"""TensorRT-LLM's Python API in this process (``tensorrt_llm.LLM``), for the fastest local decode.

TensorRT-LLM is not a dependency: its wheels live on NVIDIA's index, pin their own torch and
transformers, and exist for Python 3.10/3.12 only (local-llm.md section 2).  Most users run it
as ``trtllm-serve`` and reach it through the HTTP engine; this engine is for an environment
built around it.  The import is guarded and everything that does not need it is plain code.

Quantization for Mistral-class models (TensorRT-LLM quantization matrix): FP8 on Ada and Hopper
(and Blackwell), INT4-AWQ (W4A16) on Ampere, Ada and Hopper, NVFP4 on Blackwell only.  The
PyTorch backend loads pre-quantized ModelOpt checkpoints (``hf_quant_config.json``) as they are;
for a plain bf16 checkpoint the chosen format is passed as a ``QuantConfig``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...errors import BadInputError, CouldNotDoError
from .base import ChatMessage, EngineError, GenerationStats, StatsClock, TokenizerEngine, check_request

__all__ = [
    "INSTALL_HINT",
    "QUANT_ALGOS",
    "TrtllmEngine",
    "choose_quantization",
    "detected_compute_capability",
    "parse_compute_capability",
    "quant_plan",
]

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'dgx-spark-mcp[trtllm]' --extra-index-url https://pypi.nvidia.com"

QUANT_ALGOS = {"fp8": "FP8", "int4_awq": "W4A16_AWQ", "nvfp4": "NVFP4", "int8": "W8A16"}
"""Our names → TensorRT-LLM ``QuantAlgo`` members."""

_ADA = (8, 9)
_AMPERE = (8, 0)
_BLACKWELL_MAJOR = 10


def parse_compute_capability(text: str | None) -> tuple[int, int] | None:
    """'9.0' → (9, 0); None or junk → None."""
    if not text:
        return None
    try:
        major, minor = text.split(".", 1)
        return int(major), int(minor)
    except ValueError:
        return None


def detected_compute_capability() -> tuple[int, int] | None:
    """The first GPU's compute capability through NVML (dgx_spark_mcp.hardware), or None without one."""
    from ...hardware.snapshot import detect

    try:
        snapshot = detect()
    except Exception as exc:  # noqa: BLE001 - no NVML is a normal state, not an error
        log.debug("hardware detection failed: %s", exc)
        return None
    for gpu in snapshot.gpus:
        cc = parse_compute_capability(gpu.compute_capability)
        if cc is not None:
            return cc
    return None


def _arch(cc: tuple[int, int]) -> str:
    if cc[0] >= _BLACKWELL_MAJOR:
        return f"Blackwell (sm_{cc[0]}{cc[1]})"
    if cc >= (9, 0):
        return "Hopper (sm_90)"
    if cc >= _ADA:
        return "Ada (sm_89)"
    if cc >= _AMPERE:
        return f"Ampere (sm_{cc[0]}{cc[1]})"
    return f"sm_{cc[0]}{cc[1]}"


def choose_quantization(compute_capability: tuple[int, int] | None, requested: str) -> str:
    """The TensorRT-LLM weight format for this GPU: "none", "int8", "fp8", "int4_awq" or "nvfp4".

    ``auto`` picks FP8 where the GPU has FP8 tensor cores (Ada, Hopper, Blackwell: the one format
    listed for Mistral on all of them, with about half of BF16's bytes per token) and INT4-AWQ on
    Ampere; older GPUs run unquantized.  An explicit request the GPU cannot run is refused.
    """
    requested = (requested or "auto").lower()
    if requested == "int4":
        requested = "int4_awq"  # TensorRT-LLM's int4 weight-only is AWQ
    if requested not in ("auto", "none", "int8", "fp8", "int4_awq", "nvfp4"):
        raise BadInputError(
            f"engine_quantization {requested!r} is unknown; expected auto, none, int8, int4, fp8, int4_awq or nvfp4"
        )
    if compute_capability is None:
        raise CouldNotDoError(
            "TensorRT-LLM needs an NVIDIA GPU and none was detected; use engine_kind 'transformers' or an "
            "OpenAI-compatible server (engine_url)"
        )
    cc = compute_capability
    if requested == "none":
        return "none"
    if requested == "auto":
        if cc >= _ADA:
            return "fp8"
        if cc >= _AMPERE:
            return "int4_awq"
        return "none"
    if requested == "fp8" and cc < _ADA:
        raise BadInputError(
            f"engine_quantization 'fp8' needs FP8 tensor cores (Ada sm_89, Hopper, Blackwell); this GPU is {_arch(cc)}. "
            "Use int4_awq or int8, or auto"
        )
    if requested == "nvfp4" and cc[0] < _BLACKWELL_MAJOR:
        raise BadInputError(
            f"engine_quantization 'nvfp4' needs a Blackwell GPU (sm_100/sm_120/sm_121); this GPU is {_arch(cc)}. "
            "Use fp8 or int4_awq, or auto"
        )
    if requested == "int4_awq" and cc[0] >= _BLACKWELL_MAJOR:
        raise BadInputError(
            f"engine_quantization 'int4_awq' is not listed for Blackwell in TensorRT-LLM's support matrix; this GPU is "
            f"{_arch(cc)}. Use fp8 or nvfp4, or auto"
        )
    if requested in ("int4_awq", "int8") and cc < _AMPERE:
        raise BadInputError(
            f"engine_quantization {requested!r} needs Ampere (sm_80) or newer; this GPU is {_arch(cc)}. Use none"
        )
    return requested


def pre_quantized_algo(model_dir: Path) -> str | None:
    """The quant_algo of a ModelOpt checkpoint (``hf_quant_config.json``), or None for a plain one."""
    path = model_dir / "hf_quant_config.json"
    if not path.is_file():
        return None
    try:
        body = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    quant = body.get("quantization") if isinstance(body, dict) else None
    algo = quant.get("quant_algo") if isinstance(quant, dict) else None
    return str(algo) if algo else None


def quant_plan(model_dir: Path, compute_capability: tuple[int, int] | None, requested: str) -> dict[str, Any]:
    """What to pass to ``LLM``: ``{"quantization", "quant_algo" | None, "kv_cache_dtype" | None, "notes"}``.

    A pre-quantized checkpoint wins over the request (its weights are already in that format).
    """
    notes: list[str] = []
    existing = pre_quantized_algo(model_dir)
    if existing:
        ours = {v: k for k, v in QUANT_ALGOS.items()}.get(existing, existing.lower())
        if requested not in ("auto", ours):
            notes.append(f"the checkpoint is pre-quantized as {existing}; engine_quantization {requested!r} is ignored")
        return {"quantization": ours, "quant_algo": None, "kv_cache_dtype": None, "notes": notes}
    chosen = choose_quantization(compute_capability, requested)
    if chosen == "none":
        return {"quantization": "none", "quant_algo": None, "kv_cache_dtype": None, "notes": notes}
    notes.append(
        f"quantizing a bf16 checkpoint to {chosen} at load time calibrates on sample data; for repeatable results "
        "pre-quantize it with ModelOpt (llm_ptq --export_fmt hf)"
    )
    return {
        "quantization": chosen,
        "quant_algo": QUANT_ALGOS[chosen],
        # An FP8 KV cache halves the cache's bytes per token; listed for Mistral with FP8.
        "kv_cache_dtype": "fp8" if chosen == "fp8" else None,
        "notes": notes,
    }


def _import_trtllm() -> Any:
    try:
        import tensorrt_llm
    except ImportError as exc:
        raise CouldNotDoError(
            f"TensorRT-LLM is not installed ({exc}); install it with {INSTALL_HINT} (Python 3.10 or 3.12, CUDA 13), "
            "or run trtllm-serve and point engine_url at it"
        ) from exc
    return tensorrt_llm


class TrtllmEngine(TokenizerEngine):
    kind = "trtllm"

    def __init__(
        self, model_dir: str | Path, *, quantization: str = "auto", compute_capability: tuple[int, int] | None = None
    ) -> None:
        super().__init__()
        from .transformers_local import is_checkpoint_dir

        path = Path(model_dir).expanduser()
        if not is_checkpoint_dir(str(path)):
            raise BadInputError(
                f"engine_model {str(model_dir)!r} is not a local checkpoint directory (no config.json there); "
                "the trtllm engine loads a Hugging Face checkpoint directory"
            )
        trt = _import_trtllm()
        cc = compute_capability if compute_capability is not None else detected_compute_capability()
        plan = quant_plan(path, cc, quantization)
        self.notes.extend(plan["notes"])
        kwargs: dict[str, Any] = {"model": str(path)}
        if plan["quant_algo"]:
            from tensorrt_llm.llmapi import QuantAlgo, QuantConfig

            kwargs["quant_config"] = QuantConfig(quant_algo=getattr(QuantAlgo, plan["quant_algo"]))
        if plan["kv_cache_dtype"]:
            from tensorrt_llm.llmapi import KvCacheConfig

            kwargs["kv_cache_config"] = KvCacheConfig(dtype=plan["kv_cache_dtype"])
        from transformers import AutoTokenizer

        # The same tokenizer TensorRT-LLM loads, used here for the chat template and counting.
        self._tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        try:
            self._llm = trt.LLM(**kwargs)
        except Exception as exc:  # noqa: BLE001 - TensorRT-LLM raises many types on a failed load
            raise CouldNotDoError(f"TensorRT-LLM could not load {path} ({type(exc).__name__}: {exc})") from exc
        self._sampling_params = trt.SamplingParams
        self.model = str(path)
        self.endpoint = None
        self.quantization = plan["quantization"]
        self.token_count_method = "tokenizer"
        config = json.loads((path / "config.json").read_text())
        self.context_length = config.get("max_position_embeddings")
        self._lock = threading.Lock()


    def generate(
        self,
        messages: list[ChatMessage],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        on_token: Callable[[str], None] | None = None,
        timeout_s: float = 120.0,
    ) -> tuple[str, GenerationStats]:
        check_request(messages, max_tokens)
        # Token ids, not text: the rendered template already holds <s>, and encoding text would add another.
        ids = list(self._tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=False))
        params = self._sampling_params(max_tokens=max_tokens, temperature=temperature if temperature > 0 else None)
        pieces: list[str] = []
        clock = StatsClock()
        state = {"tokens": 0}

        async def consume() -> None:
            async for output in self._llm.generate_async(ids, sampling_params=params, streaming=True):
                completion = output.outputs[0]
                piece = getattr(completion, "text_diff", None)
                if piece is None:
                    piece = completion.text[len("".join(pieces)) :]
                state["tokens"] = len(completion.token_ids)
                if piece:
                    clock.token()
                    pieces.append(piece)
                    if on_token is not None:
                        on_token(piece)

        with self._lock:
            try:
                # generate() is called from a worker thread; it gets its own event loop.
                asyncio.run(asyncio.wait_for(consume(), timeout_s))
            except TimeoutError as exc:
                raise EngineError(
                    f"TensorRT-LLM ({self.model}) did not finish within {timeout_s:g} s; raise timeout_s or lower max_tokens",
                    partial_text="".join(pieces),
                ) from exc
            except Exception as exc:  # noqa: BLE001
                raise EngineError(
                    f"TensorRT-LLM ({self.model}) failed while generating: {type(exc).__name__}: {exc}",
                    partial_text="".join(pieces),
                ) from exc
        return "".join(pieces), clock.stats(len(ids), state["tokens"], "tokenizer")

    def close(self) -> None:
        llm = self.__dict__.pop("_llm", None)
        if llm is not None and hasattr(llm, "shutdown"):
            llm.shutdown()
