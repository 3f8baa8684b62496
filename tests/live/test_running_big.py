"""spark_app_status on an application far larger than this machine runs: the driver UI's recorded answers
(tests/fixtures/live_running, from the real application of test_running.py) multiplied to 500 active stages of
20,000 tasks, 2,000 executors, 1,000 failed stages and 1,200 SQL executions, served by a real HTTP server on
loopback.  The answer stays within the token budget with its totals, the requests stay bounded, and the
application is found and chosen the way a driver UI or a History Server is."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from dgx_spark_mcp.errors import BadInputError
from dgx_spark_mcp.live.running import Limits, status
from dgx_spark_mcp.live.servers import SparkServer
from dgx_spark_mcp.settings import Settings
from dgx_spark_mcp.tools.answers import compact, compact_json

from .loopback import Loopback, Route, Seen, json_route, serve
from .test_running import tokens

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "live_running"
APP = "app-20261207150000-0042"
STAGES, TASKS, EXECUTORS, FAILED_STAGES, EXECUTIONS = 500, 20_000, 2_000, 1_000, 1_200
RUNNING_SQL = range(5, EXECUTIONS, 60)
REASONS = [
    "java.lang.OutOfMemoryError: Java heap space",
    "FetchFailed(BlockManagerId(7, worker-7, 7337, None), shuffleId=3, mapIndex=12, mapId=99, reduceId=4, message=\n"
    "org.apache.spark.shuffle.FetchFailedException: Failed to connect to worker-7/10.0.0.7:7337",
    "ExecutorLostFailure (executor 12 exited caused by one of the running tasks) Reason: Container killed by YARN for "
    "exceeding memory limits. 12.5 GB of 12 GB physical memory used.",
]


def _recorded(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def _query(seen: Seen) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(seen.path).query).items()}


def _big_app(base: str, attempts: list[dict[str, Any]] | None = None) -> dict[str, Route]:
    """The routes of one big application under ``base`` (/api/v1/applications/APP[/attempt])."""
    app = _recorded("application.json") | {"id": APP, "name": "nightly-etl"}
    if attempts is not None:
        app["attempts"] = attempts
    stage0, job0 = _recorded("stages_active.json")[0], _recorded("jobs_running.json")[0]
    failed0, running0 = _recorded("tasks_failed.json")[0], _recorded("tasks_running.json")[0]
    executor0, execution0, plan0 = _recorded("allexecutors.json")[0], _recorded("sql.json")[0], _recorded("sql_0.json")

    stages = [stage0 | {"stageId": 1000 + i, "numTasks": TASKS, "numCompleteTasks": 15_000, "numActiveTasks": 100,
                        "numFailedTasks": 40, "diskBytesSpilled": 5 << 30, "memoryBytesSpilled": 9 << 30,
                        "name": f"save at /opt/airflow/dags/repo/jobs/nightly_etl/transformations/step_{i}_enrich_orders"
                                f"_with_customers_and_inventory.py:{100 + i}"} for i in range(STAGES)]
    failed_stages = [stage0 | {"stageId": i, "status": "FAILED", "failureReason": REASONS[i % 3] + "\n\tat x.y(Z:1)" * 40}
                     for i in range(FAILED_STAGES)]
    summary = copy.deepcopy(_recorded("task_summary.json"))
    summary["duration"] = [1000.0, 2000.0, 3000.0, 5000.0, 9000.0, 600000.0]
    summary["shuffleReadMetrics"]["readBytes"] = [1e6, 5e7, 1e8, 1.2e8, 2e8, 4e9]
    running = [running0 | {"taskId": 10_000 + i, "index": i, "partitionId": i, "duration": 3_000 + i * 5_000,
                           "executorId": str(i % 40), "host": f"ip-10-20-{i % 40}-17.eu-west-1.compute.internal"}
               for i in range(200)]
    failed = [failed0 | {"taskId": 50_000 + i, "executorId": str(i), "errorMessage": REASONS[i % 3] + f" (task {i})"
                         + "\n\tat org.apache.spark.Thing.method(Thing.scala:1)" * 60} for i in range(20)]
    executors = [executor0 | {"id": str(i), "hostPort": f"ip-10-20-{i % 200}-17.eu-west-1.compute.internal:40000",
                              "totalCores": 8, "activeTasks": 8,
                              "failedTasks": i % 7, "totalDuration": 3_600_000, "totalGCTime": 36_000 * (i % 40),
                              "memoryUsed": 400 << 20 if i % 9 == 0 else 1 << 20, "maxMemory": 420 << 20,
                              "isActive": i < 1_900, "removeReason": None if i < 1_900 else REASONS[2]}
                 for i in range(EXECUTORS)]
    sql_text = "SELECT o.order_id, c.customer_name, SUM(l.amount) FROM orders o JOIN customers c ON o.customer_id = " \
               "c.id JOIN lines l ON l.order_id = o.order_id WHERE o.day = '2026-12-07' GROUP BY 1, 2"
    executions = [execution0 | {"id": i, "status": "RUNNING" if i in RUNNING_SQL else "COMPLETED",
                                "description": f"{sql_text} -- step {i}"} for i in range(EXECUTIONS)]
    jobs = [job0 | {"jobId": 700 + j, "stageIds": [1000 + s for s in range(j * 10, j * 10 + 10)], "numTasks": TASKS * 10,
                    "description": f"{sql_text} -- job {j}"} for j in range(50)]

    def stage_list(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        wanted = stages if _query(seen).get("status") == "active" else failed_stages
        return 200, {"Content-Type": "application/json"}, json.dumps(wanted).encode()

    def sql_page(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        q = _query(seen)
        offset, length = int(q.get("offset", 0)), int(q.get("length", 20))
        return 200, {"Content-Type": "application/json"}, json.dumps(executions[offset: offset + length]).encode()

    def tasks(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        chosen = running if _query(seen).get("status") == "running" else failed
        return 200, {"Content-Type": "application/json"}, json.dumps(chosen).encode()

    routes: dict[str, Route] = {
        "/api/v1/applications": json_route([app]),
        f"/api/v1/applications/{APP}": json_route(app),
        f"{base}/jobs": json_route(jobs),
        f"{base}/stages": stage_list,
        f"{base}/allexecutors": json_route(executors),
        f"{base}/sql": sql_page,
    }
    for s in [*stages, *failed_stages[-20:]]:
        routes[f"{base}/stages/{s['stageId']}/0/taskSummary"] = json_route(summary)
        routes[f"{base}/stages/{s['stageId']}/0/taskList"] = tasks
    for i in RUNNING_SQL:
        routes[f"{base}/sql/{i}"] = json_route(plan0 | {"id": i, "description": f"{sql_text} -- step {i}"})
    return routes


def _settings(tmp_path: Path, **extra: Any) -> Settings:
    return Settings(home=tmp_path / "home", allowed_roots=[str(tmp_path)], log_level="WARNING", **extra)


def _app_requests(lb: Loopback) -> list[str]:
    return [s.path for s in lb.seen if s.path.startswith(f"/api/v1/applications/{APP}")]


def test_a_huge_application_answers_within_the_token_budget_with_its_totals(tmp_path: Path) -> None:
    base = f"/api/v1/applications/{APP}"
    with serve(_big_app(base)) as lb:
        settings = _settings(tmp_path, spark_ui_ports=[lb.port])
        answer = status(settings)
        summary_requests = len(_app_requests(lb))
        full = status(settings, f"local-{lb.port}/{APP}", detail="full")
    assert answer.app is not None and answer.app.ref == f"local-{lb.port}/{APP}"
    size = tokens(compact_json(compact(answer)))
    assert size <= 2_500, size
    assert tokens(compact_json(compact(full))) <= 12_000

    assert (answer.stages_total, answer.jobs_total, answer.sql_total) == (STAGES, 50, len(RUNNING_SQL))
    assert len(answer.stages) == Limits.LISTED_STAGES[0] and len(full.stages) == Limits.LISTED_STAGES[1]
    assert answer.executors is not None and answer.executors.active + answer.executors.dead == EXECUTORS
    assert answer.executors.dead == 100 and len(answer.executors.listed) == 3
    assert answer.findings_total > len(answer.findings) == Limits.FINDINGS[0]
    categories = {f.category for f in full.findings}
    assert {"straggler", "data_skew", "spill", "gc_pressure", "memory_pressure", "executor_lost", "executor_oom",
            "python_udf"} <= categories, categories
    assert answer.findings[0].severity == "critical"
    assert answer.more and "detail='full'" in answer.more and "stages (3 of 500)" in answer.more
    assert all(len(s.stragglers) == 1 for s in answer.stages) and answer.stages[0].stragglers_total > 3
    assert len(answer.failures) == 3 and all(len(g.reason) <= 160 for g in answer.failures)

    # Bounded reads: 3 pages of /sql, task details of the 5 oldest stages only, 3 plans.
    assert summary_requests <= 30, summary_requests
    sql_pages = [p for p in _app_requests(lb) if re.match(rf"/api/v1/applications/{APP}/sql\?", p)]
    assert len(sql_pages) == 6  # 3 per call: 500 + 500 + 200 executions


def test_two_driver_uis_on_loopback_make_the_default_an_error_listing_both(tmp_path: Path) -> None:
    base = f"/api/v1/applications/{APP}"
    with serve(_big_app(base)) as one, serve(_big_app(base)) as two:
        settings = _settings(tmp_path, spark_ui_ports=[one.port, two.port])
        with pytest.raises(BadInputError, match=r"2 Spark applications are running on this machine") as exc:
            status(settings)
        assert f"local-{one.port}/{APP}" in str(exc.value) and f"local-{two.port}/{APP}" in str(exc.value)
        assert status(settings, f"local-{two.port}/{APP}").app.server == f"local-{two.port}"  # type: ignore[union-attr]


def test_an_incomplete_attempt_on_a_history_server_is_read_under_its_attempt_path(tmp_path: Path) -> None:
    recorded = _recorded("application.json")["attempts"][0]
    attempts = [recorded | {"attemptId": "2", "completed": False}, recorded | {"attemptId": "1", "completed": True}]
    with serve(_big_app(f"/api/v1/applications/{APP}/2", attempts)) as lb:
        settings = _settings(tmp_path, spark_servers=[SparkServer(name="prod", url=lb.url)], spark_ui_ports=[_closed_port()])
        answer = status(settings, APP)
        assert answer.app is not None and answer.app.ref == f"prod/{APP}/2" and answer.app.as_of
        assert answer.stages_total == STAGES and not answer.missing
        with pytest.raises(BadInputError, match=r"has finished"):
            status(settings, f"prod/{APP}/1")
        with pytest.raises(BadInputError, match=r"no attempt '7'; its attempts: 2, 1"):
            status(settings, f"prod/{APP}/7")
        nothing = status(settings)
    assert nothing.app is None and nothing.running_apps == [f"prod/{APP}/2"]


def _closed_port() -> int:
    from .test_running import _free_port

    return _free_port()
