"""Spark applications across the configured History Servers and this machine's running driver UIs, one page at a time.

Every server is asked at once (threads); a server that fails is named in the answer with its message, and
the others' applications are still listed.  The list is sorted failed first, then running, then finished,
each newest first, and cut into pages (``limit``, ``cursor``).  Only the page's applications get their
one-line state (:mod:`.app_state`): that costs calls the server answers by loading each application.

Whether a finished application failed needs its jobs (see :mod:`.app_state`): the :data:`CHECK_WINDOW`
most recent finished applications (after the filters) are checked before sorting, for at most
:data:`CHECK_BUDGET_S`, the page's always;
the answer says when older ones were not.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from ..errors import BadInputError, CouldNotDoError
from ..paging import decode_cursor, encode_cursor, fingerprint, offset_of
from ..settings import Settings
from . import spark_rest
from .app_state import JobTally, running_state, tally_jobs
from .servers import SparkServer
from .spark_servers import is_local, servers
from .spark_time import rest_date, rest_time, seconds_since, span
from .transport import Connection, Deadline

__all__ = ["AppStatus", "ServerProblem", "SparkApp", "SparkAppList", "list_apps"]

log = logging.getLogger(__name__)

AppStatus = Literal["running", "failed", "completed"]
DEFAULT_LIMIT = 20
MAX_LIMIT = 200
CHECK_WINDOW = 40
CHECK_BUDGET_S = 10.0
"""The most the failed-first check may take before a page is answered: a History Server replays an application's
whole event log to answer its /jobs, which for a big application takes seconds to minutes."""
WORKERS = 4
STATE_CHARS = 240
_ORDER = {"failed": 0, "running": 1, "completed": 2}


class SparkApp(BaseModel):
    server: str = Field(description="Where it is: a configured server's name, or local-<port> for a driver UI here.")
    id: str
    attempt: str | None = Field(default=None, description="The attempt listed (YARN-style applications have ids).")
    attempts: int | None = Field(default=None, description="How many attempts, when more than one.")
    name: str
    status: AppStatus = Field(description="failed: a job failed or the exit code was not 0; running: not finished "
                              "(on a History Server, also a driver that died without closing its log).")
    start: datetime | None = None
    duration_ms: int | None = Field(default=None, description="Start to end, or to now while it runs.")
    user: str | None = None
    spark_version: str | None = None
    state: str = Field(default="", description="One line: failed jobs, or the active stages with their progress.")


class ServerProblem(BaseModel):
    server: str
    error: str


class SparkAppList(BaseModel):
    """A page of applications, failed and running first, with what could not be listed."""

    apps: list[SparkApp] = Field(default_factory=list)
    total: int = Field(description="Applications that match, over every page.")
    counts: dict[str, int] = Field(default_factory=dict, description="Of those, by status.")
    next_cursor: str | None = Field(default=None, description="Pass as cursor for the next page.")
    failed_servers: list[ServerProblem] = Field(default_factory=list, description="Servers that could not be listed.")
    notes: list[str] = Field(default_factory=list)


class _Row:
    """An application as listed, with what the page needs to read its state."""

    __slots__ = ("app", "attempt", "exit_code", "server", "started", "tally", "updated", "updated_at")

    def __init__(self, server: SparkServer, app: SparkApp, attempt: dict[str, Any]) -> None:
        self.server, self.app, self.attempt = server, app, attempt
        code = attempt.get("exitCode")
        self.exit_code = int(code) if isinstance(code, int) and not isinstance(code, bool) else None
        self.started = app.start or datetime.min.replace(tzinfo=UTC)
        self.updated = str(attempt.get("lastUpdatedEpoch") or attempt.get("lastUpdated") or "")
        self.updated_at = rest_time(attempt.get("lastUpdatedEpoch") or attempt.get("lastUpdated"))
        self.tally: JobTally | None = None


def _row(server: SparkServer, raw: dict[str, Any], now: datetime) -> _Row | None:
    attempts = [a for a in raw.get("attempts") or [] if isinstance(a, dict)]
    if not raw.get("id") or not attempts:
        return None
    latest = attempts[0]
    running = not latest.get("completed", False)
    start = rest_time(latest.get("startTimeEpoch") or latest.get("startTime"))
    end = rest_time(latest.get("endTimeEpoch") or latest.get("endTime"))
    duration = latest.get("duration")
    if running and start is not None:
        duration = int((now - start).total_seconds() * 1000)
    code = latest.get("exitCode")
    failed = not running and isinstance(code, int) and code != 0
    attempt_id = latest.get("attemptId")
    app = SparkApp(server=server.name, id=str(raw["id"]), attempt=str(attempt_id) if attempt_id is not None else None,
                   attempts=len(attempts) if len(attempts) > 1 else None, name=str(raw.get("name") or ""),
                   status="running" if running else "failed" if failed else "completed", start=start,
                   duration_ms=int(duration) if isinstance(duration, (int, float)) and duration >= 0 else None,
                   user=latest.get("sparkUser"), spark_version=latest.get("appSparkVersion"))
    row = _Row(server, app, latest)
    row.updated_at = row.updated_at or end
    return row


def _list_server(server: SparkServer, status: AppStatus | None, since: datetime | None, deadline: Deadline,
                 now: datetime) -> list[_Row]:
    what = "driver UI" if is_local(server) else "Spark server"
    rest_status = {"running": "running", "completed": "completed", "failed": "completed"}.get(status or "")
    min_end = rest_date(since) if since is not None and status in ("completed", "failed") else None
    with Connection(server, deadline=deadline, what=what) as conn:
        listed = spark_rest.applications(conn, status=rest_status, min_end_date=min_end)
    return [row for raw in listed if isinstance(raw, dict) and (row := _row(server, raw, now)) is not None]


def _matches(row: _Row, since: datetime | None, name: str | None) -> bool:
    """The name and time filters (``since``: running, or ended at or after it)."""
    app = row.app
    if name is not None and name.casefold() not in app.name.casefold():
        return False
    if since is not None and app.status != "running":
        end = rest_time(row.attempt.get("endTimeEpoch") or row.attempt.get("endTime")) or app.start
        if end is None or end < since:
            return False
    return True


def _check(rows: list[_Row], deadline: Deadline, budget: Deadline | None = None) -> tuple[list[str], int]:
    """Tally the jobs of the finished ``rows`` not known to have failed (in threads): the problems met, and how many
    were left unchecked when ``budget`` ran out (they stay as listed; a later call picks them up)."""
    todo = [r for r in rows if r.app.status != "running" and r.tally is None]
    problems: list[str] = []
    skipped: list[_Row] = []

    def one(row: _Row) -> None:
        if budget is not None and budget.expired():
            skipped.append(row)
            return
        try:
            with Connection(row.server, deadline=budget or deadline, what="Spark server") as conn:
                row.tally = tally_jobs(conn, row.app.id, row.app.attempt, row.updated)
        except CouldNotDoError as exc:
            if budget is not None and budget.expired():
                skipped.append(row)
            else:
                problems.append(f"{row.server.name}/{row.app.id}: {exc}")
            return
        if row.tally.failed:
            row.app.status = "failed"

    if todo:
        with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="spark-jobs") as pool:
            list(pool.map(one, todo))
    return problems, len(skipped)


def _state(row: _Row, deadline: Deadline, now: datetime) -> None:
    app = row.app
    exit_code = f"exit code {row.exit_code}; " if row.exit_code else ""
    try:
        if app.status == "running":
            with Connection(row.server, deadline=deadline, what="Spark server") as conn:
                app.state = running_state(conn, app.id, app.attempt, row.updated_at, now,
                                          local=is_local(row.server))
        elif row.tally is not None:
            app.state = exit_code + row.tally.line()
    except CouldNotDoError as exc:
        app.state = f"state not read: {exc}"
    if len(app.state) > STATE_CHARS:  # a page stays within an agent's budget whatever a server answers
        app.state = app.state[:STATE_CHARS - 1] + "…"


def _sorted(rows: list[_Row]) -> list[_Row]:
    rows.sort(key=lambda r: (r.app.id, r.app.server))
    rows.sort(key=lambda r: r.started, reverse=True)
    rows.sort(key=lambda r: _ORDER[r.app.status])
    return rows


def list_apps(settings: Settings, *, status: AppStatus | None = None, since: str | None = None, name: str | None = None,
              server: str | None = None, limit: int = DEFAULT_LIMIT, cursor: str | None = None) -> SparkAppList:
    """Applications across the servers (or the one named), failed and running first; a page of ``limit``."""
    from ..telemetry.timespec import is_relative, parse_time

    if not 1 <= limit <= MAX_LIMIT:
        raise BadInputError(f"limit {limit} is out of range; give 1 to {MAX_LIMIT} applications a page "
                            f"(default {DEFAULT_LIMIT})")
    if status is not None and status not in _ORDER:
        raise BadInputError(f"status {status!r} is not one of running, failed, completed")
    name = name.strip() if name and name.strip() else None
    print_ = fingerprint(tool="list_spark_apps", status=status, since=since, name=name, server=server)
    now = datetime.now(UTC)
    offset = 0
    if cursor:
        position, extra = decode_cursor(cursor, print_)
        offset = offset_of(position)
        if isinstance(extra, str) and is_relative(since):
            now = datetime.fromisoformat(extra)  # a relative window keeps the first page's 'now'
    cutoff = parse_time(since, "since", now.replace(tzinfo=None))
    since_at = cutoff.replace(tzinfo=UTC) if cutoff is not None else None
    targets = servers(settings, server)
    deadline = Deadline(settings.live_deadline_s)
    notes: list[str] = []
    if not targets:
        ports = settings.spark_ui_ports
        notes.append(f"no Spark server is configured (DGX_SPARK_MCP_SPARK_SERVERS=name=url) and no driver UI answers "
                     f"on loopback ports {ports[0]}-{ports[-1]}" if ports else "no Spark server is configured")
    rows: list[_Row] = []
    failed_servers: list[ServerProblem] = []
    with ThreadPoolExecutor(max_workers=max(1, min(8, len(targets))), thread_name_prefix="spark-list") as pool:
        futures = [(s, pool.submit(_list_server, s, status, since_at, deadline, now)) for s in targets]
        for target, future in futures:
            try:
                rows += future.result()
            except CouldNotDoError as exc:
                log.info("Spark server %s not listed: %s", target.name, exc)
                failed_servers.append(ServerProblem(server=target.name, error=str(exc)))
    rows = [r for r in rows if _matches(r, since_at, name)]
    finished = sorted((r for r in rows if r.app.status == "completed"), key=lambda r: r.started, reverse=True)
    window = finished[:CHECK_WINDOW] if status != "running" else []
    budget = Deadline(min(CHECK_BUDGET_S, max(0.0, deadline.left())))
    problems, cut_short = _check(window, deadline, budget)
    unchecked = len(finished) - len(window) if status != "running" else 0
    rows = _sorted([r for r in rows if status is None or r.app.status == status])
    page = rows[offset:offset + limit]
    problems += _check(page, deadline)[0]
    page = [r for r in page if status is None or r.app.status == status]  # one found failed only now
    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="spark-state") as pool:
        list(pool.map(lambda r: _state(r, deadline, now), page))
    following = offset + limit
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.app.status] = counts.get(row.app.status, 0) + 1
    if unchecked:
        notes.append(f"{unchecked} older finished application(s) were not checked for failed jobs before sorting (each "
                     "check loads the application on its server): narrow with since or name to check them")
    if cut_short:
        notes.append(f"{cut_short} recent finished application(s) not yet checked for failed jobs: their server loads "
                     f"each one to answer, and the check stops after {CHECK_BUDGET_S:g} s; call again (checked ones "
                     "are remembered) or narrow with since or name")
    if problems:
        notes.append(f"jobs not read for {len(problems)} application(s); first: {problems[0]}")
    return SparkAppList(
        apps=[r.app for r in page], total=len(rows), counts=counts,
        next_cursor=encode_cursor(print_, [following], now.isoformat()) if following < len(rows) else None,
        failed_servers=failed_servers, notes=notes,
    )


def describe(app: SparkApp, now: datetime | None = None) -> str:
    """One line for people: ``prod/app-1 nightly-sales failed 35 s ago, 2 min: 1 of 3 jobs failed``."""
    when = seconds_since(app.start, now)
    took = f", {span(app.duration_ms / 1000)}" if app.duration_ms is not None else ""
    started = f" started {span(when)} ago" if when is not None else ""
    ref = "/".join(p for p in (app.server, app.id, app.attempt) if p)
    return f"{ref}  {app.name!r} {app.status}{started}{took}" + (f": {app.state}" if app.state else "")
