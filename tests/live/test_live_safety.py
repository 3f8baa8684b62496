"""The live tools as an agent meets them: a stdio subprocess configured only through its environment (a History
Server behind a bearer token, an Airflow with a password), whose answers, errors and logs never hold a
credential; and references written as URLs or unknown hosts, which reach no server at all."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from dgx_spark_mcp.server import build_server
from dgx_spark_mcp.settings import Settings

from ..conftest import server_command
from .airflow_env import AirflowEnv
from .loopback import serve
from .shs import HistoryServer, bearer_proxy, free_port

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

TOKEN = "stdio-shs-0b7e44c1d95a2f63"  # noqa: S105 - a test credential; the point is that it never shows up


def _rpc(id_: int, method: str, params: dict[str, Any] | None = None) -> str:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": id_, "method": method}
    if params is not None:
        message["params"] = params
    return json.dumps(message) + "\n"


def _stdio(calls: list[tuple[str, dict[str, Any]]], env: dict[str, str], cwd: Path) -> tuple[list[dict[str, Any]], str]:
    """Run the server on stdio, make ``calls`` and close stdin: (the results in order, everything on stderr)."""
    requests = [_rpc(0, "initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                       "clientInfo": {"name": "t", "version": "0"}}),
                json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}) + "\n"]
    requests += [_rpc(i + 1, "tools/call", {"name": name, "arguments": args}) for i, (name, args) in enumerate(calls)]
    proc = subprocess.Popen(server_command(), cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    proc.stdin.write("".join(requests).encode())
    proc.stdin.flush()
    replies: dict[int, Any] = {}
    try:  # the replies are read before stdin closes: the server ends at EOF, with what is still in flight
        while len(replies) <= len(calls):
            line = proc.stdout.readline()
            assert line, f"the server closed stdout early: {proc.stderr.read().decode()[-3000:]}"
            message = json.loads(line)
            if "id" in message:
                replies[message["id"]] = message
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
    stderr = proc.stderr.read().decode()
    proc.stdout.close()
    proc.stderr.close()
    return [replies[i + 1]["result"] for i in range(len(calls))], stderr


def test_over_stdio_the_history_server_is_reached_with_its_token_which_never_shows(
        history_server: HistoryServer, tmp_path: Path, server_env: dict[str, str]) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    failing, running = history_server.ids["failing"], history_server.ids["running"]
    with bearer_proxy(history_server.url, TOKEN) as proxy:
        env = {**server_env, "DGX_SPARK_MCP_SPARK_SERVERS": f"secure={proxy.url}",
               "DGX_SPARK_MCP_SPARK_SERVERS_SECURE_TOKEN": TOKEN, "DGX_SPARK_MCP_LOG_LEVEL": "DEBUG",
               "DGX_SPARK_MCP_SPARK_UI_PORTS": str(free_port())}
        results, stderr = _stdio([
            ("list_spark_apps", {"status": "failed"}),
            ("analyze_event_log", {"app": f"secure/{failing}"}),
            ("diagnose_log", {"app": failing}),
            ("compare_spark_apps", {"a": history_server.ids["fast"], "b": f"secure/{history_server.ids['slow']}"}),
            ("spark_app_status", {"app": f"secure/{running}"}),
            ("analyze_event_log", {"app": "secure/local-1000000000000"}),
        ], env, cwd)
    listed, analysed, diagnosed, compared, status, unknown = results
    assert failing in {a["id"] for a in listed["structuredContent"]["apps"]}
    assert analysed["structuredContent"]["app"]["app_id"] == failing and failing in analysed["structuredContent"]["source"]
    assert diagnosed["structuredContent"]["findings"]
    assert not compared["isError"] and not status["isError"], (compared, status)
    assert unknown["isError"] and "local-1000000000000" in unknown["content"][0]["text"]
    assert set(proxy.authorizations) == {f"Bearer {TOKEN}"}
    assert TOKEN not in json.dumps(results) and TOKEN not in stderr
    assert "DEBUG" in stderr  # the server did log, to stderr, without the token
    assert list(cwd.iterdir()) == []


def test_over_stdio_airflow_is_reached_with_its_password_which_never_shows(
        airflow3: AirflowEnv, tmp_path: Path, server_env: dict[str, str]) -> None:
    env = {**server_env, "DGX_SPARK_MCP_AIRFLOW_URL": airflow3.url, "DGX_SPARK_MCP_AIRFLOW_USERNAME": airflow3.username,
           "DGX_SPARK_MCP_AIRFLOW_PASSWORD": airflow3.password, "DGX_SPARK_MCP_LOG_LEVEL": "DEBUG"}
    results, stderr = _stdio([("list_dag_runs", {"state": "failed"}),
                              ("diagnose_dag_run", {"dag_id": "etl_exception"})], env, tmp_path)
    runs, diagnosis = results
    assert "etl_exception" in {r["dag_id"] for r in runs["structuredContent"]["runs"]}
    assert "ValueError" in json.dumps(diagnosis["structuredContent"])
    assert airflow3.password not in json.dumps(results) and airflow3.password not in stderr


def _as_urls(url: str) -> list[str]:
    """A reference an agent could write to point the server at ``url``: none of them may be fetched."""
    host = url.removeprefix("http://")
    return [url, f"{url}/api/v1/applications/app-1", f"{host}/app-1", f"{host}/app-1/1", f"//{host}/app-1",
            "127.0.0.1/app-1", "localhost/app-1", f"{url}/app-1"]


async def test_a_url_or_a_host_in_a_reference_reaches_no_server(tmp_path: Path) -> None:
    with serve({}) as trap, serve({}) as configured:
        settings = Settings(home=tmp_path / "home", allowed_roots=[tmp_path], log_level="WARNING",
                            spark_servers=[{"name": "shs", "url": configured.url}], spark_ui_ports=[free_port()])
        calls: list[tuple[str, dict[str, Any]]] = []
        for ref in _as_urls(trap.url):
            calls += [("analyze_event_log", {"app": ref}), ("diagnose_log", {"app": ref}),
                      ("spark_app_status", {"app": ref}), ("compare_spark_apps", {"a": ref, "b": "shs/app-2"}),
                      ("list_spark_apps", {"server": ref})]
        async with Client(build_server(settings)) as client:
            for name, args in calls:
                result = await client.call_tool(name, args)
                assert result.is_error, (name, args, result.structured_content)
    assert trap.seen == [], [s.path for s in trap.seen]
