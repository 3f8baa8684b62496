"""TensorRT-LLM's Python API in this process (``tensorrt_llm.LLM``), for the fastest local decode.

TensorRT-LLM is not a dependency: its wheels live on NVIDIA's index, pin their own torch and
transformers, and exist for Python 3.10/3.12 only (local-llm.md section 2).  Most users run it
as ``trtllm-serve`` and reach it through the HTTP engine; this engine is for an environment
built around it.  The import is guarded and everything that does not need it is plain code.

Quantization (TensorRT-LLM docs, features/quantization.md).  ``tensorrt_llm.LLM`` is the
PyTorch backend, the default since 1.0.  It runs checkpoints that ModelOpt has already quantized
(``hf_quant_config.json``, or a ``quantization_config`` in ``config.json``) as they are; it does
not quantize a plain bf16 checkpoint while loading.  So:

- a pre-quantized checkpoint loads as it is, whatever engine_quantization says (a note says when
  the two differ), after checking that this GPU runs its format;
- a plain checkpoint with ``auto`` or ``none`` loads in bf16, with a note naming the ModelOpt
  command that would make an FP8 or INT4-AWQ checkpoint for this GPU;
- a plain checkpoint with fp8, int4_awq or nvfp4 asked is refused with that command.  The legacy
  TensorRT backend (``tensorrt_llm._tensorrt_engine.LLM`` with ``QuantConfig`` + ``CalibConfig``)
  can quantize on the fly, but it calibrates on a dataset it downloads (cnn_dailymail by default),
  builds an engine for minutes on every load, and ModelOpt deprecates exports for that backend;
  a one-off ModelOpt export is repeatable and loads in seconds afterwards.

Formats for Mistral, from the model matrix: FP8 (per tensor), FP8 KV cache and W4A16-AWQ; INT8
weight-only (W8A16) is not listed, so it is not offered (the transformers engine has int8).
Hardware matrix: FP8 on Ada, Hopper and Blackwell; W4A16-AWQ on Ampere, Ada and Hopper (not
Blackwell); NVFP4 on Blackwell only.

Generation uses the request's own synchronous stream: ``generate_async(..., streaming=True)``
called from a thread with no running event loop returns a result whose updates arrive on a plain
thread-safe queue and that is iterated with ``for output in result`` (the documented
``__iter__``/``__next__`` of ``RequestOutput``; ``LLM.generate`` itself waits on results the same
way).  No event loop is created per call.  A consumer thread feeds the pieces to the caller, who
waits with the deadline; past it the request is aborted (``RequestOutput.abort()``), so the GPU
stops generating, and the partial text is returned in the error.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...errors import BadInputError, CouldNotDoError
from .base import ChatMessage, EngineError, GenerationStats, StatsClock, TokenizerEngine, check_request

__all__ = [
    "INSTALL_HINT",
    "QUANT_ALGOS",
    "TrtllmEngine",
    "checkpoint_quantization",
    "choose_quantization",
    "detected_compute_capability",
    "modelopt_command",
    "parse_compute_capability",
    "quant_plan",
]

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'dgx-spark-mcp[trtllm]' --extra-index-url https://pypi.nvidia.com"

QUANT_ALGOS = {"fp8": "FP8", "int4_awq": "W4A16_AWQ", "nvfp4": "NVFP4"}
"""Our names → TensorRT-LLM ``QuantAlgo`` names, as ModelOpt writes them into ``hf_quant_config.json``."""

ABORT_GRACE_S = 5.0
"""How long an aborted request may take to deliver its final (cancelled) output before the caller gives up on it."""

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


def modelopt_command(model_dir: str | Path, quantization: str) -> str:
    """The ModelOpt command that exports ``model_dir`` as a pre-quantized checkpoint TensorRT-LLM loads."""
    return (
        "git clone https://github.com/NVIDIA/TensorRT-Model-Optimizer.git && cd TensorRT-Model-Optimizer/examples/llm_ptq "
        f"&& scripts/huggingface_example.sh --model {model_dir} --quant {quantization} --export_fmt hf"
    )


def choose_quantization(compute_capability: tuple[int, int] | None, requested: str) -> str:
    """The TensorRT-LLM weight format for this GPU: "none", "fp8", "int4_awq" or "nvfp4".

    ``auto`` names the format to recommend: FP8 where the GPU has FP8 tensor cores (Ada, Hopper, Blackwell: the one
    format listed for Mistral on all of them, with about half of BF16's bytes per token) and INT4-AWQ on Ampere;
    older GPUs run unquantized.  An explicit request the GPU cannot run is refused, and so is int8: W8A16 is not in
    TensorRT-LLM's support matrix for Mistral.
    """
    requested = (requested or "auto").lower()
    if requested == "int4":
        requested = "int4_awq"  # TensorRT-LLM's int4 weight-only is AWQ
    if requested == "int8":
        raise BadInputError(
            "engine_quantization 'int8' (W8A16) is not in TensorRT-LLM's quantization matrix for Mistral; use fp8 or "
            "int4_awq with engine_kind 'trtllm', or int8 with engine_kind 'transformers'"
        )
    if requested not in ("auto", "none", "fp8", "int4_awq", "nvfp4"):
        raise BadInputError(
            f"engine_quantization {requested!r} is unknown for TensorRT-LLM; expected auto, none, fp8, int4 (int4_awq) "
            "or nvfp4"
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
    _check_gpu_runs(requested, cc)
    return requested


def _check_gpu_runs(quantization: str, cc: tuple[int, int]) -> None:
    """Refuse a weight format this GPU cannot run (TensorRT-LLM's hardware support matrix)."""
    if quantization == "fp8" and cc < _ADA:
        raise BadInputError(
            f"fp8 needs FP8 tensor cores (Ada sm_89, Hopper, Blackwell); this GPU is {_arch(cc)}. Use int4_awq, or auto"
        )
    if quantization == "nvfp4" and cc[0] < _BLACKWELL_MAJOR:
        raise BadInputError(
            f"nvfp4 needs a Blackwell GPU (sm_100/sm_120/sm_121); this GPU is {_arch(cc)}. Use fp8 or int4_awq, or auto"
        )
    if quantization == "int4_awq" and cc[0] >= _BLACKWELL_MAJOR:
        raise BadInputError(
            f"int4_awq is not listed for Blackwell in TensorRT-LLM's support matrix; this GPU is {_arch(cc)}. Use fp8 "
            "or nvfp4, or auto"
        )
    if quantization == "int4_awq" and cc < _AMPERE:
        raise BadInputError(f"int4_awq needs Ampere (sm_80) or newer; this GPU is {_arch(cc)}. Use none")


def checkpoint_quantization(model_dir: Path) -> dict[str, str | None] | None:
    """How a checkpoint is already quantized: ``{"quant_algo", "kv_cache_quant_algo", "source"}``, or None for a plain one.

    ModelOpt's unified export writes ``hf_quant_config.json`` (``{"quantization": {"quant_algo", "kv_cache_quant_algo"}}``);
    other exporters put a ``quantization_config`` (``quant_algo`` or ``quant_method``) into ``config.json``.
    """
    path = model_dir / "hf_quant_config.json"
    if path.is_file():
        try:
            body = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise BadInputError(f"{path} is not readable JSON ({exc}); re-export the checkpoint with ModelOpt") from exc
        quant = body.get("quantization") if isinstance(body, dict) else None
        if isinstance(quant, dict) and quant.get("quant_algo"):
            kv = quant.get("kv_cache_quant_algo")
            return {"quant_algo": str(quant["quant_algo"]), "kv_cache_quant_algo": str(kv) if kv else None,
                    "source": "hf_quant_config.json"}
    try:
        config = json.loads((model_dir / "config.json").read_text())
    except (OSError, ValueError):
        return None
    quant = config.get("quantization_config") if isinstance(config, dict) else None
    if isinstance(quant, dict):
        algo = quant.get("quant_algo") or quant.get("quant_method")
        if algo:
            kv = quant.get("kv_cache_quant_algo")
            return {"quant_algo": str(algo), "kv_cache_quant_algo": str(kv) if kv else None,
                    "source": "config.json quantization_config"}
    return None


def quant_plan(model_dir: Path, compute_capability: tuple[int, int] | None, requested: str) -> dict[str, Any]:
    """What to pass to ``LLM``: ``{"quantization", "kv_cache_dtype" | None, "notes"}``; no ``quant_config`` ever.

    Raises BadInputError when a quantization is asked of a plain checkpoint (with the ModelOpt command that makes
    one), or when the GPU cannot run the checkpoint's format.
    """
    notes: list[str] = []
    existing = checkpoint_quantization(model_dir)
    requested = (requested or "auto").lower()
    if existing:
        algo = existing["quant_algo"] or ""
        ours = {v: k for k, v in QUANT_ALGOS.items()}.get(algo.upper(), algo.lower())
        wanted = "int4_awq" if requested == "int4" else requested
        if wanted not in ("auto", ours):
            notes.append(f"the checkpoint is pre-quantized as {algo} ({existing['source']}); engine_quantization "
                         f"{requested!r} is ignored")
        if compute_capability is not None and ours in QUANT_ALGOS:
            try:
                _check_gpu_runs(ours, compute_capability)
            except BadInputError as exc:
                raise BadInputError(f"the checkpoint {model_dir} is pre-quantized as {algo}: {exc}") from None
        # FP8 KV cache: listed for Mistral, half the cache's bytes per token, and the documented KvCacheConfig
        # enables it for a checkpoint that did not export one.
        kv = None
        if ours == "fp8" and not existing["kv_cache_quant_algo"] and compute_capability is not None \
                and compute_capability >= _ADA:
            kv = "fp8"
            notes.append("FP8 KV cache enabled (KvCacheConfig(dtype='fp8')): the checkpoint exports none")
        return {"quantization": ours, "kv_cache_dtype": kv, "notes": notes}
    recommended = choose_quantization(compute_capability, "auto")
    if requested in ("auto", "none"):
        if requested == "auto" and recommended != "none":
            notes.append(
                f"the checkpoint is not quantized, so it runs in bf16: TensorRT-LLM's PyTorch backend loads pre-quantized "
                f"checkpoints and does not quantize while loading. For {recommended} on this GPU (about half or a "
                f"quarter of bf16's bytes per token), export one with ModelOpt and point engine_model at it: "
                f"{modelopt_command(model_dir, recommended)}"
            )
        return {"quantization": "none", "kv_cache_dtype": None, "notes": notes}
    chosen = choose_quantization(compute_capability, requested)
    raise BadInputError(
        f"engine_quantization {requested!r} asks TensorRT-LLM for {chosen}, but {model_dir} is not a quantized "
        "checkpoint (no hf_quant_config.json, no quantization_config) and TensorRT-LLM's PyTorch backend does not "
        f"quantize while loading. Export a {chosen} checkpoint with ModelOpt (needs this GPU, the weights and a "
        f"calibration set) and point engine_model at the export: {modelopt_command(model_dir, chosen)}. Or set "
        "engine_quantization to none (bf16), or use engine_kind 'transformers' for int8/int4 weight-only"
    )


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
        if cc is None:
            raise CouldNotDoError(
                "TensorRT-LLM needs an NVIDIA GPU and none was detected; use engine_kind 'transformers' or an "
                "OpenAI-compatible server (engine_url)"
            )
        plan = quant_plan(path, cc, quantization)
        self.notes.extend(plan["notes"])
        kwargs: dict[str, Any] = {"model": str(path)}
        if plan["kv_cache_dtype"]:
            from tensorrt_llm.llmapi import KvCacheConfig

            kwargs["kv_cache_config"] = KvCacheConfig(dtype=plan["kv_cache_dtype"])
        from transformers import AutoTokenizer

        # The same tokenizer TensorRT-LLM loads, used here for the chat template and counting.
        self._tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        try:
            self._llm: Any = trt.LLM(**kwargs)
        except Exception as exc:  # noqa: BLE001 - TensorRT-LLM raises many types on a failed load
            raise CouldNotDoError(f"TensorRT-LLM could not load {path} ({type(exc).__name__}: {exc})") from exc
        self._sampling_params = trt.SamplingParams
        self.model = str(path)
        self.endpoint = None
        self.quantization = None if plan["quantization"] == "none" else plan["quantization"]
        self.token_count_method = "tokenizer"
        config = json.loads((path / "config.json").read_text())
        self.context_length = config.get("max_position_embeddings")

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
        llm = self.__dict__.get("_llm")
        if llm is None:
            raise EngineError(f"the TensorRT-LLM engine for {self.model} is closed; resolve the engine again")
        # Token ids, not text: the rendered template already holds <s>, and encoding text would add another.
        ids = list(self._tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=False))
        # temperature None is TensorRT-LLM's greedy default; 0 is not accepted by every release.
        params = self._sampling_params(max_tokens=max_tokens, temperature=temperature if temperature > 0 else None)
        clock = StatsClock()
        pieces: list[str] = []
        tokens = 0
        try:
            request = llm.generate_async(ids, sampling_params=params, streaming=True)
        except Exception as exc:  # noqa: BLE001
            raise EngineError(f"TensorRT-LLM ({self.model}) refused the request: {type(exc).__name__}: {exc}") from exc
        events: queue.Queue[tuple[str, Any, int]] = queue.Queue()

        def pump() -> None:
            # The request's synchronous stream: each step is the whole completion so far, with its new text.
            try:
                for output in request:
                    completion = output.outputs[0]
                    events.put(("piece", completion.text_diff, len(completion.token_ids)))
            except BaseException as exc:  # reported to the caller's thread
                events.put(("error", exc, 0))
            else:
                events.put(("done", None, 0))

        worker = threading.Thread(target=pump, name="trtllm-stream", daemon=True)
        worker.start()
        deadline = time.monotonic() + timeout_s
        try:
            while True:
                try:
                    kind, value, count = events.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    raise EngineError(
                        f"TensorRT-LLM ({self.model}) did not finish within {timeout_s:g} s; the request was aborted. "
                        "Raise timeout_s (DGX_SPARK_MCP_ENGINE_TIMEOUT_S) or lower max_tokens",
                        partial_text="".join(pieces),
                        partial_stats=clock.stats(len(ids), tokens, "tokenizer"),
                    ) from None
                if kind == "done":
                    break
                if kind == "error":
                    raise EngineError(
                        f"TensorRT-LLM ({self.model}) failed while generating: {type(value).__name__}: {value}",
                        partial_text="".join(pieces),
                        partial_stats=clock.stats(len(ids), tokens, "tokenizer") if pieces else None,
                    ) from value
                tokens = count
                if value:
                    clock.token()
                    pieces.append(value)
                    if on_token is not None:
                        on_token(value)
        except BaseException:
            # A timeout, a failure or the caller's callback raising: the request must not go on generating.
            if worker.is_alive():
                _abort(request)
                worker.join(ABORT_GRACE_S)
                if worker.is_alive():
                    log.warning("TensorRT-LLM request for %s still running %g s after its abort", self.model, ABORT_GRACE_S)
            raise
        return "".join(pieces), clock.stats(len(ids), tokens, "tokenizer")

    def close(self) -> None:
        llm = self.__dict__.pop("_llm", None)
        if llm is not None and hasattr(llm, "shutdown"):
            llm.shutdown()


def _abort(request: Any) -> None:
    try:
        request.abort()
    except Exception as exc:  # noqa: BLE001 - an abort of a finished or broken request is not news
        log.debug("abort failed: %s", exc)
