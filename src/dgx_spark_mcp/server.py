"""Build the MCP server and run it on stdio, streamable HTTP or SSE.

Tools, resources and prompts are registered by their own modules; this file only wires
them together and chooses the transport.  Heavy libraries stay out of this import path so
``initialize`` is answered fast.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from typing import Any, Literal

from mcp.server import MCPServer
from mcp.server.subscriptions import InMemorySubscriptionBus
from mcp.server.transport_security import TransportSecuritySettings

from . import __version__, completions, notifications, prompts
from .app import App
from .resources import diagnosis as diagnosis_resources
from .resources import hardware as hardware_resources
from .resources import spark as spark_resources
from .resources import telemetry as telemetry_resources
from .settings import Settings
from .tools.catalog import lazy_tools

__all__ = ["Transport", "build_server", "run"]

log = logging.getLogger(__name__)
Transport = Literal["stdio", "streamable-http", "sse"]

INSTRUCTIONS = """\
dgx-spark-mcp: NVIDIA GPU machines and Apache Spark jobs.
Machines: detect_hardware (this one, or a profile), list_hardware_profiles, check_gpu_availability.
Spark: optimize_spark_config writes a configuration (RAPIDS on GPUs), check_spark_config reviews one,
estimate_resources sizes a job; analyze_event_log, diagnose_log and analyze_query_plan say why a job
failed or is slow. Where jobs live: list_spark_apps (History Servers, driver UIs here; then app=server/id
in those tools), spark_app_status (a running app), compare_spark_apps, list_dag_runs and diagnose_dag_run
(Airflow). GPU telemetry: ingest_telemetry, sample_gpus, list_gpus, query_telemetry (a chart
on request), telemetry_report. ask: a model on this machine answers from those findings.
Answers are summaries: detail='full', a larger limit or the cursor give the rest.
'DGX Spark' is NVIDIA's GB10 desktop, not Apache Spark. A GPU field that is absent and listed under
'unavailable' is not supported there: never read it as zero."""


def build_server(settings: Settings, nvml: Any | None = None) -> MCPServer:
    """A server with every tool, resource and prompt registered."""
    app = App(settings=settings, nvml=nvml)
    bus = InMemorySubscriptionBus()  # resource updates: to subscriptions/listen streams and resources/subscribe
    mcp = MCPServer(
        "dgx-spark-mcp",
        title="DGX Spark MCP",
        version=__version__,
        instructions=INSTRUCTIONS,
        log_level=settings.log_level,
        subscriptions=bus,
        tools=lazy_tools(app),
    )
    hardware_resources.register(mcp, app)
    spark_resources.register(mcp, app)
    diagnosis_resources.register(mcp, app)
    telemetry_resources.register(mcp, app)
    prompts.register(mcp)
    completions.register(mcp)
    notifications.install(mcp, bus)
    return mcp


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def transport_security(host: str, port: int, extra_hosts: list[str] | None = None) -> TransportSecuritySettings:
    """DNS-rebinding protection for any bind address: loopback names always, plus the bound host."""
    hosts = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
    if not _is_loopback(host) and host not in ("0.0.0.0", "::"):
        hosts.append(f"{host}:{port}")
    hosts += extra_hosts or []
    origins = [f"http://{h}" for h in hosts] + [f"https://{h}" for h in hosts]
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins)


class BearerTokenMiddleware:
    """ASGI middleware: every HTTP request must carry ``Authorization: Bearer <token>``."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                body = b'{"error": "unauthorized", "error_description": "missing or wrong bearer token"}'
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"www-authenticate", b'Bearer realm="dgx-spark-mcp"'),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


MAX_REQUEST_BODY_BYTES = 4 * 1024 * 1024
"""Largest HTTP request body; bigger ones get 413 before they are parsed.  A log bigger than this is given
to the file-reading tools as a path (which stream it), not pasted; stdio has no such limit."""


def http_app(mcp: MCPServer, settings: Settings, transport: Transport, host: str, port: int) -> Any:
    """The ASGI app for an HTTP transport, with rebinding protection, a body limit and the optional bearer token."""
    security = transport_security(host, port)
    if transport == "sse":
        app: Any = mcp.sse_app(transport_security=security, host=host, max_request_body_size=MAX_REQUEST_BODY_BYTES)
    else:
        app = mcp.streamable_http_app(transport_security=security, host=host,
                                      max_request_body_size=MAX_REQUEST_BODY_BYTES)
    if settings.auth_token is not None:
        app = BearerTokenMiddleware(app, settings.auth_token.get_secret_value())
    return app


def run(settings: Settings, transport: Transport = "stdio", host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve until stdin closes (stdio) or the process is stopped (HTTP)."""
    mcp = build_server(settings)
    if transport == "stdio":
        mcp.run()
        return
    if not _is_loopback(host) and settings.auth_token is None:
        log.warning("serving on %s without --auth-token: anyone who can reach this port can call every tool", host)
    import uvicorn

    path = "/sse" if transport == "sse" else "/mcp"
    log.info("serving %s on http://%s:%s%s", transport, host, port, path)
    uvicorn.run(
        http_app(mcp, settings, transport, host, port),
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        log_config=None,  # keep our stderr handler; uvicorn's default config would add its own
    )
