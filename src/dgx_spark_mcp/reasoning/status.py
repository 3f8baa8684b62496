"""The data behind the engine_status tool: which engine ask would use, how it was found, how fast it has been."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

from .calls import LatencySummary, recent_latency
from .engines.resolve import DEFAULT_PROBE_PORTS, PROBE_TIMEOUT_S, EngineProbe, resolve

__all__ = ["EngineInfo", "EngineStatus", "engine_status"]


class EngineInfo(BaseModel):
    kind: str = Field(description="http, transformers or trtllm.")
    endpoint: str | None = Field(description="Base URL of an OpenAI-compatible server; None in-process.")
    model: str = Field(description="Served model name, or the checkpoint directory.")
    quantization: str | None = Field(description="Weight format in use; None when unquantized or not reported.")
    context_length: int | None = Field(description="Context window in tokens, where known.")
    token_count_method: str = Field(description="How prompts are counted: server, tokenizer or estimate.")
    notes: list[str] = Field(default_factory=list)


class EngineStatus(BaseModel):
    available: bool = Field(description="Whether ask can reason with a local model now.")
    engine: EngineInfo | None
    probe: EngineProbe
    latency: LatencySummary = Field(description="The recent calls logged in the store.")


def engine_status(
    settings: Any,
    *,
    ports: Sequence[tuple[int, str]] = DEFAULT_PROBE_PORTS,
    host: str = "127.0.0.1",
    probe_timeout_s: float = PROBE_TIMEOUT_S,
) -> EngineStatus:
    resolution = resolve(settings, ports=ports, host=host, probe_timeout_s=probe_timeout_s)
    engine = resolution.engine
    info = None if engine is None else EngineInfo.model_validate(engine.describe())
    return EngineStatus(available=engine is not None, engine=info, probe=resolution.probe, latency=recent_latency(settings))
