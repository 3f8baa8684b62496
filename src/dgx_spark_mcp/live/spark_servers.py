"""Which Spark server an agent means: a configured History Server by name, a running driver UI on this
machine's loopback, or the one that holds an application id.

An application is referred to as ``app-id``, ``server/app-id`` or ``server/app-id/attempt``: a server
name from ``DGX_SPARK_MCP_SPARK_SERVERS``, or ``local`` for the driver UIs listening on this machine's
loopback ports (``DGX_SPARK_MCP_SPARK_UI_PORTS``, 4040-4049 by default), found without any setting.
An unknown server name is an error listing the known ones, never a fallback; an id alone is looked for
on every server (the first server that knows it answers, and is remembered for this process).
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass

from ..errors import BadInputError
from ..settings import Settings
from .servers import SparkServer

__all__ = ["LOCAL", "AppRef", "local_driver_uis", "parse_app_ref", "remember", "remembered", "server_named", "servers"]

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
