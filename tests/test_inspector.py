"""The MCP Inspector CLI (npm @modelcontextprotocol/inspector, installed by `make test`) against the stdio server."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import REPO, server_command

pytestmark = pytest.mark.slow

INSPECTOR = REPO / "node_modules" / ".bin" / "mcp-inspector"


def _inspector(cwd: Path, env: dict[str, str], *args: str) -> dict[str, object]:
    if shutil.which("node") is None:
        pytest.skip("Node.js is not installed, so the MCP Inspector CLI cannot run here")
    assert INSPECTOR.exists(), "the Inspector is missing: run `make test` (it runs `npm ci`) first"
    proc = subprocess.run(
        [str(INSPECTOR), "--cli", *server_command(), "--format", "json", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    envelope = json.loads(proc.stdout)
    return envelope.get("result", envelope)  # type: ignore[no-any-return]


def test_inspector_lists_every_tool_with_a_description(tmp_path: Path, server_env: dict[str, str]) -> None:
    result = _inspector(tmp_path, server_env, "--method", "tools/list")
    tools = {t["name"]: t for t in result["tools"]}  # type: ignore[index, union-attr]
    assert {"detect_hardware", "list_hardware_profiles", "check_gpu_availability"} <= set(tools)
    for tool in tools.values():
        assert tool["description"] and "\n" not in tool["description"]
        assert tool["outputSchema"]["type"] == "object"


def test_inspector_calls_detect_hardware(tmp_path: Path, server_env: dict[str, str]) -> None:
    result = _inspector(tmp_path, server_env, "--method", "tools/call", "--tool-name", "detect_hardware")
    assert not result.get("isError", False)
    snap = result["structuredContent"]
    assert snap["source"] == "host" and snap["gpu_stack"]["available"] is False  # type: ignore[index]
    assert list(tmp_path.iterdir()) == []


def test_inspector_reads_a_profile_resource(tmp_path: Path, server_env: dict[str, str]) -> None:
    result = _inspector(tmp_path, server_env, "--method", "resources/read", "--uri", "hardware://profiles/dgx-spark")
    profile = json.loads(result["contents"][0]["text"])  # type: ignore[index]
    assert profile["gpu"]["compute_capability"]["value"] == "12.1"
