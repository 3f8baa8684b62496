"""The command line: --json equals the tool's structured output; errors are clear and exit 2."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from dgx_spark_mcp.cli import main

from .conftest import server_command, structured

VOLATILE = {"captured_at", "memory_available_gib", "free_gib", "disks", "used_gib"}


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("argv", "tool", "args"),
    [
        (["hardware"], "detect_hardware", {}),
        (["hardware", "--profile", "dgx-spark"], "detect_hardware", {"profile": "dgx-spark"}),
        (["profiles"], "list_hardware_profiles", {}),
        (["gpus", "--min-free-gib", "4"], "check_gpu_availability", {"min_free_memory_gib": 4}),
    ],
)
async def test_cli_json_equals_the_tool_output(
    capsys: pytest.CaptureFixture[str], client: Client, argv: list[str], tool: str, args: dict[str, Any]
) -> None:
    from_cli = _cli_json(capsys, *argv)
    from_tool = structured(await client.call_tool(tool, args))
    assert _strip(from_cli) == _strip(from_tool)


def test_hardware_table_for_people(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hardware", "--profile", "dgx-h100"]) == 0
    out = capsys.readouterr().out
    assert "NVIDIA H100 80GB HBM3" in out and "Source: profile (dgx-h100)" in out


def test_unknown_profile_exits_2_with_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hardware", "--profile", "dgx-t4"]) == 2
    err = capsys.readouterr().err
    assert "unknown hardware profile 'dgx-t4'" in err and "dgx-spark" in err


def test_config_prints_effective_settings_with_flags_over_env(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DGX_SPARK_MCP_HOME", str(tmp_path / "from-env"))
    monkeypatch.setenv("DGX_SPARK_MCP_LOG_LEVEL", "debug")
    monkeypatch.setenv("DGX_SPARK_MCP_AUTH_TOKEN", "hidden")
    view = _cli_json(capsys, "config", "--home", str(tmp_path / "from-flag"))
    assert view["home"] == str(tmp_path / "from-flag")
    assert view["log_level"] == "DEBUG"
    assert view["auth_token"] == "***"


def test_invalid_setting_exits_2_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "--log-level", "LOUD"]) == 2
    assert "log_level" in capsys.readouterr().err


def test_python_dash_m_help_lists_the_commands() -> None:
    out = subprocess.run(server_command("--help"), capture_output=True, text=True, check=True).stdout
    for command in ("serve", "hardware", "profiles", "gpus", "config"):
        assert command in out
