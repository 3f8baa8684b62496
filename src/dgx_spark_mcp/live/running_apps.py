"""Which running application a status call is about.

An agent names an application (``app-id``, ``server/app-id``, ``server/app-id/attempt``), a server alone
(``local``, ``local-4041``, ``prod``: the one application running there), or nothing.  Nothing means the
one application whose driver UI answers on this machine's loopback ports: with two or more it is an
error listing them (guessing would report on the wrong job), with none it is an answer saying so, with
the incomplete applications of the configured History Servers to choose from.
A named application must be running (a driver UI) or incomplete (a History Server reading its
``.inprogress`` log): a finished one is an error pointing at the analyses of finished runs.  An id is looked
for as the event-log fetch looks for it (:func:`.spark_servers.find_app`), this machine's driver UIs first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import BadInputError, CouldNotDoError, UnavailableError
from ..settings import Settings
from . import spark_rest
from .servers import SparkServer
from .spark_servers import LOCAL, AppRef, find_app, is_local, local_driver_uis, parse_app_ref
from .spark_time import seconds_since, span
from .transport import Connection, Deadline

__all__ = ["Target", "find_target", "incomplete_elsewhere", "running_local"]

LISTED_PER_SERVER = 5
"""Incomplete applications named per History Server when nothing runs locally."""


@dataclass(frozen=True)
class Target:
    """The application to report on: where it lives and its /applications/{id} answer."""

    server: SparkServer
    app: dict[str, Any]
    attempt: str | None
    ref: str

    @property
    def app_id(self) -> str:
        return str(self.app.get("id", ""))

    @property
    def local(self) -> bool:
        return is_local(self.server)


def _incomplete_attempt(app: dict[str, Any]) -> dict[str, Any] | None:
    attempts = app.get("attempts") or []
    return next((a for a in attempts if isinstance(a, dict) and not a.get("completed", True)), None)


def _ref(server: SparkServer, app: dict[str, Any], attempt: str | None) -> str:
    return str(AppRef(app_id=str(app.get("id")), server=server.name, attempt=attempt))


def _describe(server: SparkServer, app: dict[str, Any]) -> str:
    attempt = _incomplete_attempt(app) or {}
    ran = seconds_since(attempt.get("startTime"))
    return f"{_ref(server, app, attempt.get('attemptId'))} {app.get('name', '?')!r}" + (
        f" (started {span(ran)} ago)" if ran is not None else "")


def running_local(settings: Settings, deadline: Deadline, missing: list[str]) -> list[tuple[SparkServer, dict[str, Any]]]:
    """The applications of the driver UIs that answer on loopback now (a driver UI serves one; a port held by
    something else is noted in ``missing`` and skipped)."""
    found = []
    for server in local_driver_uis(settings):
        try:
            with Connection(server, deadline=deadline, what="driver UI") as conn:
                apps = spark_rest.applications(conn)
        except CouldNotDoError as exc:
            missing.append(f"port {server.url.rsplit(':', 1)[-1]} answers but not as a Spark driver UI: {exc}")
            continue
        found += [(server, a) for a in apps if isinstance(a, dict) and _incomplete_attempt(a) is not None]
    return found


def incomplete_elsewhere(settings: Settings, deadline: Deadline, missing: list[str]) -> list[str]:
    """References of the incomplete applications on the configured History Servers (a few per server)."""
    refs: list[str] = []
    for server in settings.spark_servers:
        try:
            with Connection(server, deadline=deadline, what="Spark server") as conn:
                apps = spark_rest.applications(conn, status="running", limit=LISTED_PER_SERVER)
        except CouldNotDoError as exc:
            missing.append(f"could not list {server.name}'s running applications: {exc}")
            continue
        refs += [_ref(server, a, (_incomplete_attempt(a) or {}).get("attemptId")) for a in apps[:LISTED_PER_SERVER]
                 if isinstance(a, dict)]
    return refs


def find_target(settings: Settings, ref: str | None, deadline: Deadline, missing: list[str]) -> Target | None:
    """The application ``ref`` names, or the only one running locally; None when ``ref`` is None and none runs."""
    if ref is None or not ref.strip():
        return _only(running_local(settings, deadline, missing), "on this machine")
    if _names_a_server(settings, ref.strip().lower()):  # "local" or "prod": the one running there
        name = ref.strip().lower()
        found = _running_on(settings, name, deadline, missing)
        if not found:
            raise BadInputError(f"no application is running on {name}; give server/app-id, or leave app out for the "
                                "one running on this machine")
        return _only(found, f"on {name}")
    wanted = parse_app_ref(ref)
    search = find_app(settings, wanted, deadline, local_first=True)
    if search.server is not None:
        return _target(search.server, search.app, wanted)
    looked = "; ".join(f"{server.name}: {'not there' if error is None else error}" for server, error in search.misses) \
        or "no server is configured and no driver UI answers on this machine"
    message = (f"no application {wanted.app_id!r} found ({looked}). Running here: "
               f"{', '.join(_describe(s, a) for s, a in running_local(settings, deadline, [])) or 'none'}; "
               "give a running app's id, or server/app-id for one on a configured History Server")
    if search.failed:  # it may be on a server that did not answer: a later call may find it
        raise UnavailableError(message)
    raise BadInputError(message)


def _only(found: list[tuple[SparkServer, dict[str, Any]]], where: str) -> Target | None:
    if len(found) > 1:
        listed = "; ".join(_describe(s, a) for s, a in found)
        raise BadInputError(f"{len(found)} Spark applications are running {where}: {listed}. Name one as app (one of "
                            "those references)")
    if not found:
        return None
    server, app = found[0]
    attempt = (_incomplete_attempt(app) or {}).get("attemptId")
    return _target(server, app, AppRef(app_id=str(app.get("id")), server=server.name,
                                       attempt=str(attempt) if attempt is not None else None))


def _names_a_server(settings: Settings, text: str) -> bool:
    """``local``, ``local-PORT`` or a configured name, and not an app id: local mode's ids are ``local-<ms since
    1970>``, 13 digits, where a port has at most 5."""
    port = text.removeprefix(f"{LOCAL}-")
    local_port = text.startswith(f"{LOCAL}-") and port.isdigit() and int(port) <= 65535
    return "/" not in text and (text == LOCAL or local_port or any(s.name == text for s in settings.spark_servers))


def _running_on(settings: Settings, name: str, deadline: Deadline, missing: list[str]
                ) -> list[tuple[SparkServer, dict[str, Any]]]:
    if name == LOCAL or name.startswith(f"{LOCAL}-"):
        return [(s, a) for s, a in running_local(settings, deadline, missing) if name == LOCAL or s.name == name]
    server = next(s for s in settings.spark_servers if s.name == name)
    with Connection(server, deadline=deadline, what="Spark server") as conn:
        apps = spark_rest.applications(conn, status="running")
    return [(server, a) for a in apps if isinstance(a, dict) and _incomplete_attempt(a) is not None]


def _target(server: SparkServer, app: dict[str, Any], wanted: AppRef) -> Target:
    attempts = [a for a in app.get("attempts") or [] if isinstance(a, dict)]
    if wanted.attempt is not None:
        chosen = next((a for a in attempts if str(a.get("attemptId")) == wanted.attempt), None)
        if chosen is None:
            ids = ", ".join(str(a.get("attemptId")) for a in attempts) or "none"
            raise BadInputError(f"application {wanted.app_id!r} on {server.name} has no attempt {wanted.attempt!r}; "
                                f"its attempts: {ids}")
    else:
        chosen = _incomplete_attempt(app)
    if chosen is None or chosen.get("completed"):
        ended = (chosen or (attempts[0] if attempts else {})).get("endTime", "?")
        raise BadInputError(f"application {wanted.app_id!r} on {server.name} has finished (ended {ended}); "
                            "spark_app_status reads running applications: analyze a finished one with "
                            f"analyze_event_log(app='{server.name}/{wanted.app_id}')")
    attempt = chosen.get("attemptId")
    attempt = str(attempt) if attempt is not None else None
    return Target(server=server, app=app, attempt=attempt, ref=_ref(server, app, attempt))
