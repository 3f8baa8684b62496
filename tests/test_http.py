"""Streamable HTTP and SSE on a loopback port: real uvicorn, real clients, rebinding and token checks."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import psutil
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from .conftest import server_command, structured

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

TOKEN = "s3cret-token-for-tests"
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
}
HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(proc: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {proc.communicate()[1].decode()[-2000:]}") from None
            time.sleep(0.1)


@contextmanager
def serving(transport: str, env: dict[str, str], cwd: Path, *extra: str) -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        server_command("serve", "--transport", transport, "--port", str(port), *extra),
        env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        _wait_for_port(proc, port)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_streamable_http_lists_and_calls_tools(tmp_path: Path, server_env: dict[str, str]) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    with serving("streamable-http", server_env, cwd) as base:
        async with Client(f"{base}/mcp") as client:
            tools = {t.name for t in (await client.list_tools()).tools}
            snap = structured(await client.call_tool("detect_hardware", {"profile": "dgx-h100"}))
    assert "check_gpu_availability" in tools
    assert len(snap["gpus"]) == 8
    assert list(cwd.iterdir()) == []


async def test_dns_rebinding_foreign_host_and_origin_are_refused(tmp_path: Path, server_env: dict[str, str]) -> None:
    with serving("streamable-http", server_env, tmp_path) as base:
        bad_host = httpx2.post(f"{base}/mcp", json=INIT, headers={**HEADERS, "host": "evil.example:80"})
        bad_origin = httpx2.post(f"{base}/mcp", json=INIT, headers={**HEADERS, "origin": "http://evil.example"})
        good = httpx2.post(f"{base}/mcp", json=INIT, headers=HEADERS)
    assert bad_host.status_code == 421
    assert bad_origin.status_code == 403
    assert good.status_code == 200


async def test_bearer_token_is_required_on_every_request(tmp_path: Path, server_env: dict[str, str]) -> None:
    with serving("streamable-http", server_env, tmp_path, "--auth-token", TOKEN) as base:
        missing = httpx2.post(f"{base}/mcp", json=INIT, headers=HEADERS)
        wrong = httpx2.post(f"{base}/mcp", json=INIT, headers={**HEADERS, "authorization": "Bearer nope"})
        async with httpx2.AsyncClient(headers={"authorization": f"Bearer {TOKEN}"}) as http:
            async with Client(streamable_http_client(f"{base}/mcp", http_client=http)) as client:
                tools = (await client.list_tools()).tools
    assert missing.status_code == 401 and wrong.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert len(tools) >= 3


async def test_auth_token_from_the_environment(tmp_path: Path, server_env: dict[str, str]) -> None:
    server_env["DGX_SPARK_MCP_AUTH_TOKEN"] = TOKEN
    with serving("streamable-http", server_env, tmp_path) as base:
        missing = httpx2.post(f"{base}/mcp", json=INIT, headers=HEADERS)
        ok = httpx2.post(f"{base}/mcp", json=INIT, headers={**HEADERS, "authorization": f"Bearer {TOKEN}"})
    assert missing.status_code == 401 and ok.status_code == 200


async def test_sse_transport(tmp_path: Path, server_env: dict[str, str]) -> None:
    with serving("sse", server_env, tmp_path) as base:
        async with Client(sse_client(f"{base}/sse")) as client:
            profiles = structured(await client.call_tool("list_hardware_profiles", {}))
    assert any(p["name"] == "dgx-spark" for p in profiles["profiles"])


def _call_with_text(size: int) -> dict[str, object]:
    return {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": {"name": "diagnose_log", "arguments": {"text": "x" * size}}}


async def test_a_request_body_over_the_limit_is_refused_before_parsing(tmp_path: Path,
                                                                        server_env: dict[str, str]) -> None:
    from dgx_spark_mcp.server import MAX_REQUEST_BODY_BYTES

    with serving("streamable-http", server_env, tmp_path) as base:
        huge = httpx2.post(f"{base}/mcp", json=_call_with_text(MAX_REQUEST_BODY_BYTES + 1024), headers=HEADERS)
        # Under the limit the request is parsed (and answered: no session yet, so 400, not 413).
        under = httpx2.post(f"{base}/mcp", json=_call_with_text(MAX_REQUEST_BODY_BYTES // 2), headers=HEADERS)
        async with Client(f"{base}/mcp") as client:  # the server is still serving
            assert (await client.list_tools()).tools
    assert huge.status_code == 413
    assert under.status_code != 413


def _listening(server_env: dict[str, str], cwd: Path, *extra: str) -> tuple[set[str], str, int]:
    """(addresses the server listens on, its stderr, port) for ``serve --transport streamable-http *extra``."""
    port = _free_port()
    proc = subprocess.Popen(server_command("serve", "--transport", "streamable-http", "--port", str(port), *extra),
                            env=server_env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait_for_port(proc, port)
        bound = {conn.laddr.ip for conn in psutil.Process(proc.pid).net_connections("inet") if conn.status == "LISTEN"}
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    return bound, err.decode(), port


async def test_http_binds_to_loopback_by_default(tmp_path: Path, server_env: dict[str, str]) -> None:
    bound, err, port = _listening(server_env, tmp_path)
    assert bound == {"127.0.0.1"}
    assert f"http://127.0.0.1:{port}/mcp" in err
    assert "without --auth-token" not in err  # that warning is for other binds only


async def test_binding_every_address_without_a_token_is_warned_about(tmp_path: Path,
                                                                     server_env: dict[str, str]) -> None:
    bound, err, _ = _listening(server_env, tmp_path, "--host", "0.0.0.0")
    assert bound == {"0.0.0.0"}
    assert "without --auth-token: anyone who can reach this port can call every tool" in err
