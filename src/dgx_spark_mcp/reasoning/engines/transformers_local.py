"""A checkpoint directory loaded in this process with transformers: the engine that needs no server.

It never downloads: ``local_files_only=True`` and the directory must hold ``config.json``.  On a
GPU it runs in bf16, on a CPU in float32 (CPU bf16 matmuls are slow on most x86 hosts).
Weight-only quantization goes through torchao:

- ``int8``: ``Int8WeightOnlyConfig``; works on CPU and GPU.
- ``int4``: ``Int4WeightOnlyConfig(group_size=...)``; torchao's int4 kernels need CUDA (and, in
  torchao 0.18, the ``mslk`` kernel package).  Where they are missing the engine falls back to
  int8 and says so in ``notes``, rather than refusing: a smaller-than-bf16 model still answers,
  and the caller sees which quantization it actually got in ``quantization``.
- ``auto``: none.  Eager transformers decode is launch-bound at these sizes, so weight-only
  quantization mostly saves memory; the user asks for it explicitly when memory is short.
- ``fp8``, ``int4_awq``, ``nvfp4`` are TensorRT-LLM formats: rejected here with a pointer to it.

bitsandbytes is deliberately not used.  torchao already gives both weight-only formats (int8, int4)
with one API on CPU and CUDA, so the CPU-only tests exercise the same quantization code the GPU
runs; bitsandbytes would be a second library for the same two formats, CUDA-first (its CPU
backend is a preview), and its int8 path (LLM.int8(), outlier decomposition) is built to save
memory, not to decode faster.  A pre-quantized bitsandbytes checkpoint still loads through
transformers if the user installs bitsandbytes; this engine never asks for it.

:meth:`TransformersEngine.from_model` wraps a model already in memory (the benchmark builds a
Mistral-7B-shaped one on the GPU rather than writing 14 GB to disk) and runs the same
quantization and generation code as a checkpoint loaded from a directory.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...errors import BadInputError, CouldNotDoError
from .base import ChatMessage, EngineError, GenerationStats, StatsClock, TokenizerEngine, check_request

__all__ = ["INT4_GROUP_SIZE", "TransformersEngine", "is_checkpoint_dir"]

log = logging.getLogger(__name__)

INT4_GROUP_SIZE = 128
"""Group size for int4 weight-only: the common choice (AWQ and GPTQ checkpoints use 128)."""

_QUANTIZATIONS = ("auto", "none", "int8", "int4")
_TRTLLM_ONLY = ("fp8", "int4_awq", "nvfp4")


def is_checkpoint_dir(path: str | None) -> bool:
    """Whether ``path`` is a local directory holding a transformers checkpoint (``config.json``)."""
    if not path:
        return False
    p = Path(path).expanduser()
    return p.is_dir() and (p / "config.json").is_file()


class TransformersEngine(TokenizerEngine):
    kind = "transformers"

    def __init__(self, model_dir: str | Path, *, quantization: str = "auto", device: str | None = None) -> None:
        super().__init__()
        path = Path(model_dir).expanduser()
        if not is_checkpoint_dir(str(path)):
            raise BadInputError(
                f"engine_model {str(model_dir)!r} is not a local checkpoint directory (no config.json there); "
                "point it at a directory saved with save_pretrained, or use an OpenAI-compatible server via engine_url"
            )
        _check_quantization(quantization)
        torch = _import_torch()
        from transformers import AutoModelForCausalLM, AutoTokenizer

        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        try:
            # local_files_only: a checkpoint directory never triggers a Hub request, even if
            # HF_HUB_OFFLINE is unset (the model's remote code is not trusted either).
            tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(str(path), local_files_only=True, dtype=_dtype(torch, device))
        except (OSError, ValueError) as exc:
            raise CouldNotDoError(f"cannot load the checkpoint in {path}: {exc}") from exc
        self._setup(model, tokenizer, name=str(path), quantization=quantization, device=device)

    @classmethod
    def from_model(
        cls, model: Any, tokenizer: Any, *, name: str, quantization: str = "none", device: str | None = None
    ) -> TransformersEngine:
        """An engine around a model and tokenizer already in memory (``name`` stands for the checkpoint directory).

        The model is moved to ``device`` in the engine's dtype (bf16 on CUDA, float32 on CPU) and quantized as asked,
        exactly as a loaded checkpoint is.
        """
        _check_quantization(quantization)
        torch = _import_torch()
        engine = cls.__new__(cls)
        TokenizerEngine.__init__(engine)
        engine._setup(model, tokenizer, name=name, quantization=quantization,
                      device=device or ("cuda" if torch.cuda.is_available() else "cpu"))
        return engine

    def _setup(self, model: Any, tokenizer: Any, *, name: str, quantization: str, device: str) -> None:
        torch = _import_torch()
        if tokenizer.chat_template is None:
            raise CouldNotDoError(
                f"the tokenizer in {name} has no chat template; use an instruct/chat checkpoint "
                "(its tokenizer_config.json or chat_template.jinja carries one)"
            )
        self.model = name
        self.endpoint = None
        self.token_count_method = "tokenizer"
        self.device = device
        self._tokenizer = tokenizer
        self._model = model.to(device=device, dtype=_dtype(torch, device))
        self._model.eval()
        self.quantization = self._quantize(quantization)
        self.context_length = getattr(self._model.config, "max_position_embeddings", None)
        self._lock = threading.Lock()  # one generation at a time: the model holds a single KV cache

    def _quantize(self, requested: str) -> str | None:
        if requested in ("auto", "none"):
            return None
        try:
            from torchao.quantization import Int4WeightOnlyConfig, Int8WeightOnlyConfig, quantize_
        except ImportError as exc:
            raise CouldNotDoError(
                f"engine_quantization {requested!r} needs torchao ({exc}); pip install torchao, or set it to 'none'"
            ) from exc
        if requested == "int4":
            if not self.device.startswith("cuda"):
                self.notes.append("int4 weight-only needs CUDA in torchao; this engine runs on CPU, so it uses int8")
            else:
                try:
                    quantize_(self._model, Int4WeightOnlyConfig(group_size=INT4_GROUP_SIZE))
                    return "int4"
                except (ImportError, RuntimeError, ValueError, NotImplementedError) as exc:
                    self.notes.append(f"int4 weight-only failed here ({exc}); using int8 instead")
        quantize_(self._model, Int8WeightOnlyConfig())
        return "int8"


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
        enc = self._tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        ).to(self.device)
        prompt_tokens = int(enc["input_ids"].shape[1])
        if self.context_length and prompt_tokens + max_tokens > self.context_length:
            raise BadInputError(
                f"the prompt is {prompt_tokens} tokens and max_tokens is {max_tokens}, more than the model's context "
                f"of {self.context_length}; shorten the prompt or lower max_tokens"
            )
        # The streamer's timeout bounds each wait for text; generate's max_time bounds the whole run.
        streamer = _token_streamer(self._tokenizer, timeout_s)
        kwargs: dict[str, Any] = dict(enc)
        stop = threading.Event()
        kwargs.update(
            max_new_tokens=max_tokens, streamer=streamer, max_time=timeout_s, stopping_criteria=_stop_on(stop)
        )
        if temperature > 0:
            kwargs.update(do_sample=True, temperature=temperature)
        else:
            kwargs.update(do_sample=False)
        result: dict[str, Any] = {}

        def run() -> None:
            try:
                result["ids"] = self._model.generate(**kwargs)
            except BaseException as exc:  # reported to the caller's thread below
                result["error"] = exc
                streamer.end()

        pieces: list[str] = []
        with self._lock:
            clock = StatsClock()
            worker = threading.Thread(target=run, name="transformers-generate", daemon=True)
            worker.start()
            try:
                for piece in streamer:
                    if not piece:
                        continue
                    clock.token()
                    pieces.append(piece)
                    if on_token is not None:
                        on_token(piece)
            except queue.Empty as exc:
                raise EngineError(
                    f"the transformers engine ({self.model}) produced no text for {timeout_s:g} s; "
                    "raise timeout_s or use a smaller model",
                    partial_text="".join(pieces),
                ) from exc
            finally:
                # Whatever ended the loop (the caller's callback raising, a timeout), the generation
                # thread must stop before the lock is released, or two runs would share the model.
                if worker.is_alive():
                    stop.set()
                worker.join(timeout_s)
        text = "".join(pieces)
        if "error" in result:
            exc = result["error"]
            raise EngineError(
                f"the transformers engine ({self.model}) failed while generating: {exc}", partial_text=text
            ) from exc
        completion_tokens = int(result["ids"].shape[1]) - prompt_tokens if "ids" in result else self.count_tokens(text)
        return text, clock.stats(prompt_tokens, completion_tokens, "tokenizer")

    def close(self) -> None:
        # Drop the references so the weights (and GPU memory) can be freed.
        self.__dict__.pop("_model", None)
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:  # pragma: no cover
            pass


def _check_quantization(quantization: str) -> None:
    if quantization in _TRTLLM_ONLY:
        raise BadInputError(
            f"engine_quantization {quantization!r} is a TensorRT-LLM format; the transformers engine takes "
            f"{', '.join(_QUANTIZATIONS)}. Set engine_kind to 'trtllm' or pick int8/int4"
        )
    if quantization not in _QUANTIZATIONS:
        raise BadInputError(
            f"engine_quantization {quantization!r} is unknown; expected one of {', '.join(_QUANTIZATIONS + _TRTLLM_ONLY)}"
        )


def _import_torch() -> Any:
    try:
        import torch
        import transformers  # noqa: F401
    except ImportError as exc:  # pragma: no cover - both are dependencies of the local extra
        raise CouldNotDoError(
            f"the transformers engine needs torch and transformers ({exc}); install them or use engine_url"
        ) from exc
    return torch


def _dtype(torch: Any, device: str) -> Any:
    """bf16 on a GPU; float32 on a CPU, where bf16 matmuls are slow on most x86 hosts."""
    return torch.bfloat16 if device.startswith("cuda") else torch.float32


def _token_streamer(tokenizer: Any, timeout_s: float) -> Any:
    """A TextIteratorStreamer that hands out text after every token.

    The stock streamer holds text back until a space or newline so as not to split words; for an
    answer streamed to a person (and for a time-to-first-token that means something) each token's
    text should go out as soon as it is whole.  Only a trailing partial UTF-8 character (decoded
    as U+FFFD) is held back until the next token completes it.
    """
    from transformers import TextIteratorStreamer

    class TokenStreamer(TextIteratorStreamer):
        def put(self, value: Any) -> None:
            if len(value.shape) > 1:
                if value.shape[0] > 1:
                    raise ValueError("TokenStreamer only supports batch size 1")
                value = value[0]
            if self.skip_prompt and self.next_tokens_are_prompt:
                self.next_tokens_are_prompt = False
                return
            self.token_cache.extend(value.tolist())
            text = self.tokenizer.decode(self.token_cache, **self.decode_kwargs)
            if text.endswith("\ufffd"):
                return
            printable = text[self.print_len :]
            if text.endswith("\n"):
                # Decoding restarts after a newline so long answers do not re-decode everything.
                self.token_cache = []
                self.print_len = 0
            else:
                self.print_len = len(text)
            if printable:
                self.on_finalized_text(printable)

    return TokenStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=timeout_s)


def _stop_on(event: threading.Event) -> Any:
    """Stopping criteria that end generation once ``event`` is set."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class StopOnEvent(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            return torch.full((input_ids.shape[0],), event.is_set(), dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([StopOnEvent()])
