"""Spark's monitoring REST API v1, as a History Server and a running driver's UI serve it.

Thin on purpose: each function is one endpoint (Spark's "Monitoring and Instrumentation" page), returns
the JSON as Spark wrote it, and raises the transport's errors.  What to make of the answers lives in the
modules that use them.  ``app`` is an application id; ``attempt`` the attempt id YARN-style
applications have (``None`` for the others).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from .apis import live_apis
from .transport import Connection

__all__ = [
    "application", "applications", "base", "environment", "executors", "jobs", "logs", "sql", "stage",
    "sql_execution", "stage_task_summary", "stage_tasks", "stages", "version",
]

API = live_apis().spark.base  # data/live-apis.json, with the release it was checked against
QUANTILES = "0.05,0.25,0.5,0.75,0.95"


def base(app: str, attempt: str | None = None) -> str:
    path = f"{API}/applications/{quote(app, safe='')}"
    return f"{path}/{quote(attempt, safe='')}" if attempt else path


def version(conn: Connection) -> str | None:
    answer = conn.get_json(f"{API}/version")
    return answer.get("spark") if isinstance(answer, dict) else None


def applications(conn: Connection, *, status: str | None = None, min_date: str | None = None,
                 min_end_date: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """``status``: completed or running; dates as Spark takes them (2024-01-31 or 2024-01-31T12:00:00.000GMT)."""
    params = {k: v for k, v in {"status": status, "minDate": min_date, "minEndDate": min_end_date,
                                "limit": limit}.items() if v is not None}
    answer = conn.get_json(f"{API}/applications", params=params)
    return answer if isinstance(answer, list) else []


def application(conn: Connection, app: str) -> dict[str, Any]:
    return conn.get_json(base(app))  # type: ignore[no-any-return]


def jobs(conn: Connection, app: str, attempt: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
    return conn.get_json(f"{base(app, attempt)}/jobs", params={"status": status} if status else None)  # type: ignore[no-any-return]


def stages(conn: Connection, app: str, attempt: str | None = None, *, status: str | None = None,
           details: bool = False) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"details": str(details).lower()}
    if status:
        params["status"] = status
    return conn.get_json(f"{base(app, attempt)}/stages", params=params)  # type: ignore[no-any-return]


def stage(conn: Connection, app: str, stage_id: int, stage_attempt: int, attempt: str | None = None) -> dict[str, Any]:
    return conn.get_json(f"{base(app, attempt)}/stages/{stage_id}/{stage_attempt}")  # type: ignore[no-any-return]


def stage_task_summary(conn: Connection, app: str, stage_id: int, stage_attempt: int,
                       attempt: str | None = None, *, quantiles: str = QUANTILES) -> dict[str, Any]:
    """Task-metric quantiles (5%, 25%, 50%, 75%, 95% unless ``quantiles`` says others; 1.0 is the maximum) of a
    stage's finished tasks."""
    return conn.get_json(f"{base(app, attempt)}/stages/{stage_id}/{stage_attempt}/taskSummary",  # type: ignore[no-any-return]
                         params={"quantiles": quantiles})


def stage_tasks(conn: Connection, app: str, stage_id: int, stage_attempt: int, attempt: str | None = None, *,
                offset: int = 0, length: int = 100, sort_by: str = "-runtime",
                status: str | None = None) -> list[dict[str, Any]]:
    """``status``: running, success, failed, killed or pending (Spark 3.2+; older servers ignore it, so callers
    filter too).  Running tasks have no run time yet: sort them by ``ID`` (earliest launched first)."""
    params: dict[str, Any] = {"offset": offset, "length": length, "sortBy": sort_by}
    if status:
        params["status"] = status
    return conn.get_json(f"{base(app, attempt)}/stages/{stage_id}/{stage_attempt}/taskList",  # type: ignore[no-any-return]
                         params=params)


def executors(conn: Connection, app: str, attempt: str | None = None, *, all_: bool = True) -> list[dict[str, Any]]:
    return conn.get_json(f"{base(app, attempt)}/{'allexecutors' if all_ else 'executors'}")  # type: ignore[no-any-return]


def sql(conn: Connection, app: str, attempt: str | None = None, *, details: bool = True,
        plan_description: bool = True, offset: int = 0, length: int = 20) -> list[dict[str, Any]]:
    params = {"details": str(details).lower(), "planDescription": str(plan_description).lower(),
              "offset": offset, "length": length}
    return conn.get_json(f"{base(app, attempt)}/sql", params=params)  # type: ignore[no-any-return]


def sql_execution(conn: Connection, app: str, execution_id: int, attempt: str | None = None, *, details: bool = False,
                  plan_description: bool = True) -> dict[str, Any]:
    """One SQL execution (``/sql/{id}``); ``planDescription`` is its physical plan in EXPLAIN FORMATTED form."""
    params = {"details": str(details).lower(), "planDescription": str(plan_description).lower()}
    return conn.get_json(f"{base(app, attempt)}/sql/{execution_id}", params=params)  # type: ignore[no-any-return]


def environment(conn: Connection, app: str, attempt: str | None = None) -> dict[str, Any]:
    return conn.get_json(f"{base(app, attempt)}/environment")  # type: ignore[no-any-return]


def logs(conn: Connection, app: str, dest: Path, max_bytes: int, attempt: str | None = None) -> int:
    """The application's event log(s) as the History Server zips them, written to ``dest``; bytes written."""
    return conn.download(f"{base(app, attempt)}/logs", dest, max_bytes)
