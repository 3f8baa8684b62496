"""Resources: spark://best-practices and spark://rules/{rule_id}."""

from mcp.server import MCPServer
from pydantic import BaseModel, Field

from ..app import App
from ..optimizers.check_models import Category, Severity
from . import as_json, resource_errors

__all__ = ["RuleSummary", "RuleIndex", "register"]


class RuleSummary(BaseModel):
    id: str
    aliases: list[str]
    title: str
    category: Category
    severity: Severity
    needs_hardware: bool
    best_practice: str
    keys: list[str] = Field(description="The keys the rule's fix changes.")
    uri: str = Field(description="The resource with the rule in full.")


class RuleIndex(BaseModel):
    rules: list[RuleSummary]


def register(mcp: MCPServer, app: App) -> None:
    @mcp.resource("spark://best-practices", name="spark_best_practices", mime_type="application/json")
    @resource_errors
    def best_practices() -> str:
        """Every Spark/RAPIDS best-practice rule check_spark_config applies, compact: id, title, category, severity,
        the better practice and the keys it changes."""
        from ..optimizers.rules import list_rules  # the registry loads on first read, not at start-up

        return as_json(RuleIndex(rules=[
            RuleSummary(id=r.id, aliases=r.aliases, title=r.title, category=r.category, severity=r.severity,
                        needs_hardware=r.needs_hardware, best_practice=r.best_practice, keys=r.fix.keys,
                        uri=f"spark://rules/{r.id}")
            for r in list_rules()
        ]))

    @mcp.resource("spark://rules/{rule_id}", name="spark_rule", mime_type="application/json")
    @resource_errors
    def spark_rule(rule_id: str) -> str:
        """One best-practice rule in full: rationale, anti-pattern, best practice, fix, references, thresholds with
        units and sources, and its pass/fail example configurations."""
        from ..optimizers.rules import get_rule

        return as_json(get_rule(rule_id))
