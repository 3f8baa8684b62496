"""Resources: hardware://snapshot and hardware://profiles/{name}."""

from mcp.server import MCPServer

from ..app import App
from . import as_json, resource_errors

__all__ = ["register"]


def register(mcp: MCPServer, app: App) -> None:
    @mcp.resource("hardware://snapshot", name="hardware_snapshot", mime_type="application/json")
    @resource_errors
    def hardware_snapshot() -> str:
        """This machine's hardware snapshot (the detect_hardware tool's, in full)."""
        from ..hardware import snapshot_for  # psutil and the models load on first read, not at start-up

        return as_json(snapshot_for(None, nvml=app.nvml))

    @mcp.resource("hardware://profiles/{name}", name="hardware_profile", mime_type="application/json")
    @resource_errors
    def hardware_profile(name: str) -> str:
        """One named hardware profile with the public source of every number."""
        from ..hardware import get_profile

        return as_json(get_profile(name))
