"""list_spark_apps against a real Spark History Server: failed and running first with their state, filters, pages,
server selection, a server that fails named in the answer, a token that reaches its server and is never shown."""

from __future__ import annotations

import json
import logging
import shutil
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from pydantic import SecretStr

from dgx_spark_mcp.cli import main
from dgx_spark_mcp.live.apps import list_apps
from dgx_spark_mcp.live.servers import SparkServer
from dgx_spark_mcp.server import build_server
from dgx_spark_mcp.settings import Settings

from ..conftest import structured
from ..diagnosis.answer_size import answer_tokens
from .shs import HistoryServer, bearer_proxy, free_port

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

TOKEN = "shs-list-7d2f90ab13c4e58e"  # noqa: S105 - a test credential; the point is that it never shows up


async def _call(settings: Settings, tool: str, args: dict[str, Any]) -> Any:
    async with Client(build_server(settings), raise_exceptions=True) as client:
        return await client.call_tool(tool, args)


async def test_failed_and_running_apps_come_first_each_with_a_one_line_state(
        history_server: HistoryServer, tmp_path: Path) -> None:
    answer = structured(await _call(history_server.settings(tmp_path / "home"), "list_spark_apps", {"limit": 200}))
    apps = answer["apps"]
    statuses = [a["status"] for a in apps]
    assert statuses == sorted(statuses, key=["failed", "running", "completed"].index)
    assert answer["total"] == len(history_server.listed()) == sum(answer["counts"].values()) == len(apps)
    by_id = {a["id"]: a for a in apps}
    failing, running, fast = (by_id[history_server.ids[r]] for r in ("failing", "running", "fast"))
    # PySpark records exit code 0 even for a script that died of its failed job: the jobs say it failed.
    assert (failing["status"], failing["state"]) == ("failed", "1 of 3 jobs failed (4 failed tasks)")
    assert running["status"] == "running"
    assert running["state"].startswith("stage 3 running for ") and "(7/8 tasks, 1 straggler)" in running["state"]
    assert (fast["status"], fast["state"], fast["server"], fast["spark_version"]) == (
        "completed", "7 jobs, none failed", "shs", "4.3.0")
    assert fast["name"] == "nightly-sales" and fast["duration_ms"] > 0 and fast["user"]
    yarn = by_id[history_server.ids["attempts"]]
    assert (yarn["attempt"], yarn["attempts"]) == ("2", 2)


async def test_filters_by_status_name_time_and_server(history_server: HistoryServer, tmp_path: Path) -> None:
    settings = history_server.settings(tmp_path / "home")
    failed = structured(await _call(settings, "list_spark_apps", {"status": "failed", "limit": 200}))
    assert {a["status"] for a in failed["apps"]} == {"failed"} and failed["counts"] == {"failed": failed["total"]}
    assert {history_server.ids["failing"], history_server.ids["zstd"]} <= {a["id"] for a in failed["apps"]}
    running = list_apps(settings, status="running", server="shs")
    assert history_server.ids["running"] in {a.id for a in running.apps} and {a.status for a in running.apps} == {
        "running"}
    named = list_apps(settings, name="NIGHTLY")
    assert sorted(a.id for a in named.apps) == sorted([history_server.ids["fast"], history_server.ids["slow"]])
    fast = next(a for a in named.apps if a.id == history_server.ids["fast"])
    assert fast.start is not None
    since = (fast.start - timedelta(minutes=1)).isoformat()
    recent = list_apps(settings, since=since, limit=200)
    assert all(a.status == "running" or (a.start and a.start >= fast.start - timedelta(minutes=1)) for a in recent.apps)
    assert history_server.ids["fast"] in {a.id for a in recent.apps}
    assert history_server.ids["rolling"] not in {a.id for a in recent.apps}  # a 2021 run
    assert list_apps(settings, since="last 100000d", limit=200).total == list_apps(settings, limit=1).total
    with pytest.raises(Exception, match="since 'yesterday-ish' is neither an ISO 8601 time"):
        list_apps(settings, since="yesterday-ish")


async def test_pages_follow_their_cursor_to_the_end_and_a_cursor_keeps_its_arguments(
        history_server: HistoryServer, tmp_path: Path) -> None:
    settings = history_server.settings(tmp_path / "home")
    whole = list_apps(settings, limit=200)
    seen: list[str] = []
    cursor = None
    while True:
        page = structured(await _call(settings, "list_spark_apps", {"limit": 4, **({"cursor": cursor} if cursor else {})}))
        assert len(page["apps"]) <= 4 and page["total"] == whole.total
        seen += [a["id"] for a in page["apps"]]
        cursor = page.get("next_cursor")
        if cursor is None:
            break
    assert seen == [a.id for a in whole.apps]
    first = list_apps(settings, limit=2)
    assert first.next_cursor is not None
    other = await _call(settings, "list_spark_apps", {"status": "failed", "cursor": first.next_cursor})
    assert other.is_error and "cursor belongs to a call with other arguments" in other.content[0].text


async def test_two_server_names_on_one_backend_are_selected_by_name_and_a_token_never_shows(
        history_server: HistoryServer, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with bearer_proxy(history_server.url, TOKEN) as proxy:
        settings = history_server.settings(tmp_path / "home", spark_servers=[
            SparkServer(name="alpha", url=history_server.url), SparkServer(name="beta", url=proxy.url, token=SecretStr(TOKEN))])
        beta = structured(await _call(settings, "list_spark_apps", {"server": "beta", "limit": 200}))
        both = structured(await _call(settings, "list_spark_apps", {"limit": 200}))
        fetched = await _call(settings, "analyze_event_log", {"app": f"beta/{history_server.ids['fast']}"})
        unknown = await _call(settings, "list_spark_apps", {"server": "gamma"})
    assert {a["server"] for a in beta["apps"]} == {"beta"} and beta["total"] == len(history_server.listed())
    assert both["total"] == 2 * beta["total"] and {a["server"] for a in both["apps"]} == {"alpha", "beta"}
    assert structured(fetched)["source"] == f"beta/{history_server.ids['fast']}"
    assert unknown.is_error and "unknown Spark server 'gamma'; known: alpha, beta" in unknown.content[0].text
    assert proxy.authorizations and set(proxy.authorizations) == {f"Bearer {TOKEN}"}
    for shown in (json.dumps(beta), json.dumps(both), fetched.content[0].text, unknown.content[0].text, caplog.text):
        assert TOKEN not in shown


async def test_a_server_that_cannot_be_listed_is_named_in_the_answer_not_dropped(
        history_server: HistoryServer, tmp_path: Path) -> None:
    settings = history_server.settings(tmp_path / "home", spark_servers=[
        SparkServer(name="shs", url=history_server.url), SparkServer(name="down", url=f"http://127.0.0.1:{free_port()}")])
    answer = structured(await _call(settings, "list_spark_apps", {"name": "nightly"}))
    assert answer["total"] == 2
    (problem,) = answer["failed_servers"]
    assert problem["server"] == "down" and "cannot reach Spark server 'down'" in problem["error"]
    nothing = structured(await _call(history_server.settings(tmp_path / "none", spark_servers=[]), "list_spark_apps", {}))
    assert nothing["total"] == 0 and "no Spark server is configured" in nothing["notes"][0]


def test_the_apps_command_prints_the_tools_json_and_a_line_per_app(
        history_server: HistoryServer, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DGX_SPARK_MCP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DGX_SPARK_MCP_SPARK_SERVERS", f"shs={history_server.url}")
    monkeypatch.setenv("DGX_SPARK_MCP_SPARK_UI_PORTS", str(free_port()))
    assert main(["apps", "--name", "nightly", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    settings = history_server.settings(tmp_path / "home")
    from dgx_spark_mcp.tools.answers import compact

    assert printed == compact(list_apps(settings, name="nightly"))
    assert main(["apps", "--status", "failed", "--limit", "2"]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert len(lines) == 4 and all(" failed started " in line and "1 of 3 jobs failed" in line for line in lines[:2])
    assert lines[2].startswith("2 of ") and lines[3].startswith("More: --cursor ")
    assert main(["apps", "--server", "nope"]) == 2
    assert "unknown Spark server 'nope'" in capsys.readouterr().err


async def test_a_default_answer_stays_small_with_a_thousand_applications(
        history_server: HistoryServer, tmp_path: Path) -> None:
    """1,000 more applications (a finished run's log trimmed to its start, one job and its end, under new ids)."""
    keep = ('"SparkListenerLogStart"', '"SparkListenerApplicationStart"', '"SparkListenerJobStart"',
            '"SparkListenerJobEnd"', '"SparkListenerApplicationEnd"')
    source = history_server.files["failing"].read_text().splitlines()
    lines = [next(line for line in source if k in line) for k in keep]
    staging = tmp_path / "many"
    staging.mkdir()
    old = history_server.ids["failing"]
    for i in range(1000):
        app_id = f"local-{1600000000000 + i}"
        (staging / app_id).write_text("\n".join(lines).replace(old, app_id).replace(
            '"App Name":"failing-etl"', f'"App Name":"batch-{i:04d}"') + "\n")
    for path in staging.iterdir():
        shutil.move(path, history_server.log_dir / path.name)
    settings = history_server.settings(tmp_path / "home")
    deadline = time.monotonic() + 120
    while len(history_server.listed()) < 1000 and time.monotonic() < deadline:
        time.sleep(1)
    result = list_apps(settings)
    assert result.total >= 1000 and len(result.apps) == 20 and result.next_cursor is not None
    assert answer_tokens(result) <= 2500
    assert any("not checked for failed jobs" in note for note in result.notes)


def test_the_failed_first_check_stops_at_its_budget_and_a_later_call_goes_on(
        history_server: HistoryServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dgx_spark_mcp.live import app_state, apps

    settings = history_server.settings(tmp_path / "home")
    monkeypatch.setattr(app_state, "_tallies", type(app_state._tallies)())  # nothing checked yet in this process
    monkeypatch.setattr(apps, "CHECK_BUDGET_S", 0.0)
    hurried = list_apps(settings, limit=1)
    assert any("not yet checked for failed jobs" in n and "call again" in n for n in hurried.notes), hurried.notes
    assert hurried.total == len(history_server.listed())  # every application is still listed
    monkeypatch.setattr(apps, "CHECK_BUDGET_S", 10.0)
    for _ in range(6):  # each call checks what its budget allows, and remembers it: a later one finishes the work
        patient = list_apps(settings, limit=1)
        if not any("not yet checked" in n for n in patient.notes):
            break
    assert not any("not yet checked" in n for n in patient.notes), patient.notes
    assert patient.apps[0].status == "failed"
