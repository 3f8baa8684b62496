"""compare_spark_apps on two real runs of one job with different settings, through MCP and the CLI; and the eventlog
and diagnose commands on an application of the History Server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from dgx_spark_mcp.cli import main
from dgx_spark_mcp.server import build_server
from dgx_spark_mcp.settings import Settings

from ..conftest import structured
from ..diagnosis.answer_size import answer_tokens
from .shs import HistoryServer, free_port

pytestmark = pytest.mark.slow

NOISE = ("spark.app.id", "spark.app.startTime", "spark.app.submitTime", "spark.driver.port", "spark.driver.host",
         "spark.eventLog.dir")


async def _call(settings: Settings, tool: str, args: dict[str, Any]) -> Any:
    async with Client(build_server(settings), raise_exceptions=True) as client:
        return await client.call_tool(tool, args)


@pytest.mark.anyio
async def test_the_slower_run_is_named_with_the_setting_and_the_figures_behind_it(
        history_server: HistoryServer, tmp_path: Path) -> None:
    settings = history_server.settings(tmp_path / "home")
    fast, slow = history_server.ids["fast"], history_server.ids["slow"]
    answer = structured(await _call(settings, "compare_spark_apps", {"a": fast, "b": f"shs/{slow}"}))
    assert (answer["a"]["app"], answer["b"]["app"], answer["slower"]) == (f"shs/{fast}", f"shs/{slow}", "b")
    reason = answer["reason"]
    assert reason.startswith(f"b (shs/{slow}) took ") and "tasks vs" in reason
    assert "spark.sql.shuffle.partitions 400 vs 8" in reason and "spark.sql.adaptive.enabled false vs true" in reason
    assert "the stage that grew most: 'collect at sales.py:" in reason
    keys = [d["key"] for d in answer["config"]]
    assert keys[:2] == ["spark.executor.memory", "spark.sql.shuffle.partitions"] and not set(NOISE) & set(keys)
    assert {"spark.sql.adaptive.enabled", "spark.serializer", "spark.sql.autoBroadcastJoinThreshold"} <= set(keys)
    assert answer["config"][1] == {"key": "spark.sql.shuffle.partitions", "a": "8", "b": "400"}
    assert answer["totals"]["tasks"][1] > 10 * answer["totals"]["tasks"][0]
    assert answer["totals"]["duration_ms"] == [answer["a"]["duration_ms"], answer["b"]["duration_ms"]]
    top = answer["stages"][0]
    assert top["duration_ms"][1] > top["duration_ms"][0] and top["changed"]["tasks"][1] == 400
    assert sorted(q["name"] for q in answer["sql"]) == ["sales by region", "top stores"]
    assert all(q["duration_ms"][1] > q["duration_ms"][0] for q in answer["sql"])
    assert answer_tokens_of(answer) <= 2500
    swapped = structured(await _call(settings, "compare_spark_apps", {"a": slow, "b": fast}))
    assert swapped["slower"] == "a" and "spark.sql.shuffle.partitions 400 vs 8" in swapped["reason"]
    same = await _call(settings, "compare_spark_apps", {"a": fast, "b": f"shs/{fast}"})
    assert same.is_error and "a and b are the same application" in same.content[0].text


def answer_tokens_of(data: dict[str, Any]) -> int:
    from dgx_spark_mcp.live.compare import SparkAppComparison

    return answer_tokens(SparkAppComparison.model_validate(data))


@pytest.mark.anyio
async def test_the_full_comparison_adds_what_the_summary_cut(history_server: HistoryServer, tmp_path: Path) -> None:
    settings = history_server.settings(tmp_path / "home")
    args = {"a": history_server.ids["fast"], "b": history_server.ids["slow"]}
    summary = structured(await _call(settings, "compare_spark_apps", args))
    full = structured(await _call(settings, "compare_spark_apps", {**args, "detail": "full"}))
    assert summary["more"].startswith("detail='full' adds ") and "more" not in full
    assert len(full["stages"]) > len(summary["stages"]) and full["stages"][:5] == summary["stages"]
    assert full["stages_unmatched"] and all(u.startswith(("a: ", "b: ")) for u in full["stages_unmatched"])
    assert full["reason"] == summary["reason"] and full["config"] == summary["config"]


def _env(history_server: HistoryServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("DGX_SPARK_MCP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DGX_SPARK_MCP_SPARK_SERVERS", f"shs={history_server.url}")
    monkeypatch.setenv("DGX_SPARK_MCP_SPARK_UI_PORTS", str(free_port()))
    return history_server.settings(tmp_path / "home")


def test_the_compare_command_prints_the_tools_json_or_the_reason_first(
        history_server: HistoryServer, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from dgx_spark_mcp.live.compare import compare_apps
    from dgx_spark_mcp.tools.answers import compact

    settings = _env(history_server, tmp_path, monkeypatch)
    fast, slow = history_server.ids["fast"], history_server.ids["slow"]
    assert main(["compare", fast, slow, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == compact(compare_apps(settings, fast, slow))
    assert main(["compare", fast, slow]) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[2].startswith(f"b (shs/{slow}) took ") and "  spark.sql.shuffle.partitions: 8 vs 400" in text


def test_the_eventlog_and_diagnose_commands_take_an_app(
        history_server: HistoryServer, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from dgx_spark_mcp.live.app_analysis import analyze_app, diagnose_app
    from dgx_spark_mcp.tools.answers import compact

    settings = _env(history_server, tmp_path, monkeypatch)
    app = f"shs/{history_server.ids['failing']}"
    assert main(["eventlog", "--app", app, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    again = compact(analyze_app(settings, app))
    assert printed.pop("history").startswith("kept") and again.pop("history").startswith("already")
    assert printed == again and printed["source"] == app
    assert main(["diagnose", "--app", app, "--json"]) == 0
    diagnosed = json.loads(capsys.readouterr().out)
    assert diagnosed["source"] == app and diagnosed["findings"][0]["category"] in ("python_udf_error", "job_aborted")
    assert _without_store(diagnosed) == _without_store(compact(diagnose_app(settings, app)))
    assert main(["diagnose", "--app", app]) == 0
    assert "python_udf_error" in capsys.readouterr().out
    assert main(["eventlog", str(history_server.files["failing"]), "--app", app]) == 2
    assert "give exactly one of path" in capsys.readouterr().err
    assert main(["eventlog"]) == 2
    assert "got none" in capsys.readouterr().err


def _without_store(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k not in ("from_store", "notes")}


@pytest.mark.anyio
async def test_the_app_argument_and_a_path_exclude_each_other(history_server: HistoryServer, tmp_path: Path) -> None:
    settings = history_server.settings(tmp_path / "home")
    both = await _call(settings, "analyze_event_log", {"path": str(tmp_path), "app": history_server.ids["fast"]})
    assert both.is_error and "give exactly one of path (a file under the allowed roots), app (a History Server " \
        "application" in both.content[0].text
    three = await _call(settings, "diagnose_log", {"text": "x", "app": history_server.ids["fast"]})
    assert three.is_error and "got text and app" in three.content[0].text
    summary = structured(await _call(settings, "analyze_event_log", {"app": history_server.ids["slow"]}))
    assert summary["source"] == f"shs/{history_server.ids['slow']}" and summary["more"]
    from dgx_spark_mcp.diagnosis.eventlogs.models import EventLogAnalysis

    assert answer_tokens(EventLogAnalysis.model_validate(summary)) <= 2500
