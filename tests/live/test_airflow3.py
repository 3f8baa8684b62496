"""list_dag_runs and diagnose_dag_run against a real Apache Airflow 3 (REST API v2, JWT), through an in-process MCP
client and the command line: the right root cause per run, every try, the mapped index, upstream_failed reduced
to the failed task, import errors, and credentials that never show."""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from dgx_spark_mcp.errors import BadInputError, CouldNotDoError, UnavailableError
from dgx_spark_mcp.live import airflow_client
from dgx_spark_mcp.live.airflow_diagnosis import diagnose_dag_run
from dgx_spark_mcp.live.airflow_runs import list_dag_runs
from dgx_spark_mcp.server import build_server
from dgx_spark_mcp.settings import Settings

from ..conftest import structured
from .airflow_env import AirflowEnv, free_port

pytestmark = [pytest.mark.slow, pytest.mark.anyio]


@pytest.fixture
def settings3(airflow3: AirflowEnv, tmp_path: Path) -> Settings:
    return airflow3.settings(tmp_path / "home")


@pytest.fixture
async def mcp(settings3: Settings) -> AsyncIterator[Client]:
    async with Client(build_server(settings3)) as client:
        yield client


async def _diagnosis(mcp: Client, **arguments: Any) -> dict[str, Any]:
    return structured(await mcp.call_tool("diagnose_dag_run", arguments))


def _tries(answer: dict[str, Any], task_id: str) -> list[int]:
    return sorted({f["try_number"] for f in answer["findings"] if f["task_id"] == task_id})


async def test_runs_are_listed_failed_first_with_a_total_a_cursor_and_the_import_errors(
        mcp: Client, airflow3: AirflowEnv) -> None:
    pages, cursor = [], None
    while True:
        page = structured(await mcp.call_tool("list_dag_runs", {"limit": 2, **({"cursor": cursor} if cursor else {})}))
        pages.append(page)
        cursor = page.get("next_cursor")
        if not cursor:
            break
    failed = sum(1 for s in airflow3.states.values() if s == "failed")
    runs = [r for p in pages for r in p["runs"]]
    assert [p["total"] for p in pages] == [len(airflow3.runs)] * len(pages)
    assert pages[0]["failed_total"] == failed and pages[0]["truncated"] and not pages[-1]["truncated"]
    assert [r["state"] for r in runs] == ["failed"] * failed + ["success"]
    assert {r["dag_id"]: r["run_id"] for r in runs} == airflow3.runs
    assert pages[0]["airflow"].startswith("Airflow 3.1.8 at http://127.0.0.1:")
    assert [(e["filename"], e["error"]) for e in pages[0]["import_errors"]] == [
        ("broken_dag.py", "ModuleNotFoundError: No module named 'no_such_module_for_tests'")]
    only = structured(await mcp.call_tool("list_dag_runs", {"dag_id": "etl_ok", "state": "success", "since": "last 1h"}))
    assert [r["dag_id"] for r in only["runs"]] == ["etl_ok"] and only["total"] == 1 and "import_errors" not in only


async def test_a_python_exception_is_the_root_cause_and_every_try_is_diagnosed(mcp: Client, airflow3: AirflowEnv) -> None:
    answer = await _diagnosis(mcp, dag_id="etl_exception")
    assert answer["run_id"] == airflow3.runs["etl_exception"] and answer["state"] == "failed"
    assert _tries(answer, "extract") == [1, 2] and answer["tries_total"] == answer["tries_diagnosed"] == 2
    for finding in answer["findings"]:
        assert finding["dag_id"] == "etl_exception" and finding["run_id"] == airflow3.runs["etl_exception"]
        assert finding["category"] == "airflow_task_failed"
        assert finding["error"] == "ValueError: partition 2026-12-01 has 0 rows; refusing to publish an empty day"
    assert "extract try 1: ValueError" in answer["summary"] and answer["task_states"] == {"failed": 1}


async def test_an_execution_timeout_is_named_as_one(mcp: Client) -> None:
    answer = await _diagnosis(mcp, dag_id="etl_timeout")
    (finding,) = answer["findings"]
    assert (finding["task_id"], finding["category"], finding["rule_id"]) == ("load", "airflow_task_timeout",
                                                                            "AIRFLOW_TASK_TIMEOUT")
    assert finding["error"].startswith("AirflowTaskTimeout: Timeout")
    assert "AirflowTaskTimeout" in finding["root_cause"] and "exc_type" not in finding["root_cause"]


async def test_a_failing_spark_submit_is_diagnosed_from_its_nested_log_and_names_its_application(
        mcp: Client, airflow3: AirflowEnv) -> None:
    if airflow3.spark_events is None:
        pytest.skip("no Java here: the spark-submit DAG was not run")
    answer = await _diagnosis(mcp, dag_id="etl_spark", detail="full")
    top = answer["findings"][0]
    assert top["task_id"] == "spark_job" and top["spark_lines"] > 0
    assert top["category"] == "python_udf_error", top
    assert any("ValueError" in line and "n/a" in line for f in answer["findings"] for line in f["evidence"])
    (app,) = answer["spark_applications"]
    assert re.fullmatch(r"local-\d{13}", app["app_id"]) and app["task_id"] == "spark_job"
    assert (airflow3.spark_events / f"eventlog_v2_{app['app_id']}").is_dir()
    assert "no History Server is configured" in app["note"]


async def test_upstream_failed_tasks_are_reduced_to_the_task_that_failed(mcp: Client) -> None:
    answer = await _diagnosis(mcp, dag_id="etl_chain")
    assert answer["upstream_failed"] == [{"failed_task": "extract", "blocked_total": 3,
                                          "blocked": ["audit", "publish", "transform"]}]
    assert {f["task_id"] for f in answer["findings"]} == {"extract"}
    assert answer["findings"][0]["error"] == "KeyError: 'apac'"
    assert answer["task_states"] == {"upstream_failed": 3, "failed": 1, "success": 1}
    assert "3 task(s) upstream_failed because extract failed" in answer["summary"]


async def test_a_mapped_task_is_named_by_the_index_that_failed(mcp: Client) -> None:
    answer = await _diagnosis(mcp, dag_id="etl_mapped", detail="full")
    (finding,) = [f for f in answer["findings"] if f.get("error")]
    assert (finding["task_id"], finding["map_index"], finding["try_number"]) == ("load_partition", 2, 1)
    assert finding["error"] == "RuntimeError: partition 2 is corrupt: checksum mismatch"
    assert answer["task_states"] == {"success": 3, "failed": 1}
    rows = [(t["task_id"], t.get("map_index"), t["state"]) for t in answer["task_instances"]]
    assert rows[0] == ("load_partition", 2, "failed") and len(rows) == 4
    assert "load_partition[2] try 1: RuntimeError" in answer["summary"]


async def test_without_arguments_the_latest_failed_run_of_any_dag_is_diagnosed(mcp: Client, airflow3: AirflowEnv) -> None:
    answer = await _diagnosis(mcp)
    assert answer["state"] == "failed" and airflow3.runs[answer["dag_id"]] == answer["run_id"]


def test_unknown_dags_and_runs_name_the_closest_ones_and_the_import_errors(settings3: Settings) -> None:
    with pytest.raises(BadInputError, match=r"has no DAG 'etl_mapd'; closest: etl_mapped.*broken_dag\.py "
                                            r"\(ModuleNotFoundError"):
        diagnose_dag_run(settings3, "etl_mapd")
    with pytest.raises(BadInputError, match=r"DAG 'etl_mapped' has no run 'manual__2020'; closest: manual__"):
        diagnose_dag_run(settings3, "etl_mapped", "manual__2020")
    with pytest.raises(BadInputError, match=r"DAG 'etl_ok' has no failed run \(latest: manual__.* \(success\)\)"):
        diagnose_dag_run(settings3, "etl_ok")
    with pytest.raises(BadInputError, match="needs its dag_id"):
        diagnose_dag_run(settings3, None, "manual__2020")


def test_a_wrong_password_is_a_clear_error_that_never_shows_a_password(
        airflow3: AirflowEnv, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "not-the-password-7f3a"  # noqa: S105
    settings = airflow3.settings(tmp_path / "home", airflow=airflow3.server(password=wrong))
    with pytest.raises(CouldNotDoError, match=r"could not log in to Airflow with the configured "
                                              r"DGX_SPARK_MCP_AIRFLOW_USERNAME and _PASSWORD: .*\(HTTP 401\)") as exc:
        list_dag_runs(settings)
    assert not isinstance(exc.value, UnavailableError)
    for secret in (wrong, airflow3.password):
        assert secret not in str(exc.value) and secret not in caplog.text


def test_an_unreachable_airflow_is_a_retryable_error(airflow3: AirflowEnv, tmp_path: Path) -> None:
    settings = airflow3.settings(tmp_path / "home", airflow=airflow3.server(url=f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(UnavailableError, match=r"cannot reach Airflow 'airflow' .* check that it runs"):
        diagnose_dag_run(settings, "etl_mapped")


def test_an_expired_token_is_renewed_once_on_a_401_and_a_refused_one_is_dropped(
        airflow3: AirflowEnv, settings3: Settings) -> None:
    assert settings3.airflow is not None
    list_dag_runs(settings3, limit=1)
    token = airflow_client._token_for(settings3.airflow)
    valid = token._token
    assert valid is not None
    token._token = airflow3.expired(valid)  # the server answers 401 "Token Expired"; the token still looks fresh here
    assert list_dag_runs(settings3, limit=1).total >= 1
    assert token._token not in (None, airflow3.expired(valid))
    token._token = valid[:-8] + "AAAAAAAA"  # signed with another key: 403 "Invalid JWT token", not retried
    with pytest.raises(CouldNotDoError, match=r"HTTP 403"):
        list_dag_runs(settings3, limit=1)
    assert list_dag_runs(settings3, limit=1).total >= 1  # the refused token was dropped: logged in again


async def test_answers_errors_and_logs_never_hold_a_credential(
        mcp: Client, airflow3: AirflowEnv, settings3: Settings, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    texts = []
    for name, arguments in [("list_dag_runs", {}), ("diagnose_dag_run", {"dag_id": "etl_chain", "detail": "full"}),
                            ("diagnose_dag_run", {"dag_id": "nope"})]:
        result = await mcp.call_tool(name, arguments)
        texts += [block.text for block in result.content if hasattr(block, "text")]
    assert settings3.airflow is not None
    jwt = airflow_client._token_for(settings3.airflow)._token
    assert jwt and all(airflow3.password not in t and jwt not in t for t in texts)
    assert airflow3.password not in caplog.text and jwt not in caplog.text


def test_the_command_line_prints_exactly_the_tools_output(airflow3: AirflowEnv, settings3: Settings,
                                                           tmp_path: Path) -> None:
    from dgx_spark_mcp.tools.answers import compact

    env = airflow3.cli_env(tmp_path / "home")
    out = subprocess.run([sys.executable, "-m", "dgx_spark_mcp", "diagnose-run", "etl_mapped", "--json"], env=env,
                         capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(out.stdout) == compact(diagnose_dag_run(settings3, "etl_mapped"))
    text = subprocess.run([sys.executable, "-m", "dgx_spark_mcp", "dag-runs", "--state", "failed"], env=env,
                          capture_output=True, text=True, timeout=120, check=True).stdout
    assert "failed   etl_mapped" in text and airflow3.password not in text


def test_a_folder_of_task_logs_is_diagnosed_without_the_server(airflow3: AirflowEnv, settings3: Settings) -> None:
    logs = airflow3.home / "logs"
    answer = diagnose_dag_run(settings3, "etl_mapped", path=str(logs))
    (finding,) = answer.findings
    assert (finding.task_id, finding.map_index, finding.try_number, finding.run_id) == (
        "load_partition", 2, 1, airflow3.runs["etl_mapped"])
    assert finding.error == "RuntimeError: partition 2 is corrupt: checksum mismatch"
    assert finding.log is not None and finding.log.endswith("map_index=2/attempt=1.log")
    every = diagnose_dag_run(settings3, path=str(logs), limit=20)
    assert {(f.dag_id, f.task_id, f.try_number) for f in every.findings} >= {
        ("etl_exception", "extract", 1), ("etl_exception", "extract", 2), ("etl_timeout", "load", 1),
        ("etl_chain", "extract", 1), ("etl_mapped", "load_partition", 1)}
    assert all(f.dag_id != "etl_ok" for f in every.findings)


def test_a_spark_application_named_in_a_task_log_is_looked_up_on_the_history_server(
        airflow3: AirflowEnv, history_server: Any, tmp_path: Path) -> None:
    """The spark-submit task's event log, served by a real History Server, is fetched and diagnosed too."""
    if airflow3.spark_events is None:
        pytest.skip("no Java here: the spark-submit DAG was not run")
    from dgx_spark_mcp.live.servers import SparkServer

    (written,) = airflow3.spark_events.glob("eventlog_v2_local-*")
    app_id = written.name.removeprefix("eventlog_v2_")
    staging = history_server.log_dir / f".{written.name}"  # the History Server skips hidden entries: no half-copied log
    shutil.copytree(written, staging)
    staging.rename(history_server.log_dir / written.name)
    try:
        deadline = time.monotonic() + 60
        while app_id not in {a["id"] for a in history_server.listed()}:
            assert time.monotonic() < deadline, f"the History Server did not list {app_id}"
            time.sleep(0.5)
        settings = airflow3.settings(tmp_path / "home", spark_servers=[SparkServer(name="shs", url=history_server.url)],
                                     spark_ui_ports=[free_port()])
        answer = diagnose_dag_run(settings, "etl_spark")
        (app,) = answer.spark_applications
        assert (app.app_id, app.event_log, app.note) == (app_id, f"shs/{app_id}", None)
        assert any(line.startswith("PYTHON_UDF") for line in app.findings), app.findings
    finally:  # the History Server is the session's: the listing tests that follow must not see this failed app
        shutil.rmtree(history_server.log_dir / written.name)
        gone = time.monotonic() + 60
        while app_id in {a["id"] for a in history_server.listed()} and time.monotonic() < gone:
            time.sleep(0.5)  # its next scan drops an application whose log is gone
