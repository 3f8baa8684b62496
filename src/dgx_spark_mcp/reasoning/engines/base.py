"""What every local engine offers: chat generation with streaming, token counting, a prompt render.

The ask pipeline only talks to :class:`Engine`, so the same question can be answered by an
OpenAI-compatible server (Ollama, vLLM, llama.cpp, trtllm-serve, ...), a checkpoint loaded in
this process with transformers, or TensorRT-LLM's Python API.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field

from ...errors import CouldNotDoError

__all__ = ["ChatMessage", "Engine", "EngineError", "EngineKind", "GenerationStats", "StatsClock"]

ChatMessage = dict[str, str]
"""One chat turn: ``{"role": "system" | "user" | "assistant", "content": "..."}``."""

EngineKind = Literal["http", "transformers", "trtllm"]


class GenerationStats(BaseModel):
    """How one generation went; times in seconds, measured on this side of the engine."""

    ttft_s: float | None = Field(description="Seconds from the request to the first generated text; None if none came.")
    seconds: float = Field(description="Seconds from the request to the last token.")
    prompt_tokens: int = Field(description="Tokens in the rendered prompt.")
    completion_tokens: int = Field(description="Tokens generated.")
    tokens_per_s: float | None = Field(
        description="Decode speed: completion tokens after the first divided by the time after the first token; "
        "None when fewer than two tokens came."
    )
    token_count_method: str = Field(
        default="engine", description="Where the token counts come from: engine, server, tokenizer or estimate."
    )


class EngineError(CouldNotDoError):
    """Generation failed; ``partial_text`` holds what the engine produced before it failed."""

    def __init__(self, message: str, partial_text: str = "", partial_stats: GenerationStats | None = None) -> None:
        super().__init__(message)
        self.partial_text = partial_text
        self.partial_stats = partial_stats


class StatsClock:
    """Times a generation: call :meth:`token` for each piece of text, :meth:`stats` at the end."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.first: float | None = None
        self.last: float | None = None

    def token(self) -> None:
        now = time.perf_counter()
        if self.first is None:
            self.first = now
        self.last = now

    def stats(self, prompt_tokens: int, completion_tokens: int, method: str = "engine") -> GenerationStats:
        end = time.perf_counter()
        ttft = None if self.first is None else self.first - self.start
        rate = None
        if self.first is not None and self.last is not None and completion_tokens > 1 and self.last > self.first:
            # The first token's time is prefill; decode speed counts the rest.
            rate = (completion_tokens - 1) / (self.last - self.first)
        return GenerationStats(
            ttft_s=ttft,
            seconds=end - self.start,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            tokens_per_s=rate,
            token_count_method=method,
        )


class Engine(ABC):
    """A loaded or reachable model.  Subclasses set the attributes in ``__init__``."""

    kind: ClassVar[EngineKind]
    endpoint: str | None = None
    model: str = ""
    quantization: str | None = None
    context_length: int | None = None
    token_count_method: str = "tokenizer"
    notes: list[str]
    probe: Any = None
    """How resolve_engine found this engine (an EngineProbe), when it did."""

    def __init__(self) -> None:
        self.notes = []

    @abstractmethod
    def generate(
        self,
        messages: list[ChatMessage],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        on_token: Callable[[str], None] | None = None,
        timeout_s: float = 120.0,
    ) -> tuple[str, GenerationStats]:
        """The model's answer to ``messages``; each piece of text also goes to ``on_token`` as it arrives.

        Raises :class:`EngineError` (a :class:`CouldNotDoError`) with the partial text when
        generation fails midway.
        """

    @abstractmethod
    def count_tokens(self, text: str) -> int:
        """Tokens in ``text`` by this model's tokenizer (or an estimate; see ``token_count_method``)."""

    @abstractmethod
    def render_prompt(self, messages: list[ChatMessage]) -> str:
        """The prompt text the model sees for ``messages``: its chat template applied."""

    def count_prompt_tokens(self, messages: list[ChatMessage]) -> int:
        """Tokens of the whole prompt ``messages`` become (system prompt, question, chat template), as sent."""
        return self.count_tokens(self.render_prompt(messages))

    def close(self) -> None:  # noqa: B027 - engines without resources need nothing
        """Release the model or the connection."""

    def describe(self) -> dict[str, object]:
        """The engine's facts as plain data, for engine_status."""
        return {
            "kind": self.kind,
            "endpoint": self.endpoint,
            "model": self.model,
            "quantization": self.quantization,
            "context_length": self.context_length,
            "token_count_method": self.token_count_method,
            "notes": list(self.notes),
        }

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TokenizerEngine(Engine):
    """An in-process engine holding the model's own Hugging Face tokenizer (``self._tokenizer``):
    prompts are rendered with its chat template and counted with it, exactly as the model sees them."""

    _tokenizer: Any

    def render_prompt(self, messages: list[ChatMessage]) -> str:
        check_messages(messages)
        return str(self._tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False))

    def count_tokens(self, text: str) -> int:
        # No special tokens: a rendered prompt already carries its own <s>.
        return len(self._tokenizer.encode(text, add_special_tokens=False))


def check_request(messages: list[ChatMessage], max_tokens: int) -> None:
    """Reject malformed chat turns and answer lengths before they reach an engine."""
    from ...errors import BadInputError

    check_messages(messages)
    if max_tokens < 1:
        raise BadInputError(f"max_tokens is {max_tokens}; expected at least 1")


def check_messages(messages: list[ChatMessage]) -> None:
    """Reject malformed chat turns before they reach an engine."""
    from ...errors import BadInputError

    if not messages:
        raise BadInputError("messages is empty; pass at least one {'role': 'user', 'content': ...} turn")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant") or not isinstance(m.get("content"), str):
            raise BadInputError(
                f"messages[{i}] is {m!r}; expected a dict with role 'system', 'user' or 'assistant' and a string content"
            )


def estimate_tokens(text: str) -> int:
    """About four characters per token for English and log text: used only when no tokenizer is at hand."""
    return (len(text) + 3) // 4


ESTIMATE_TOKENS_PER_MESSAGE = 4
"""Template tokens an estimate adds per chat turn (role markers, separators), plus one turn's worth for the
assistant header: the OpenAI cookbook's count for chat formats, close for Mistral's [INST] ... [/INST]."""


def estimate_prompt_tokens(messages: list[ChatMessage]) -> int:
    """An estimate of a chat prompt's tokens when neither the model's tokenizer nor its server can count them."""
    return sum(estimate_tokens(m["content"]) + ESTIMATE_TOKENS_PER_MESSAGE for m in messages) + ESTIMATE_TOKENS_PER_MESSAGE
