"""The Airflow client and the log-folder mode without a running Airflow: a server that is not Airflow, a log paged
by continuation tokens (answers shaped as Apache Airflow 3.1.8 gave them here, served from loopback), the old log
layout, and links that must not be followed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dgx_spark_mcp.errors import BadInputError, CouldNotDoError
from dgx_spark_mcp.live.airflow_client import open_airflow
from dgx_spark_mcp.live.airflow_diagnosis import diagnose_dag_run
from dgx_spark_mcp.live.servers import AirflowServer
from dgx_spark_mcp.settings import Settings

from .loopback import Seen, json_route, serve

RECORD = {"timestamp": "2026-12-07T14:50:46.484816Z", "event": "Task failed with exception", "level": "error",
          "logger": "task", "filename": "task_runner.py", "lineno": 1186,
          "error_detail": [{"exc_type": "ValueError", "exc_value": "bad row count 0 in table sales", "exc_notes": [],
                            "syntax_error": None, "is_cause": False,
                            "frames": [{"filename": "/opt/airflow/dags/etl.py", "lineno": 7, "name": "boom"}]}]}
"""A record of a failed try's log as GET .../logs/{try} of Apache Airflow 3.1.8 returned it (recorded here)."""


def _settings(tmp_path: Path, url: str | None = None) -> Settings:
    airflow = AirflowServer(url=url, token="tok-offline") if url else None  # noqa: S106 - a test token
    return Settings(home=tmp_path / "home", allowed_roots=[str(tmp_path)], log_level="WARNING", airflow=airflow)


def test_a_server_that_is_no_airflow_is_named_with_each_probes_result(tmp_path: Path) -> None:
    with serve({"/api/v1/version": lambda _: (500, {}, b"boom")}) as lb:
        with pytest.raises(CouldNotDoError, match=r"does not answer as an Airflow API server \(/api/v2/version: HTTP "
                                                  r"404; /api/v1/version: HTTP 500\)"):
            with open_airflow(_settings(tmp_path, lb.url)):
                pass


def test_no_airflow_configured_says_which_settings_to_give(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="DGX_SPARK_MCP_AIRFLOW_URL.*or give path"):
        diagnose_dag_run(_settings(tmp_path), "etl")


def test_a_task_log_is_read_page_after_page_of_continuation_tokens(tmp_path: Path) -> None:
    first = {**RECORD, "event": "Filling up the DagBag", "level": "info"}
    del first["error_detail"]

    def logs(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        page = {"content": [first], "continuation_token": "page-2"} if "token=page-2" not in seen.path else \
            {"content": [RECORD], "continuation_token": None}
        return 200, {"Content-Type": "application/json"}, json.dumps(page).encode()

    path = "/api/v2/dags/etl/dagRuns/manual__1/taskInstances/extract/logs/1"
    with serve({"/api/v2/version": json_route({"version": "3.1.8"}), path: logs}) as lb:
        with open_airflow(_settings(tmp_path, lb.url)) as af:
            fetched = af.task_log("etl", "manual__1", "extract", 1, None, 1 << 20)
    assert fetched.pages == 2 and not fetched.cut
    assert [json.loads(line)["event"] for line in fetched.text.splitlines()] == ["Filling up the DagBag",
                                                                               "Task failed with exception"]
    assert [s.headers["authorization"] for s in lb.seen] == ["Bearer tok-offline"] * 3


def test_the_old_log_layout_is_read_too(tmp_path: Path) -> None:
    """Airflow 1.10-2.2 wrote ``DAG/TASK/EXECUTION_DATE/TRY.log`` (this log is hand-written in that format)."""
    folder = tmp_path / "logs" / "sales" / "extract" / "2024-07-08T04:00:00+00:00"
    folder.mkdir(parents=True)
    (folder / "1.log").write_text(
        "[2024-07-08 04:03:20,123] {taskinstance.py:1068} INFO - Starting attempt 1 of 1\n"
        "[2024-07-08 04:03:25,456] {taskinstance.py:1482} ERROR - Task failed with exception\n"
        "Traceback (most recent call last):\n"
        '  File "/opt/airflow/dags/sales.py", line 7, in boom\n'
        "    raise ValueError('bad row count 0 in table sales')\n"
        "ValueError: bad row count 0 in table sales\n"
        "[2024-07-08 04:03:25,500] {taskinstance.py:1532} INFO - Marking task as FAILED. dag_id=sales, task_id=extract\n")
    (folder / "2.log").write_text("[2024-07-08 04:05:20,123] {taskinstance.py:1068} INFO - Marking task as SUCCESS.\n")
    answer = diagnose_dag_run(_settings(tmp_path), path=str(tmp_path / "logs"))
    (finding,) = answer.findings
    assert (finding.dag_id, finding.task_id, finding.run_id, finding.try_number) == (
        "sales", "extract", "2024-07-08T04:00:00+00:00", 1)
    assert finding.error == "ValueError: bad row count 0 in table sales"
    assert finding.category == "airflow_task_failed" and answer.tries_total == 1


def test_a_link_in_the_log_folder_is_never_followed_out_of_the_allowed_roots(
        tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    outside = tmp_path_factory.mktemp("outside") / "secret.log"
    outside.write_text('{"event": "Task failed with exception", "level": "error", "secret": "s3cr3t"}\n')
    logs = tmp_path / "logs" / "dag_id=stolen" / "run_id=r1" / "task_id=t"
    logs.mkdir(parents=True)
    (logs / "attempt=1.log").symlink_to(outside)
    (tmp_path / "logs" / "dag_id=linked").symlink_to(outside.parent, target_is_directory=True)
    settings = _settings(tmp_path)
    with pytest.raises(BadInputError, match=r"no Airflow task log under .* \(2 symbolic link\(s\) not followed\)"):
        diagnose_dag_run(settings, path=str(tmp_path / "logs"))
    with pytest.raises(BadInputError, match="outside the allowed roots"):
        diagnose_dag_run(settings, path=str(tmp_path / "logs" / "dag_id=linked"))
