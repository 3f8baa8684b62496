"""`dgx-spark-mcp telemetry ...`: the same functions as the tools, --json equal to their output, errors exit 2."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from dgx_spark_mcp.cli import main
from dgx_spark_mcp.server import build_server
from dgx_spark_mcp.settings import Settings

from ..conftest import structured

FIXTURES = Path(__file__).parents[1] / "fixtures" / "telemetry"


@pytest.fixture
def filled(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """The flags of a data dir holding the wide-CSV fixture, ingested through the CLI."""
    shutil.copy(FIXTURES / "dcgm_wide.csv", tmp_path / "wide.csv")
    flags = ["--home", str(tmp_path / "home"), "--allowed-roots", str(tmp_path), "--log-level", "WARNING"]
    assert main(["telemetry", "ingest", str(tmp_path / "wide.csv"), *flags, "--json"]) == 0
    ingested = json.loads(capsys.readouterr().out)
    assert (ingested["format"], ingested["rows_stored"]) == ("dcgm_wide", 24)
    return flags


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("argv", "tool", "args"),
    [
        (["gpus"], "list_gpus", {}),
        (["gpus", "--detail", "full", "--limit", "1"], "list_gpus", {"detail": "full", "limit": 1}),
        (["hosts"], "list_gpus", {"by": "host"}),
        (["query", "--metric", "gpu_util"], "query_telemetry", {"metrics": ["gpu_util"]}),
        (["query", "--metric", "gpu_util", "--bucket", "1m", "--aggregate", "max", "--detail", "full"], "query_telemetry",
         {"metrics": ["gpu_util"], "bucket": "1m", "aggregates": ["max"], "detail": "full"}),
        (["report", "--group-by", "host"], "telemetry_report", {"group_by": "host"}),
        (["report", "--detail", "full", "--limit", "1"], "telemetry_report", {"detail": "full", "limit": 1}),
    ],
)
async def test_cli_json_equals_the_tool_output(
    capsys: pytest.CaptureFixture[str], filled: list[str], tmp_path: Path, argv: list[str], tool: str, args: dict[str, Any]
) -> None:
    from_cli = _json(capsys, "telemetry", *argv, *filled)
    settings = Settings(home=tmp_path / "home", allowed_roots=[tmp_path], log_level="WARNING")
    async with Client(build_server(settings), raise_exceptions=True) as client:
        from_tool = structured(await client.call_tool(tool, args))
    assert from_cli == from_tool


def test_plot_writes_a_png(capsys: pytest.CaptureFixture[str], filled: list[str], tmp_path: Path) -> None:
    out = tmp_path / "chart.png"
    assert main(["telemetry", "plot", "gpu_util", "power", "-o", str(out), *filled]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "written" in capsys.readouterr().out


def test_text_views_for_people(capsys: pytest.CaptureFixture[str], filled: list[str]) -> None:
    assert main(["telemetry", "report", *filled]) == 0
    out = capsys.readouterr().out
    assert "GPU usage the first sample .. the last by gpu" in out and "TOTAL" in out and "costliest:" in out
    assert main(["telemetry", "report", "--detail", "full", "--limit", "1", *filled]) == 0
    assert "more rows follow: --cursor " in capsys.readouterr().out
    for argv, expected in [(["gpus"], "3 of 3 GPU(s)"), (["gpus", "--detail", "full"], "driver"),
                           (["hosts"], "host(s)"), (["query", "--metric", "power"], "samples"),
                           (["query", "--metric", "power", "--detail", "full", "--limit", "2"], "more points follow")]:
        assert main(["telemetry", *argv, *filled]) == 0, argv
        assert expected in capsys.readouterr().out, argv


def test_paging_from_the_command_line(capsys: pytest.CaptureFixture[str], filled: list[str]) -> None:
    first = _json(capsys, "telemetry", "gpus", "--limit", "2", *filled)
    second = _json(capsys, "telemetry", "gpus", "--limit", "2", "--cursor", first["next_cursor"], *filled)
    assert first["total"] == 3 and len(first["gpus"]) == 2 and len(second["gpus"]) == 1 and "next_cursor" not in second
    assert second["gpus"][0]["uuid"] not in {g["uuid"] for g in first["gpus"]}


def test_bad_input_exits_2_naming_the_value(capsys: pytest.CaptureFixture[str], filled: list[str]) -> None:
    assert main(["telemetry", "query", "--metric", "utilisation", *filled]) == 2
    assert "unknown metric 'utilisation'" in capsys.readouterr().err
    assert main(["telemetry", "query", "--start", "yesterday", *filled]) == 2
    assert "start 'yesterday'" in capsys.readouterr().err


def test_bad_pages_exit_2_naming_the_value(capsys: pytest.CaptureFixture[str], filled: list[str]) -> None:
    assert main(["telemetry", "gpus", "--limit", "0", *filled]) == 2
    assert "limit 0 is out of range" in capsys.readouterr().err
    assert main(["telemetry", "hosts", "--cursor", "nonsense", *filled]) == 2
    assert "not one this tool returned" in capsys.readouterr().err
