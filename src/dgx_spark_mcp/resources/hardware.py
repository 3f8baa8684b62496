"""Resources: hardware://snapshot and hardware://profiles/{name}."""

from mcp.server import MCPServer

from ..app import App
from ..hardware import get_profile, snapshot_for
from . import as_json, resource_errors

__all__ = ["register"]


def register(mcp: MCPServer, app: App) -> None:
    @mcp.resource("hardware://snapshot", name="hardware_snapshot", mime_type="application/json")
    @resource_errors
    def hardware_snapshot() -> str:
        """This machine's hardware snapshot (same as the detect_hardware tool without a profile)."""
        return as_json(snapshot_for(None, nvml=app.nvml))

    @mcp.resource("hardware://profiles/{name}", name="hardware_profile", mime_type="application/json")
    @resource_errors
    def hardware_profile(name: str) -> str:
        """One named hardware profile with the public source of every number."""
        return as_json(get_profile(name))
