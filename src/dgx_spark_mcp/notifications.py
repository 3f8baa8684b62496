"""What the server pushes to clients: resource updates and, for clients that ask, its log messages.

Resource updates have one publisher and two deliveries.  A tool that changes what a resource shows
(an ingest changes ``telemetry://gpus``) publishes on the server's event bus; the SDK delivers that
to ``subscriptions/listen`` streams (protocol 2026-07-28), and :class:`ResourceSubscriptions`
delivers it to clients of the 2025 protocols that sent ``resources/subscribe`` for that URI.

Logging (``logging/setLevel``) exists only in the 2025 protocols (SEP-2577 deprecates it).  A client
that sets a level gets this package's log records at or above it as ``notifications/message`` —
the same records that go to stderr — until its connection ends.

Both need handlers the SDK's ``MCPServer`` has no public hook for, so they are added to its
low-level server (``_lowlevel_server``), the one place the SDK dispatches methods from; and both
outlive the request that set them up, so they keep the client's ``Connection``, which a low-level
handler reaches only through its per-request session (``_connection``).
"""

from __future__ import annotations

import asyncio
import logging
import re
import weakref
from typing import Any

from mcp.server import MCPServer
from mcp.server.connection import Connection
from mcp.server.context import ServerRequestContext
from mcp.server.subscriptions import InMemorySubscriptionBus, ResourceUpdated, ServerEvent
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, EmptyResult, SetLevelRequestParams, SubscribeRequestParams, UnsubscribeRequestParams

__all__ = ["ClientLogForwarder", "ResourceSubscriptions", "install"]

PACKAGE_LOGGER = "dgx_spark_mcp"
_MCP_LEVELS: dict[str, int] = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "notice": logging.INFO + 5,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
    "alert": logging.CRITICAL + 5,
    "emergency": logging.CRITICAL + 10,
}


def _mcp_level(levelno: int) -> str:
    """The MCP level of a Python record: the highest MCP level not above it."""
    name = "debug"
    for level, number in _MCP_LEVELS.items():
        if levelno >= number:
            name = level
    return name


def _connection(ctx: ServerRequestContext[Any, Any]) -> Connection:
    return ctx.session._connection  # see the module docstring


def _spawn(loop: asyncio.AbstractEventLoop, tasks: set[asyncio.Task[Any]], coro: Any) -> None:
    """Run ``coro`` on ``loop`` without waiting for it; a client gone away only loses its notification."""
    task = loop.create_task(coro)
    tasks.add(task)  # a task nobody references may be collected before it runs
    task.add_done_callback(lambda t: (tasks.discard(t), t.cancelled() or t.exception()))


class ResourceSubscriptions:
    """``resources/subscribe`` / ``resources/unsubscribe`` for the resources this server lists."""

    def __init__(self, mcp: MCPServer, bus: InMemorySubscriptionBus) -> None:
        self._mcp = mcp
        self._by_uri: dict[str, weakref.WeakSet[Connection]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        bus.subscribe(self._on_event)

    async def _known(self, uri: str) -> bool:
        if uri in {str(r.uri) for r in await self._mcp.list_resources()}:
            return True
        for template in await self._mcp.list_resource_templates():
            pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template.uri_template))
            if re.fullmatch(pattern, uri):
                return True
        return False

    async def subscribe(self, ctx: ServerRequestContext[Any, Any], params: SubscribeRequestParams) -> EmptyResult:
        uri = str(params.uri)
        if not await self._known(uri):
            raise MCPError(
                code=INVALID_PARAMS,
                message=f"resource {uri!r} is not one of this server's; subscribe to a URI from resources/list "
                "(telemetry://gpus changes when telemetry is ingested or sampled)",
                data={"uri": uri},
            )
        self._by_uri.setdefault(uri, weakref.WeakSet()).add(_connection(ctx))
        return EmptyResult()

    async def unsubscribe(self, ctx: ServerRequestContext[Any, Any], params: UnsubscribeRequestParams) -> EmptyResult:
        # Unsubscribing from something never subscribed is not an error: the outcome the client wants holds.
        subscribed = self._by_uri.get(str(params.uri))
        if subscribed is not None:
            subscribed.discard(_connection(ctx))
        return EmptyResult()

    def subscribers(self, uri: str) -> int:
        return len(self._by_uri.get(uri, ()))

    def _on_event(self, event: ServerEvent) -> None:
        # Called by the bus on the server's event loop, synchronously: send from a task.
        if not isinstance(event, ResourceUpdated):
            return
        connections = list(self._by_uri.get(event.uri, ()))
        if connections:
            loop = asyncio.get_running_loop()
            for connection in connections:
                _spawn(loop, self._tasks, connection.send_resource_updated(event.uri))


class ClientLogForwarder(logging.Handler):
    """Sends this package's log records to every connection that asked for them with ``logging/setLevel``.

    One per process, on the package logger: records come from any thread (tools run in worker
    threads), so each is handed to the event loop of the connection that asked.
    """

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self._levels: weakref.WeakKeyDictionary[Connection, tuple[int, asyncio.AbstractEventLoop]] = (
            weakref.WeakKeyDictionary()
        )
        self._tasks: set[asyncio.Task[Any]] = set()

    async def set_level(self, ctx: ServerRequestContext[Any, Any], params: SetLevelRequestParams) -> EmptyResult:
        self._levels[_connection(ctx)] = (_MCP_LEVELS[params.level], asyncio.get_running_loop())
        return EmptyResult()

    def emit(self, record: logging.LogRecord) -> None:
        wanted = [(c, loop) for c, (level, loop) in list(self._levels.items()) if record.levelno >= level]
        if not wanted:
            return
        try:
            data = {"message": record.getMessage()}
        except Exception:  # a bad format string in a log call must not break the call that logged it
            return
        for connection, loop in wanted:
            if loop.is_closed():
                continue
            # Connection.notify rather than Connection.log: the latter is marked deprecated as a whole, though
            # logging/setLevel clients (the 2025 protocols) are exactly who it is for.
            params = {"level": _mcp_level(record.levelno), "data": data, "logger": record.name}
            loop.call_soon_threadsafe(
                lambda c=connection, lp=loop, p=params: _spawn(lp, self._tasks, c.notify("notifications/message", p))
            )


_FORWARDER = ClientLogForwarder()


def install(mcp: MCPServer, bus: InMemorySubscriptionBus) -> ResourceSubscriptions:
    """Serve resources/subscribe, resources/unsubscribe and logging/setLevel on ``mcp``."""
    subscriptions = ResourceSubscriptions(mcp, bus)
    lowlevel = mcp._lowlevel_server  # no public hook for these methods (see the module docstring)
    lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, subscriptions.subscribe)
    lowlevel.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, subscriptions.unsubscribe)
    lowlevel.add_request_handler("logging/setLevel", SetLevelRequestParams, _FORWARDER.set_level)
    package = logging.getLogger(PACKAGE_LOGGER)
    if _FORWARDER not in package.handlers:
        package.addHandler(_FORWARDER)
    return subscriptions
