"""Resource: diagnosis://categories."""

from mcp.server import MCPServer

from ..app import App
from . import as_json, resource_errors

__all__ = ["register"]


def register(mcp: MCPServer, app: App) -> None:
    @mcp.resource("diagnosis://categories", name="diagnosis_categories", mime_type="application/json")
    @resource_errors
    def diagnosis_categories() -> str:
        """The stable vocabulary of diagnosis findings (diagnose_log, analyze_event_log, analyze_query_plan): every
        category with its group (spark, airflow, plan) and meaning."""
        from ..diagnosis.findings.signatures import categories  # the vocabulary loads on first read

        return as_json(categories())
