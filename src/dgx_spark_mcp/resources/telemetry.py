"""Resource: telemetry://gpus, the GPUs of the telemetry store (the list_gpus tool's summary, every GPU at once)."""

from mcp.server import MCPServer

from ..app import App
from ..tools.answers import compact, compact_json
from . import resource_errors

__all__ = ["GPUS_URI", "register"]

GPUS_URI = "telemetry://gpus"
"""Updated (resources/subscribe, subscriptions/listen) whenever an ingest or a sample stores rows."""


def register(mcp: MCPServer, app: App) -> None:
    @mcp.resource(GPUS_URI, name="telemetry_gpus", mime_type="application/json")
    @resource_errors
    def telemetry_gpus() -> str:
        """Every GPU with stored telemetry: identity, last sample, sample count and latest key values (DuckDB)."""
        from ..telemetry.inventory import list_gpus

        # A resource has no cursor: every GPU, in the compact summary form (as the tool writes it).
        return compact_json(compact(list_gpus(app.settings, limit=None)))
