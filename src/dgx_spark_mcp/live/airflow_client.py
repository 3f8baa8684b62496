"""Airflow's REST API, version 2 (Airflow 3) and version 1 (Airflow 2), behind one adapter.

Why one adapter: the two APIs differ in a handful of names and formats, not in what they offer, so a
small per-version table (:class:`Flavor`, from ``data/live-apis.json``) carries the differences and every method exists once:

    ============================  ==============================  ===============================
    what                          v2 (Airflow 3)                  v1 (Airflow 2)
    ============================  ==============================  ===============================
    base path                     /api/v2                         /api/v1
    a run's date                  logical_date (null for manual   execution_date (renamed to
                                  runs: run_after is the date)    logical_date in our answers)
    "since" filter, newest first  run_after_gte, -run_after       execution_date_gte, -execution_date
    task log content              JSON records + continuation     a Python repr of [(host, text)]
                                  token                           + continuation token
    authentication                JWT from POST /auth/token       basic auth (or a bearer token)
    import error file             relative to its bundle          absolute path
    ============================  ==============================  ===============================

Which one a server speaks is asked, not configured: ``/api/v2/version``, then ``/api/v1/version``;
when neither answers as Airflow, the error names each probe's result.  The JWT is one
:class:`AirflowToken` per (server, user, password): fetched on first use, renewed shortly before its
``exp`` and, through the transport's ``reauthenticate``, once on a 401.  There is no default password:
without a token or a username and password, Airflow 3 is asked without credentials.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ..errors import BadInputError, CouldNotDoError, UnavailableError
from ..settings import Settings
from .apis import AirflowFlavor, live_apis
from .servers import AirflowServer
from .transport import Connection, Deadline, NotFound

__all__ = ["V1", "V2", "Airflow", "AirflowToken", "Flavor", "LogText", "open_airflow", "probe"]

TOKEN_MARGIN_S = 60.0
"""A JWT this close to its expiry is renewed before it is sent."""
PAGE = 100
"""Rows asked per request: the API's default page size, which every Airflow 2 and 3 accepts."""
LOG_PAGES = 50
"""Continuation pages read of one task log at most."""
WHAT = "Airflow"
_HTTP = re.compile(r"HTTP (\d{3})")


Flavor = AirflowFlavor
V2, V1 = live_apis().airflow  # data/live-apis.json: v2 first, the order servers are probed in


def _q(part: str) -> str:
    return quote(part, safe="")


def _bare(server: AirflowServer) -> AirflowServer:
    """The server without basic auth: a JWT replaces it (httpx's basic auth would overwrite the bearer header)."""
    return server.model_copy(update={"username": None, "password": None})


class AirflowToken:
    """A JWT from ``POST /auth/token``: fetched once, renewed before it expires and when the server answers 401."""

    def __init__(self, server: AirflowServer) -> None:
        self._server = server
        self._token: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()

    def get(self, deadline: Deadline | None) -> str:
        with self._lock:
            if self._token is None or time.time() > self._expires - TOKEN_MARGIN_S:
                self._token, self._expires = self._fetch(deadline)
            return self._token

    def forget(self) -> None:
        """Drop the token (the server refused it: its signing key may have changed); the next call fetches one."""
        with self._lock:
            self._token, self._expires = None, 0.0

    def refresh(self, conn: Connection) -> None:
        """The transport's ``reauthenticate``: a new token, set on the connection that was refused."""
        with self._lock:
            self._token, self._expires = self._fetch(conn.deadline)
            conn.set_bearer(self._token)

    def _fetch(self, deadline: Deadline | None) -> tuple[str, float]:
        server = self._server
        assert server.username is not None and server.password is not None
        body = {"username": server.username, "password": server.password.get_secret_value()}
        with Connection(_bare(server), deadline=deadline, what=WHAT) as conn:
            try:
                answer = conn.post_json("/auth/token", body)
            except NotFound:
                raise CouldNotDoError(f"{conn.label} has no /auth/token (its auth manager issues no tokens for a "
                                      "username and password); set DGX_SPARK_MCP_AIRFLOW_TOKEN instead") from None
            except UnavailableError:
                raise
            except CouldNotDoError as exc:
                raise CouldNotDoError(f"could not log in to Airflow with the configured DGX_SPARK_MCP_AIRFLOW_USERNAME"
                                      f" and _PASSWORD: {exc}") from None
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise CouldNotDoError(f"{WHAT} at {server.url} answered POST /auth/token without an access_token")
        return token, _expiry(token)


def _expiry(token: str) -> float:
    """The JWT's ``exp`` (read, not verified: only to know when to renew); in 10 minutes when it has none."""
    try:
        payload = token.split(".")[1]
        exp = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))).get("exp")
        return float(exp) if exp is not None else time.time() + 600
    except (IndexError, ValueError, AttributeError, TypeError):
        return time.time() + 600


_tokens: dict[tuple[str, str, str], AirflowToken] = {}
_versions: dict[str, tuple[Flavor, str, float]] = {}
_lock = threading.Lock()
VERSION_TTL_S = 300.0


def _token_for(server: AirflowServer) -> AirflowToken:
    assert server.username is not None and server.password is not None
    secret = hashlib.sha256(server.password.get_secret_value().encode()).hexdigest()
    key = (server.url, server.username, secret)
    with _lock:
        if key not in _tokens:
            _tokens[key] = AirflowToken(server)
        return _tokens[key]


def probe(server: AirflowServer, deadline: Deadline) -> tuple[Flavor, str]:
    """(flavor, version) of the server: ``/api/v2/version``, then ``/api/v1/version`` (public in Airflow itself; the
    configured credentials go along for a proxy in front of it)."""
    with _lock:
        known = _versions.get(server.url)
    if known is not None and time.monotonic() - known[2] < VERSION_TTL_S:
        return known[0], known[1]
    results = []
    with Connection(server, deadline=deadline, what=WHAT) as conn:
        for flavor in (V2, V1):
            path = f"{flavor.api}/version"
            try:
                answer = conn.get_json(path)
            except UnavailableError:
                raise  # unreachable or not answering: the second probe would say the same
            except CouldNotDoError as exc:
                status = _HTTP.search(str(exc))
                results.append(f"{path}: HTTP {status.group(1)}" if status else f"{path}: {exc}")
                continue
            version = answer.get("version") if isinstance(answer, dict) else None
            if isinstance(version, str):
                with _lock:
                    _versions[server.url] = (flavor, version, time.monotonic())
                return flavor, version
            results.append(f"{path}: 200 without a version")
    raise CouldNotDoError(f"{conn.label} does not answer as an Airflow API server ({'; '.join(results)}); "
                          "DGX_SPARK_MCP_AIRFLOW_URL should be the API server of Airflow 3 or the webserver of Airflow 2")


@dataclass
class LogText:
    """A task try's log as fetched: its text, how many pages it took, and whether it was cut."""

    text: str
    pages: int
    cut: bool


class Airflow:
    """One Airflow API server for the length of one call: what it speaks, an open connection, the call's deadline."""

    def __init__(self, server: AirflowServer, flavor: Flavor, version: str, conn: Connection) -> None:
        self.server, self.flavor, self.version, self.conn = server, flavor, version, conn

    @property
    def label(self) -> str:
        return f"Airflow {self.version} at {self.server.url}"

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.conn.get_json(self.flavor.api + path, params=params)

    # --- DAGs ---------------------------------------------------------------------------------

    def dag(self, dag_id: str) -> dict[str, Any] | None:
        try:
            answer = self.get(f"/dags/{_q(dag_id)}")
        except NotFound:
            return None
        return answer if isinstance(answer, dict) else None

    def dag_ids(self, most: int = 1000) -> list[str]:
        ids: list[str] = []
        for row in self._pages("/dags", "dags", most, {"order_by": "dag_id"})[0]:
            if isinstance(row.get("dag_id"), str):
                ids.append(row["dag_id"])
        return ids

    def downstream(self, dag_id: str) -> dict[str, list[str]]:
        """task id -> the ids of the tasks that run after it."""
        answer = self.get(f"/dags/{_q(dag_id)}/tasks")
        tasks = answer.get("tasks", []) if isinstance(answer, dict) else []
        return {str(t["task_id"]): [str(d) for d in t.get("downstream_task_ids") or []]
                for t in tasks if isinstance(t, dict) and t.get("task_id") is not None}

    def import_errors(self, most: int) -> tuple[list[dict[str, Any]], int]:
        return self._pages("/importErrors", "import_errors", most)

    # --- runs and task instances --------------------------------------------------------------

    def run_row(self, raw: dict[str, Any]) -> dict[str, Any]:
        """A run as the answers name its fields, whichever API it came from."""
        return {"dag_id": raw.get("dag_id"), "run_id": raw.get("dag_run_id"), "state": raw.get("state"),
                "run_type": raw.get("run_type"), "logical_date": raw.get(self.flavor.date_field) or raw.get("run_after"),
                "start_date": raw.get("start_date"), "end_date": raw.get("end_date")}

    def dag_runs(self, dag_id: str | None, states: list[str], since: str | None, offset: int,
                 limit: int) -> tuple[list[dict[str, Any]], int]:
        """One page of runs (newest first) in ``states``, and how many there are in all."""
        params: dict[str, Any] = {"state": states, "order_by": self.flavor.newest_first, "offset": offset,
                                  "limit": max(1, limit)}
        if since:
            params[self.flavor.since_param] = since
        answer = self.get(f"/dags/{_q(dag_id or '~')}/dagRuns", params)
        rows = [self.run_row(r) for r in _rows(answer, "dag_runs")]
        return (rows if limit > 0 else []), _total(answer, len(rows))

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any] | None:
        try:
            answer = self.get(f"/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}")
        except NotFound:
            return None
        return self.run_row(answer) if isinstance(answer, dict) else None

    def task_instances(self, dag_id: str, run_id: str, most: int) -> tuple[list[dict[str, Any]], int]:
        """The run's task instances (each map index of a mapped task its own), at most ``most``, and the total."""
        return self._pages(f"/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}/taskInstances", "task_instances", most)

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int, map_index: int | None,
                 max_bytes: int) -> LogText:
        """A try's whole log, page after page of continuation tokens; v2 records become JSON lines again."""
        path = f"/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}/taskInstances/{_q(task_id)}/logs/{try_number}"
        params: dict[str, Any] = {"full_content": "true"}
        if map_index is not None and map_index >= 0:
            params["map_index"] = map_index
        parts: list[str] = []
        size, pages, token = 0, 0, None
        while pages < LOG_PAGES:
            answer = self.get(path, {**params, "token": token} if token else params)
            pages += 1
            text = self._log_content(answer.get("content") if isinstance(answer, dict) else None)
            if text:
                parts.append(text)
                size += len(text)
            if size > max_bytes:
                return LogText("".join(parts)[:max_bytes], pages, True)
            following = answer.get("continuation_token") if isinstance(answer, dict) else None
            if not text or not following or following == token or _end_of_log(following):
                break
            token = following
        return LogText("".join(parts), pages, pages >= LOG_PAGES)

    def _log_content(self, content: Any) -> str:
        if isinstance(content, list):  # v2: structured records, one JSON line each as the task wrote them
            return "".join((json.dumps(r) if isinstance(r, dict) else str(r)) + "\n" for r in content)
        if not isinstance(content, str):
            return ""
        if content.startswith("[("):  # v1: str() of [(host, text), ...]
            try:
                pieces = ast.literal_eval(content)
                return "".join(str(p[1]) if isinstance(p, tuple) and len(p) == 2 else str(p) for p in pieces)
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                pass
        return content

    # --- paging -------------------------------------------------------------------------------

    def _pages(self, path: str, key: str, most: int, params: dict[str, Any] | None = None
               ) -> tuple[list[dict[str, Any]], int]:
        rows: list[dict[str, Any]] = []
        total = 0
        while len(rows) < most:
            answer = self.get(path, {**(params or {}), "offset": len(rows), "limit": min(PAGE, most - len(rows))})
            page = _rows(answer, key)
            total = _total(answer, len(rows) + len(page))
            rows.extend(page)
            if not page or len(rows) >= total:
                break
        return rows, max(total, len(rows))


def _rows(answer: Any, key: str) -> list[dict[str, Any]]:
    rows = answer.get(key) if isinstance(answer, dict) else None
    return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []


def _total(answer: Any, seen: int) -> int:
    total = answer.get("total_entries") if isinstance(answer, dict) else None
    return total if isinstance(total, int) and not isinstance(total, bool) else seen


def _end_of_log(token: str) -> bool:
    """Whether a continuation token (itsdangerous: base64 JSON, then a signature) says the log has ended."""
    payload = token.split(".")[0]
    try:
        return bool(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))).get("end_of_log"))
    except (ValueError, AttributeError, TypeError):
        return False


@contextmanager
def open_airflow(settings: Settings, deadline: Deadline | None = None) -> Iterator[Airflow]:
    """The configured Airflow, its API version asked, with the credentials that version takes."""
    server = settings.airflow
    if server is None:
        raise BadInputError("no Airflow is configured: set DGX_SPARK_MCP_AIRFLOW_URL (with DGX_SPARK_MCP_AIRFLOW_TOKEN, "
                            "or _USERNAME and _PASSWORD), or give path: a folder of task logs")
    deadline = deadline or Deadline(settings.live_deadline_s)
    flavor, version = probe(server, deadline)
    token = _token_for(server) if flavor.jwt and server.username is not None else None
    if token is not None:
        conn = Connection(_bare(server), deadline=deadline, what=WHAT, reauthenticate=token.refresh)
        try:
            conn.set_bearer(token.get(deadline))
        except BaseException:
            conn.close()
            raise
    else:
        conn = Connection(server, deadline=deadline, what=WHAT)
    with conn:
        try:
            yield Airflow(server, flavor, version, conn)
        except CouldNotDoError as exc:
            # An expired JWT is a 401, refreshed by the transport; one signed with a key the server no longer has
            # (its jwt_secret changed) is a 403: forget it, so the next call logs in again.
            if token is not None and "(HTTP 403)" in str(exc):
                token.forget()
            raise
