"""engine_status data: the resolved engine, the probe log and the call latency."""

from __future__ import annotations

import socket
from pathlib import Path

from dgx_spark_mcp.reasoning.calls import record_call
from dgx_spark_mcp.reasoning.engines.resolve import clear_engine_cache, resolve_engine
from dgx_spark_mcp.reasoning.engines.transformers_local import TransformersEngine
from dgx_spark_mcp.reasoning.status import engine_status
from dgx_spark_mcp.settings import Settings

from .openai_server import OpenAICompatServer


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_status_with_a_probed_server(settings: Settings, tiny_model_dir: Path) -> None:
    local = TransformersEngine(tiny_model_dir)
    with OpenAICompatServer(local) as server:
        ports = [(_free_port(), "nothing"), (server.port, "test")]
        engine = resolve_engine(settings, ports=ports)
        assert engine is not None
        _, stats = engine.generate([{"role": "user", "content": "hi"}], max_tokens=3)
        record_call(settings, engine, stats)
        status = engine_status(settings, ports=ports)
    assert status.available and status.engine is not None
    assert status.engine.kind == "http" and status.engine.endpoint == server.base_url
    assert status.engine.context_length == 512
    assert len(status.probe.probes) == 2
    assert status.latency.calls == 1 and status.latency.median_ttft_s is not None
    assert status.model_dump(mode="json")["engine"]["model"] == "tiny-mistral"


def test_status_without_an_engine(settings: Settings) -> None:
    status = engine_status(settings, ports=[(_free_port(), "nothing")])
    assert not status.available and status.engine is None
    assert "no OpenAI-compatible server found" in status.probe.reason
    assert status.latency.calls == 0


def test_status_of_a_local_checkpoint(settings: Settings, tiny_model_dir: Path) -> None:
    try:
        status = engine_status(settings.model_copy(update={"engine_model": str(tiny_model_dir),
                                                           "engine_quantization": "int4"}), ports=[])
    finally:
        clear_engine_cache()
    assert status.engine is not None and status.engine.kind == "transformers"
    assert status.engine.quantization == "int8" and any("int4" in n for n in status.engine.notes)
