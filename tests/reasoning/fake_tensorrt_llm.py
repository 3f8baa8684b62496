"""A stand-in for the ``tensorrt_llm`` package, for testing the engine everywhere after its import.

TensorRT-LLM cannot be installed here (no GPU, wheels on NVIDIA's index only), so the test installs
this module in ``sys.modules``.  It is shaped like TensorRT-LLM 1.2's LLM API as its source defines
it (``tensorrt_llm/executor/result.py``, ``tensorrt_llm/llmapi``):

- ``LLM(model=..., **kwargs)`` records its arguments; ``generate_async(inputs, sampling_params=,
  streaming=True)`` returns a :class:`RequestOutput`; ``shutdown()`` is counted.
- ``RequestOutput`` is synchronously iterable (``__iter__``/``__next__`` yield the result itself after
  each step until it is finished), has ``outputs`` (a list of one :class:`CompletionOutput` whose
  ``text`` and ``token_ids`` grow, with ``text_diff`` the newest text and ``finish_reason`` set at
  the end), ``finished`` and ``abort()``; an aborted request delivers one last output with
  ``finish_reason='cancelled'`` and stops, as the executor does.
- ``SamplingParams(**kwargs)``, ``llmapi.KvCacheConfig``, ``llmapi.QuantConfig``,
  ``llmapi.CalibConfig`` and ``llmapi.QuantAlgo`` record what they are given.

The generation itself is a script of text pieces (``FakeTrtllm.pieces``), one per step every
``step_s`` seconds, optionally failing after ``fail_after`` pieces.
"""

from __future__ import annotations

import enum
import sys
import threading
import types
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FakeTrtllm", "install"]


class QuantAlgo(enum.StrEnum):
    FP8 = "FP8"
    W4A16_AWQ = "W4A16_AWQ"
    W8A16 = "W8A16"
    NVFP4 = "NVFP4"


@dataclass
class QuantConfig:
    quant_algo: QuantAlgo | None = None
    kv_cache_quant_algo: QuantAlgo | None = None


@dataclass
class CalibConfig:
    calib_dataset: str = "cnn_dailymail"
    calib_batches: int = 512


@dataclass
class KvCacheConfig:
    dtype: str = "auto"
    free_gpu_memory_fraction: float | None = None


class SamplingParams:
    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.max_tokens = kwargs.get("max_tokens")


@dataclass
class CompletionOutput:
    index: int
    text: str = ""
    token_ids: list[int] = field(default_factory=list)
    finish_reason: str | None = None
    _last_text_len: int = 0

    @property
    def text_diff(self) -> str:
        return self.text[self._last_text_len:]

    @property
    def length(self) -> int:
        return len(self.token_ids)


class RequestOutput:
    def __init__(self, fake: FakeTrtllm, prompt_token_ids: list[int], sampling_params: SamplingParams) -> None:
        self.fake = fake
        self.prompt_token_ids = prompt_token_ids
        self.sampling_params = sampling_params
        self._completion = CompletionOutput(0)
        self._done = False
        self._abort = threading.Event()
        self.aborted = False
        self.steps = 0
        self.steps_at_abort: int | None = None
        limit = sampling_params.max_tokens or len(fake.pieces)
        self._script = list(fake.pieces)[:limit]

    @property
    def outputs(self) -> list[CompletionOutput]:
        return [self._completion]

    @property
    def finished(self) -> bool:
        return self._done

    def abort(self) -> None:
        self.aborted = True
        self.steps_at_abort = self.steps
        self._abort.set()

    def __iter__(self) -> RequestOutput:
        return self

    def __next__(self) -> RequestOutput:
        if self._done:
            raise StopIteration
        c = self._completion
        c._last_text_len = len(c.text)
        if self._abort.wait(self.fake.step_s) or self.aborted:
            c.finish_reason = "cancelled"
            self._done = True
            return self
        if self.fake.fail_after is not None and self.steps >= self.fake.fail_after:
            raise RuntimeError("Executor worker died: CUDA error: an illegal memory access was encountered")
        piece = self._script[self.steps]
        self.steps += 1
        c.text += piece
        c.token_ids.append(100 + self.steps)
        if self.steps == len(self._script):
            c.finish_reason = "length"
            self._done = True
        return self


@dataclass
class FakeTrtllm:
    """The fake's behaviour and what it recorded."""

    pieces: list[str] = field(default_factory=lambda: ["The ", "heap ", "ran ", "out ", "[F1]", "."])
    step_s: float = 0.0
    fail_after: int | None = None
    fail_load: bool = False
    llms: list[Any] = field(default_factory=list)
    requests: list[RequestOutput] = field(default_factory=list)

    def module(self) -> types.ModuleType:
        fake = self

        class LLM:
            def __init__(self, model: str, **kwargs: Any) -> None:
                if fake.fail_load:
                    raise RuntimeError("CUDA out of memory while loading weights")
                self.kwargs = {"model": model, **kwargs}
                self.shutdown_calls = 0
                fake.llms.append(self)

            def generate_async(self, inputs: Any, sampling_params: SamplingParams | None = None,
                               streaming: bool = False, **kwargs: Any) -> RequestOutput:
                assert streaming, "the engine streams"
                request = RequestOutput(fake, list(inputs), sampling_params or SamplingParams())
                fake.requests.append(request)
                return request

            def shutdown(self) -> None:
                self.shutdown_calls += 1

        trt = types.ModuleType("tensorrt_llm")
        llmapi = types.ModuleType("tensorrt_llm.llmapi")
        for name, value in {"QuantAlgo": QuantAlgo, "QuantConfig": QuantConfig, "CalibConfig": CalibConfig,
                            "KvCacheConfig": KvCacheConfig, "LLM": LLM, "SamplingParams": SamplingParams}.items():
            setattr(llmapi, name, value)
        trt.LLM = LLM  # type: ignore[attr-defined]
        trt.SamplingParams = SamplingParams  # type: ignore[attr-defined]
        trt.llmapi = llmapi  # type: ignore[attr-defined]
        trt.__version__ = "1.2.1-fake"  # type: ignore[attr-defined]
        return trt


def install(monkeypatch: Any, fake: FakeTrtllm | None = None) -> FakeTrtllm:
    """Put the fake into ``sys.modules`` for one test (monkeypatch restores the real state)."""
    fake = fake or FakeTrtllm()
    trt = fake.module()
    monkeypatch.setitem(sys.modules, "tensorrt_llm", trt)
    monkeypatch.setitem(sys.modules, "tensorrt_llm.llmapi", trt.llmapi)
    return fake
