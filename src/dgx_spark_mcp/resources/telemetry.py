"""Resource: telemetry://gpus, the GPUs of the telemetry store (same as the list_gpus tool)."""

from mcp.server import MCPServer

from ..app import App
from . import as_json, resource_errors

__all__ = ["GPUS_URI", "register"]

GPUS_URI = "telemetry://gpus"
"""Updated (resources/subscribe, subscriptions/listen) whenever an ingest or a sample stores rows."""


def register(mcp: MCPServer, app: App) -> None:
    @mcp.resource(GPUS_URI, name="telemetry_gpus", mime_type="application/json")
    @resource_errors
    def telemetry_gpus() -> str:
        """Every GPU with stored telemetry: identity, time span, sample count and latest values (DuckDB)."""
        from ..telemetry.queries import list_gpus

        return as_json(list_gpus(app.settings))
