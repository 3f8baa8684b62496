"""Which Spark server an agent means: a configured History Server by name, a running driver UI on this
machine's loopback, or the one that holds an application id.

An application is referred to as ``app-id``, ``server/app-id`` or ``server/app-id/attempt``: a server
name from ``DGX_SPARK_MCP_SPARK_SERVERS``, or ``local`` for the driver UIs listening on this machine's
loopback ports (``DGX_SPARK_MCP_SPARK_UI_PORTS``, 4040-4049 by default), found without any setting.
An unknown server name is an error listing the known ones, never a fallback; an id alone is looked for
on every server (the first server that knows it answers, and is remembered for this process).
:func:`find_app` is that search, for the event-log fetch (:mod:`.history`) and the running-application
status (:mod:`.running_apps`) alike; each says in its own words what to do when no server has the id.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import BadInputError, CouldNotDoError
from ..settings import Settings
from . import spark_rest
from .servers import SparkServer
from .transport import Connection, Deadline, NotFound

__all__ = ["LOCAL", "AppRef", "Search", "find_app", "is_local", "local_driver_uis", "parse_app_ref", "remember",
           "remembered", "server_named", "servers"]

LOCAL = "local"
PROBE_TIMEOUT_S = 0.15
_found: dict[tuple[str, str], str] = {}
"""(the configured servers' URLs, app id) -> the server name that held it."""
_lock = threading.Lock()


@dataclass(frozen=True)
class AppRef:
    app_id: str
    server: str | None = None
    attempt: str | None = None

    def __str__(self) -> str:
        return "/".join(p for p in (self.server, self.app_id, self.attempt) if p)


def parse_app_ref(text: str) -> AppRef:
    parts = [p.strip() for p in text.strip().split("/")]
    if not text.strip() or any(not p for p in parts) or len(parts) > 3:
        raise BadInputError(f"application {text!r}: write the app id (app-20240101123000-0001, local-1700000000000, "
                            "application_1700000000000_0001), or server/app-id, or server/app-id/attempt")
    if len(parts) == 1:
        return AppRef(app_id=parts[0])
    return AppRef(server=parts[0].lower(), app_id=parts[1], attempt=parts[2] if len(parts) == 3 else None)


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=PROBE_TIMEOUT_S):
            return True
    except OSError:
        return False


def local_driver_uis(settings: Settings) -> list[SparkServer]:
    """The loopback driver UIs that accept a connection now (one per running application on this machine)."""
    return [SparkServer(name=f"{LOCAL}-{port}", url=f"http://127.0.0.1:{port}", timeout_s=10.0)
            for port in settings.spark_ui_ports if _port_open(port)]


def servers(settings: Settings, name: str | None = None) -> list[SparkServer]:
    """The servers a call reaches: the named one (``local`` = every loopback driver UI), or all of them."""
    if name is None:
        return [*settings.spark_servers, *local_driver_uis(settings)]
    if name == LOCAL or name.startswith(f"{LOCAL}-"):
        found = [s for s in local_driver_uis(settings) if name == LOCAL or s.name == name]
        if not found:
            ports = settings.spark_ui_ports
            raise BadInputError(f"no Spark driver UI answers on this machine's loopback ports {ports[0]}-{ports[-1]} "
                                f"({name!r}); start the application, or set DGX_SPARK_MCP_SPARK_UI_PORTS to its UI port")
        return found
    return [server_named(settings, name)]


def is_local(server: SparkServer) -> bool:
    """A driver UI on this machine's loopback (``local-PORT``), not a configured server."""
    return server.name.startswith(f"{LOCAL}-")


def server_named(settings: Settings, name: str) -> SparkServer:
    for server in settings.spark_servers:
        if server.name == name:
            return server
    known = ", ".join(s.name for s in settings.spark_servers) or "none is configured"
    raise BadInputError(f"unknown Spark server {name!r}; known: {known}, and 'local' for driver UIs on this machine. "
                        "Configure one with DGX_SPARK_MCP_SPARK_SERVERS=name=url")


def _key(settings: Settings, app_id: str) -> tuple[str, str]:
    return (",".join(f"{s.name}={s.url}" for s in settings.spark_servers), app_id)


def remembered(settings: Settings, app_id: str) -> str | None:
    """The server name that held ``app_id`` earlier in this process, if any."""
    with _lock:
        return _found.get(_key(settings, app_id))


def remember(settings: Settings, app_id: str, server: str) -> None:
    with _lock:
        _found[_key(settings, app_id)] = server


@dataclass
class Search:
    """Where :func:`find_app` looked for an application id, and what it found."""

    server: SparkServer | None = None
    app: dict[str, Any] = field(default_factory=dict)
    """The server's ``/applications/{id}`` answer."""
    misses: list[tuple[SparkServer, CouldNotDoError | None]] = field(default_factory=list)
    """The servers asked in vain, in order: with None, it answered that it holds no such id (404); else why it
    could not be asked."""

    @property
    def absent(self) -> list[SparkServer]:
        return [server for server, error in self.misses if error is None]

    @property
    def failed(self) -> list[tuple[SparkServer, CouldNotDoError]]:
        return [(server, error) for server, error in self.misses if error is not None]


Unlisted = Callable[[SparkServer, Connection], CouldNotDoError | None]
"""Asked on the connection of a server that answered 404: an error to raise instead of looking further (the server
says it may list the id soon), or None."""


def _candidates(settings: Settings, ref: AppRef, local_first: bool) -> list[SparkServer]:
    """The servers ``ref`` may be on: the one it names, or every one with the server that held the id before first."""
    if ref.server is not None:
        return servers(settings, ref.server)
    local = local_driver_uis(settings)
    everything = [*local, *settings.spark_servers] if local_first else [*settings.spark_servers, *local]
    known = remembered(settings, ref.app_id)
    return sorted(everything, key=lambda s: s.name != known)  # stable: the order above otherwise


def find_app(settings: Settings, ref: AppRef, deadline: Deadline, *, local_first: bool = False,
             unlisted: Unlisted | None = None) -> Search:
    """The first server that holds ``ref``'s application, asked one at a time; a configured server that has it is
    remembered for the id.

    ``local_first``: ask this machine's driver UIs before the configured servers (cheap, and where a running
    application usually is).  A server that cannot be asked is noted in ``misses`` and the next one asked: the
    application may be on another; but when ``ref`` names the server, its error is raised as it is.
    """
    search = Search()
    for server in _candidates(settings, ref, local_first):
        stop: CouldNotDoError | None = None
        try:
            with Connection(server, deadline=deadline, what="Spark server") as conn:
                try:
                    app = spark_rest.application(conn, ref.app_id)
                except NotFound:
                    stop = unlisted(server, conn) if unlisted is not None else None
                    if stop is None:
                        search.misses.append((server, None))
                        continue
        except CouldNotDoError as exc:  # unreachable, refused credentials, an error page: the others may have it
            if ref.server is not None:
                raise
            search.misses.append((server, exc))
            continue
        if stop is not None:
            raise stop
        if not isinstance(app, dict):
            raise CouldNotDoError(f"{server.name} answered /applications/{ref.app_id} with something that is not an "
                                  "application; is it a Spark History Server?")
        if not is_local(server):
            remember(settings, ref.app_id, server.name)
        search.server, search.app = server, app
        return search
    return search
