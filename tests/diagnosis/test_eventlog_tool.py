"""analyze_event_log through the in-process MCP client, and `dgx-spark-mcp eventlog` on the command line."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from mcp import Client

from dgx_spark_mcp.cli import main

from ..conftest import structured
from .eventlogs import CORPUS, of_type, raw_events

LOG = "gpu_oom_eventlog.zstd"


@pytest.mark.anyio
async def test_the_tool_reads_a_log_under_the_allowed_roots(client: Client, tmp_path: Path) -> None:
    shutil.copyfile(CORPUS / LOG, tmp_path / LOG)
    result = structured(await client.call_tool("analyze_event_log", {"path": str(tmp_path / LOG), "limit": 3,
                                                                      "detail": "full"}))
    raw = raw_events(CORPUS / LOG)
    assert result["app"]["app_id"] == of_type(raw, "SparkListenerApplicationStart")[0]["App ID"]
    assert result["totals"]["tasks"] == len(of_type(raw, "SparkListenerTaskEnd"))
    submitted = {(e["Stage Info"]["Stage ID"], e["Stage Info"]["Stage Attempt ID"])
                 for e in of_type(raw, "SparkListenerStageSubmitted")}
    assert len(result["stages"]) == 3 and result["stages_total"] == len(submitted) > 3
    assert any("limit=3" in note for note in result["notes"])
    executors = [e for e in of_type(raw, "SparkListenerExecutorAdded") if e["Executor ID"] != "driver"]
    assert not of_type(raw, "SparkListenerExecutorRemoved")  # so all were alive at once
    assert result["what_if"]["observed_executors"] == len(executors) and result["recommendations"]


@pytest.mark.anyio
async def test_the_tool_replays_the_executor_counts_it_is_given(client: Client, tmp_path: Path) -> None:
    shutil.copyfile(CORPUS / LOG, tmp_path / LOG)
    result = structured(await client.call_tool("analyze_event_log", {"path": str(tmp_path / LOG), "executor_counts": [8, 2, 4]}))
    points = result["what_if"]["points"]
    assert [p["executors"] for p in points] == [2, 4, 8]
    times = [p["estimated_duration_ms"] for p in points]
    assert times == sorted(times, reverse=True) and times[-1] >= result["critical_path"]["critical_path_ms"]


@pytest.mark.anyio
async def test_analyze_event_log_rejects_a_path_outside_the_roots(client: Client) -> None:
    result = await client.call_tool("analyze_event_log", {"path": str(CORPUS / LOG)})
    assert result.is_error
    assert "outside the allowed roots" in result.content[0].text  # type: ignore[union-attr]


@pytest.mark.anyio
async def test_analyze_event_log_rejects_a_symlink_out_of_the_roots(client: Client, tmp_path: Path) -> None:
    os.symlink(CORPUS / LOG, tmp_path / "innocent.zstd")
    result = await client.call_tool("analyze_event_log", {"path": str(tmp_path / "innocent.zstd")})
    assert result.is_error and "outside the allowed roots" in result.content[0].text  # type: ignore[union-attr]


@pytest.mark.anyio
async def test_a_file_that_is_no_event_log_is_an_error_the_agent_can_read(client: Client, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not json\n")
    result = await client.call_tool("analyze_event_log", {"path": str(tmp_path / "notes.txt")})
    assert result.is_error and "holds no Spark events" in result.content[0].text  # type: ignore[union-attr]


@pytest.mark.anyio
async def test_cli_json_equals_the_tool_output(client: Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copyfile(CORPUS / "python_udf_eventlog", tmp_path / "python_udf_eventlog")
    path = str(tmp_path / "python_udf_eventlog")
    from_tool = structured(await client.call_tool("analyze_event_log", {"path": path, "executor_counts": [1, 2]}))
    assert main(["eventlog", path, "--executors", "1,2", "--allowed-roots", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == from_tool


def test_cli_text_names_the_app_and_its_findings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eventlog", str(CORPUS / LOG), "--allowed-roots", str(CORPUS), "--limit", "2"]) == 0
    out = capsys.readouterr().out
    assert "NDS - Power Run" in out and "gpu_oom" in out and "What-if" in out and "spark.sql.files.maxPartitionBytes = 5g" in out


def test_cli_errors_exit_2_with_the_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eventlog", str(CORPUS / LOG), "--allowed-roots", str(tmp_path)]) == 2
    assert "outside the allowed roots" in capsys.readouterr().err
    assert main(["eventlog", str(CORPUS / LOG), "--allowed-roots", str(CORPUS), "--executors", "two"]) == 2
    assert "--executors 'two'" in capsys.readouterr().err
    assert main(["eventlog", str(CORPUS / LOG), "--allowed-roots", str(CORPUS), "--executors", "0,4"]) == 2
    assert "executor_counts [0, 4] must be" in capsys.readouterr().err
