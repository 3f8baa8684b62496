"""Choosing the engine: configured URL, probed loopback ports, local checkpoint directories."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dgx_spark_mcp.errors import BadInputError
from dgx_spark_mcp.reasoning.engines.http import HttpEngine
from dgx_spark_mcp.reasoning.engines.resolve import (
    DEFAULT_PROBE_PORTS,
    clear_engine_cache,
    probe_ports,
    resolve,
    resolve_engine,
)
from dgx_spark_mcp.reasoning.engines.transformers_local import TransformersEngine
from dgx_spark_mcp.settings import Settings

from .openai_server import OpenAICompatServer


@pytest.fixture(scope="module")
def local(tiny_model_dir: Path) -> TransformersEngine:
    return TransformersEngine(tiny_model_dir)


@pytest.fixture
def server(local: TransformersEngine) -> Iterator[OpenAICompatServer]:
    with OpenAICompatServer(local) as s:
        yield s


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    yield
    clear_engine_cache()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _with(settings: Settings, **update: object) -> Settings:
    return settings.model_copy(update=update)


def test_default_ports_are_the_known_servers_in_order() -> None:
    assert [p for p, _ in DEFAULT_PROBE_PORTS] == [8000, 11434, 8080, 30000, 1234]
    assert "Ollama" in dict(DEFAULT_PROBE_PORTS)[11434]
    assert "trtllm-serve" in dict(DEFAULT_PROBE_PORTS)[8000]


def test_probing_the_default_ports_is_quick_and_complete() -> None:
    started = time.monotonic()
    results = probe_ports()
    assert time.monotonic() - started < 2.0  # concurrent, 0.3 s each
    assert [p.port for p, _ in results] == [8000, 11434, 8080, 30000, 1234]
    assert all(p.detail for p, _ in results)


def test_auto_finds_the_server_on_a_probed_port(settings: Settings, server: OpenAICompatServer) -> None:
    closed = _free_port()
    ports = [(closed, "nothing"), (server.port, "test server")]
    resolution = resolve(settings, ports=ports)
    engine = resolution.engine
    assert isinstance(engine, HttpEngine)
    assert engine.endpoint == server.base_url and engine.model == "tiny-mistral"
    probe = resolution.probe
    assert probe.chosen == f"http {server.base_url} tiny-mistral"
    assert [p.port for p in probe.probes] == [closed, server.port]
    assert not probe.probes[0].answered and "refused" in probe.probes[0].detail
    assert probe.probes[1].answered and probe.probes[1].models == ["tiny-mistral"]
    assert f"port {server.port}" in probe.reason
    _, stats = engine.generate([{"role": "user", "content": "hi"}], max_tokens=3)
    assert stats.completion_tokens >= 1


def test_auto_prefers_the_earlier_port(settings: Settings, local: TransformersEngine) -> None:
    with OpenAICompatServer(local, model_name="first") as a, OpenAICompatServer(local, model_name="second") as b:
        engine = resolve_engine(settings, ports=[(b.port, "b"), (a.port, "a")])
        assert engine is not None and engine.model == "second"
        # engine_model picks the server that serves it, wherever it is in the order.
        engine = resolve_engine(_with(settings, engine_model="first"), ports=[(b.port, "b"), (a.port, "a")])
        assert engine is not None and engine.endpoint == a.base_url
        assert engine.probe.chosen == f"http {a.base_url} first"  # type: ignore[attr-defined]


def test_auto_with_an_unserved_model_finds_none(settings: Settings, server: OpenAICompatServer) -> None:
    resolution = resolve(_with(settings, engine_model="mistral-7b"), ports=[(server.port, "test")])
    assert resolution.engine is None
    assert "no probed server serves engine_model 'mistral-7b'" in resolution.probe.reason


def test_auto_with_nothing_listening(settings: Settings) -> None:
    ports = [(_free_port(), "a"), (_free_port(), "b")]
    resolution = resolve(settings, ports=ports)
    assert resolution.engine is None
    assert "no OpenAI-compatible server found" in resolution.probe.reason
    assert all(str(p) in resolution.probe.reason for p, _ in ports)


def test_a_port_answering_something_else(settings: Settings, local: TransformersEngine) -> None:
    # An HTTP server that is not OpenAI-compatible: /v1/models is a 404.
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class NotFound(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_error(404)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        resolution = resolve(settings, ports=[(httpd.server_address[1], "other")])
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert resolution.engine is None
    assert "HTTP 404" in resolution.probe.probes[0].detail


def test_configured_url(settings: Settings, server: OpenAICompatServer) -> None:
    engine = resolve_engine(_with(settings, engine_url=server.base_url))
    assert isinstance(engine, HttpEngine) and engine.endpoint == server.base_url
    gone = f"http://127.0.0.1:{_free_port()}/v1"
    resolution = resolve(_with(settings, engine_url=gone))
    assert resolution.engine is None and gone in resolution.probe.reason and "refused" in resolution.probe.reason
    with pytest.raises(BadInputError, match="not an http"):
        resolve(_with(settings, engine_url="ftp://x"))


def test_configured_url_with_a_local_tokenizer(settings: Settings, server: OpenAICompatServer, tiny_model_dir: Path) -> None:
    engine = resolve_engine(_with(settings, engine_url=server.base_url, engine_model=str(tiny_model_dir)))
    assert isinstance(engine, HttpEngine) and engine.model == "tiny-mistral"
    assert engine.render_prompt([{"role": "user", "content": "hi"}]).startswith("<s>[INST] hi")


def test_none_switches_it_off(settings: Settings) -> None:
    resolution = resolve(_with(settings, engine_url="none"))
    assert resolution.engine is None and "switched off" in resolution.probe.reason


def test_local_directory_means_transformers(settings: Settings, tiny_model_dir: Path) -> None:
    engine = resolve_engine(_with(settings, engine_model=str(tiny_model_dir)), ports=[])
    assert isinstance(engine, TransformersEngine) and engine.quantization is None
    # Loaded once per configuration.
    assert resolve_engine(_with(settings, engine_model=str(tiny_model_dir)), ports=[]) is engine
    explicit = resolve_engine(_with(settings, engine_kind="transformers", engine_model=str(tiny_model_dir),
                                    engine_quantization="int8"))
    assert isinstance(explicit, TransformersEngine) and explicit.quantization == "int8"


def test_transformers_without_a_directory(settings: Settings) -> None:
    with pytest.raises(BadInputError, match="local checkpoint directory"):
        resolve(_with(settings, engine_kind="transformers", engine_model="mistral-7b"))


def test_trtllm_not_installed_gives_none_with_the_install_hint(settings: Settings, tiny_model_dir: Path) -> None:
    try:
        import tensorrt_llm  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("TensorRT-LLM is installed here")
    resolution = resolve(_with(settings, engine_kind="trtllm", engine_model=str(tiny_model_dir)))
    assert resolution.engine is None
    assert "pip install 'dgx-spark-mcp[trtllm]' --extra-index-url https://pypi.nvidia.com" in resolution.probe.reason


def test_engine_tokenizer_goes_to_a_server_and_is_left_out_in_process(settings: Settings, server: OpenAICompatServer,
                                                                       tiny_model_dir: Path) -> None:
    engine = resolve_engine(_with(settings, engine_url=server.base_url, engine_tokenizer=str(tiny_model_dir)))
    assert isinstance(engine, HttpEngine) and engine.token_count_method == "tokenizer"
    assert engine.render_prompt([{"role": "user", "content": "hi"}]).startswith("<s>[INST] hi")
    local = resolve(_with(settings, engine_model=str(tiny_model_dir), engine_tokenizer=str(tiny_model_dir)), ports=[])
    assert isinstance(local.engine, TransformersEngine) and "engine_tokenizer is not used" in local.probe.reason
    with pytest.raises(BadInputError, match="engine_tokenizer"):
        resolve(_with(settings, engine_url=server.base_url, engine_tokenizer=str(tiny_model_dir / "config.json")))
