"""The stdio server as a real subprocess: JSON-RPC only on stdout, no files in cwd, exit on EOF."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from .conftest import server_command, structured

pytestmark = pytest.mark.slow


def _rpc(id_: int, method: str, params: dict[str, object] | None = None) -> str:
    message: dict[str, object] = {"jsonrpc": "2.0", "id": id_, "method": method}
    if params is not None:
        message["params"] = params
    return json.dumps(message) + "\n"


def test_stdout_is_json_rpc_only_nothing_in_cwd_and_exit_on_stdin_eof(tmp_path: Path, server_env: dict[str, str]) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    server_env["DGX_SPARK_MCP_LOG_LEVEL"] = "DEBUG"  # plenty of logging, all of which must go to stderr
    requests = "".join(
        [
            _rpc(1, "initialize", {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}),
            json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}) + "\n",
            _rpc(2, "tools/list"),
            _rpc(3, "tools/call", {"name": "detect_hardware", "arguments": {}}),
            _rpc(4, "tools/call", {"name": "detect_hardware", "arguments": {"profile": "no-such"}}),
            _rpc(5, "resources/read", {"uri": "hardware://profiles/dgx-spark"}),
        ]
    )
    proc = subprocess.Popen(
        server_command(), cwd=cwd, env=server_env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(requests.encode())
    proc.stdin.flush()
    replies = {}
    while len(replies) < 5:
        line = proc.stdout.readline()
        assert line, "server closed stdout early"
        message = json.loads(line)  # every stdout line is one JSON-RPC message
        assert message["jsonrpc"] == "2.0"
        if "id" in message:
            replies[message["id"]] = message
    closed_at = time.monotonic()
    proc.stdin.close()  # EOF: the server must exit by itself
    try:
        proc.wait(timeout=10)
    finally:
        proc.kill()
    assert time.monotonic() - closed_at < 5
    assert proc.stderr is not None
    rest, stderr = proc.stdout.read(), proc.stderr.read()
    proc.stdout.close()
    proc.stderr.close()
    assert proc.returncode == 0
    for line in rest.splitlines():
        assert json.loads(line)["jsonrpc"] == "2.0"
    assert replies[1]["result"]["serverInfo"]["name"] == "dgx-spark-mcp"
    assert {"detect_hardware", "check_gpu_availability"} <= {t["name"] for t in replies[2]["result"]["tools"]}
    assert replies[3]["result"]["structuredContent"]["source"] == "host"
    assert replies[4]["result"]["isError"] is True
    assert "dgx-spark" in replies[5]["result"]["contents"][0]["text"]
    assert b"DEBUG" in stderr  # the logs went to stderr
    assert list(cwd.iterdir()) == []


async def test_sdk_client_over_stdio(tmp_path: Path, server_env: dict[str, str]) -> None:
    command = server_command("serve")
    params = StdioServerParameters(command=command[0], args=command[1:], env=server_env, cwd=str(tmp_path))
    async with Client(params) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        assert "list_hardware_profiles" in tools
        profiles = structured(await client.call_tool("list_hardware_profiles", {}))
    assert len(profiles["profiles"]) >= 7


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


test_sdk_client_over_stdio = pytest.mark.anyio(test_sdk_client_over_stdio)
