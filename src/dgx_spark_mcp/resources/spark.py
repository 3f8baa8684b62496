"""Resources: spark://best-practices and spark://rules/{rule_id}."""

from mcp.server import MCPServer

from ..app import App
from . import as_json, resource_errors

__all__ = ["register"]


def register(mcp: MCPServer, app: App) -> None:
    @mcp.resource("spark://best-practices", name="spark_best_practices", mime_type="application/json")
    @resource_errors
    def best_practices() -> str:
        """Every Spark/RAPIDS best-practice rule check_spark_config applies, compact: id, title, category, severity,
        the better practice and the keys it changes."""
        from ..optimizers.rules import rule_index  # the registry loads on first read, not at start-up

        return as_json(rule_index())

    @mcp.resource("spark://rules/{rule_id}", name="spark_rule", mime_type="application/json")
    @resource_errors
    def spark_rule(rule_id: str) -> str:
        """One best-practice rule in full: rationale, anti-pattern, best practice, fix, references, thresholds with
        units and sources, and its pass/fail example configurations."""
        from ..optimizers.rules import get_rule

        return as_json(get_rule(rule_id))
