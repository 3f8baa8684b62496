"""Which engine answers ``ask``: from the settings, or by probing the usual local server ports.

Order (local-llm.md section 7): a configured engine, else a probed local server, else none, in
which case the caller returns its evidence with ``reasoning_available: false`` and the probe log
saying why.  A misconfiguration (a malformed URL, a model the server does not serve) raises
BadInputError; an engine that is simply not running gives None and a reason.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from ...errors import BadInputError, CouldNotDoError
from .base import Engine

__all__ = [
    "DEFAULT_PROBE_PORTS",
    "PROBE_TIMEOUT_S",
    "EngineProbe",
    "EngineResolution",
    "PortProbe",
    "clear_engine_cache",
    "probe_ports",
    "resolve",
    "resolve_engine",
]

log = logging.getLogger(__name__)

DEFAULT_PROBE_PORTS: tuple[tuple[int, str], ...] = (
    (8000, "trtllm-serve / vLLM / NVIDIA NIM"),
    (11434, "Ollama"),
    (8080, "llama.cpp llama-server"),
    (30000, "SGLang"),
    (1234, "LM Studio"),
)
"""Loopback ports probed by ``engine_url = "auto"``, in order of preference, with who uses them."""

PROBE_TIMEOUT_S = 0.3
"""Per-port probe timeout: a local server answers /v1/models in milliseconds; a closed port refuses at once."""


class PortProbe(BaseModel):
    port: int | None = Field(description="The port probed; None for a configured URL.")
    url: str = Field(description="The models URL asked.")
    server: str = Field(description="Which servers use this port by default.")
    answered: bool = Field(description="Whether an OpenAI-compatible models list came back.")
    models: list[str] = Field(default_factory=list, description="Model ids the server listed.")
    detail: str = Field(description="What happened: the models found, or why none.")


class EngineProbe(BaseModel):
    """How the engine was chosen (or why none was)."""

    engine_url: str
    engine_kind: str
    engine_model: str | None
    chosen: str | None = Field(description="'http <url> <model>', 'transformers <dir>', 'trtllm <dir>' or None.")
    reason: str = Field(description="Why this engine, or why none.")
    probes: list[PortProbe] = Field(default_factory=list)


@dataclass
class EngineResolution:
    engine: Engine | None
    probe: EngineProbe
    models: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def _probe_one(base_url: str, port: int | None, server: str, timeout_s: float) -> tuple[PortProbe, list[dict[str, Any]]]:
    import httpx2

    url = f"{base_url}/models"
    try:
        response = httpx2.get(url, timeout=timeout_s)
    except httpx2.ConnectError:
        return PortProbe(port=port, url=url, server=server, answered=False, detail="connection refused (nothing listening)"), []
    except httpx2.TimeoutException:
        return PortProbe(port=port, url=url, server=server, answered=False, detail=f"no answer within {timeout_s:g} s"), []
    except httpx2.HTTPError as exc:
        return PortProbe(port=port, url=url, server=server, answered=False, detail=f"{type(exc).__name__}: {exc}"), []
    if response.status_code != 200:
        return PortProbe(port=port, url=url, server=server, answered=False,
                         detail=f"HTTP {response.status_code} (not an OpenAI-compatible server, or still loading)"), []
    try:
        body = response.json()
    except ValueError:
        return PortProbe(port=port, url=url, server=server, answered=False, detail="answered, but not with JSON"), []
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        return PortProbe(port=port, url=url, server=server, answered=False,
                         detail="answered JSON without a 'data' list (not an OpenAI-compatible models list)"), []
    entries = [m for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)]
    ids = [m["id"] for m in entries]
    detail = f"serves {', '.join(ids[:5])}" + (f" and {len(ids) - 5} more" if len(ids) > 5 else "") if ids else "lists no model"
    return PortProbe(port=port, url=url, server=server, answered=True, models=ids, detail=detail), entries


def probe_ports(
    ports: Sequence[tuple[int, str]] = DEFAULT_PROBE_PORTS, *, host: str = "127.0.0.1", timeout_s: float = PROBE_TIMEOUT_S
) -> list[tuple[PortProbe, list[dict[str, Any]]]]:
    """Ask every port's ``/v1/models`` at once; results in the order of ``ports``."""
    if not ports:
        return []
    with ThreadPoolExecutor(max_workers=len(ports), thread_name_prefix="engine-probe") as pool:
        futures = [pool.submit(_probe_one, f"http://{host}:{port}/v1", port, server, timeout_s) for port, server in ports]
        return [f.result() for f in futures]


# In-process engines take seconds to load and hold the weights in memory: one per configuration.
_local_engines: dict[tuple[str, str, str], Engine] = {}
_local_lock = threading.Lock()


def clear_engine_cache() -> None:
    """Close and forget the loaded in-process engines."""
    with _local_lock:
        for engine in _local_engines.values():
            engine.close()
        _local_engines.clear()


def _local_engine(kind: str, model_dir: str, quantization: str) -> Engine:
    key = (kind, model_dir, quantization)
    with _local_lock:
        engine = _local_engines.get(key)
        if engine is None:
            if kind == "transformers":
                from .transformers_local import TransformersEngine

                engine = TransformersEngine(model_dir, quantization=quantization)
            else:
                from .trtllm import TrtllmEngine

                engine = TrtllmEngine(model_dir, quantization=quantization)
            _local_engines[key] = engine
        return engine


def resolve(
    settings: Any,
    *,
    ports: Sequence[tuple[int, str]] = DEFAULT_PROBE_PORTS,
    host: str = "127.0.0.1",
    probe_timeout_s: float = PROBE_TIMEOUT_S,
) -> EngineResolution:
    """The engine the settings ask for, with the log of how it was found.

    ``ports`` and ``host`` exist for tests (a server on a free port); the server uses the defaults.
    """
    from .transformers_local import is_checkpoint_dir

    url = (getattr(settings, "engine_url", "auto") or "auto").strip()
    kind = getattr(settings, "engine_kind", "auto") or "auto"
    model = getattr(settings, "engine_model", None) or None
    quantization = getattr(settings, "engine_quantization", "auto") or "auto"
    api_key = getattr(settings, "engine_api_key", None)
    if api_key is not None and hasattr(api_key, "get_secret_value"):
        api_key = api_key.get_secret_value()
    tokenizer = getattr(settings, "engine_tokenizer", None) or None
    timeout_s = float(getattr(settings, "engine_timeout_s", 120.0) or 120.0)

    def probe(chosen: str | None, reason: str, probes: list[PortProbe] | None = None) -> EngineProbe:
        return EngineProbe(engine_url=url, engine_kind=kind, engine_model=model, chosen=chosen, reason=reason, probes=probes or [])

    if kind not in ("auto", "http", "transformers", "trtllm"):
        raise BadInputError(f"engine_kind {kind!r} is unknown; expected auto, http, transformers or trtllm")
    if url.lower() == "none" and kind in ("auto", "http"):
        return EngineResolution(None, probe(None, "engine_url is 'none': local reasoning is switched off"))

    local_dir = model if is_checkpoint_dir(model) else None
    if kind in ("transformers", "trtllm") or (kind == "auto" and url.lower() == "auto" and local_dir):
        if not local_dir:
            raise BadInputError(
                f"engine_kind {kind!r} needs engine_model to be a local checkpoint directory with config.json; "
                f"it is {model!r}. Point it at a model saved with save_pretrained"
            )
        engine_kind = "transformers" if kind == "auto" else kind
        try:
            engine = _local_engine(engine_kind, local_dir, quantization)
        except CouldNotDoError as exc:
            return EngineResolution(None, probe(None, f"the {engine_kind} engine could not load {local_dir}: {exc}"))
        reason = f"engine_kind {kind}" if kind != "auto" else "engine_model is a local checkpoint directory"
        if tokenizer:
            reason += ("; engine_tokenizer is not used: the in-process engine counts with its checkpoint's own "
                       "tokenizer and chat template, which is exact")
        return EngineResolution(engine, probe(f"{engine_kind} {local_dir}", reason))

    # The served model's tokenizer: engine_tokenizer, else a local checkpoint named as engine_model.
    tokenizer = tokenizer or local_dir
    served_name = None if local_dir else model
    if url.lower() != "auto":
        from .http import HttpEngine, normalize_base_url

        base = normalize_base_url(url)
        # A configured server gets a longer look than the auto probe: it is expected to be there.
        port_probe, entries = _probe_one(base, None, "configured engine_url", max(probe_timeout_s, 2.0))
        if not port_probe.answered or not entries:
            return EngineResolution(None, probe(None, f"engine_url {base} is not usable: {port_probe.detail}", [port_probe]))
        engine = HttpEngine(base, served_name, api_key=api_key, tokenizer=tokenizer, timeout_s=timeout_s, models=entries)
        return EngineResolution(engine, probe(f"http {base} {engine.model}", "engine_url is set", [port_probe]))

    results = probe_ports(ports, host=host, timeout_s=probe_timeout_s)
    probes = [p for p, _ in results]
    listing = [(p, e) for p, e in results if p.answered and e]
    if served_name:
        listing = [(p, e) for p, e in listing if served_name in p.models]
    if not listing:
        tried = ", ".join(f"{p.port} ({p.detail})" for p in probes)
        if served_name and any(p.models for p in probes):
            reason = f"no probed server serves engine_model {served_name!r}; tried {tried}"
        else:
            reason = (
                f"no OpenAI-compatible server found on {host}; tried {tried}. Start one (e.g. ollama serve, "
                "trtllm-serve, vllm serve) or set engine_url / engine_model"
            )
        return EngineResolution(None, probe(None, reason, probes))
    from .http import HttpEngine

    port_probe, entries = listing[0]
    base = port_probe.url[: -len("/models")]
    engine = HttpEngine(base, served_name, api_key=api_key, tokenizer=tokenizer, timeout_s=timeout_s, models=entries)
    reason = f"probed: port {port_probe.port} ({port_probe.server}) {port_probe.detail}"
    return EngineResolution(engine, probe(f"http {base} {engine.model}", reason, probes))


def resolve_engine(settings: Any, **kwargs: Any) -> Engine | None:
    """The engine to use, or None (see :func:`resolve` for the reason)."""
    resolution = resolve(settings, **kwargs)
    engine = resolution.engine
    if engine is not None:
        engine.probe = resolution.probe  # type: ignore[attr-defined]
    return engine
