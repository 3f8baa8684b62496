"""Tool: analyze_query_plan."""

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import Field

from ..app import App
from ..diagnosis.plans.analysis import PlanAnalysis
from . import READ_ONLY, DetailArg, tool

__all__ = ["tools"]


def tools(app: App) -> list[Callable[..., Any]]:
    @tool(title="Analyze a Spark query plan", annotations=READ_ONLY)
    def analyze_query_plan(
        # Not just str: the SDK decodes a string argument that looks like JSON before validating it, so a pasted
        # sparkPlanInfo tree arrives as an object; the parser reads the object as it would the text.  Sizes are
        # checked by the analysis (its message says what to give), not in the schema every agent reads.
        plan: Annotated[
            str | dict[str, Any] | list[Any] | None,
            Field(description="EXPLAIN text or sparkPlanInfo JSON; or path or sql."),
        ] = None,
        path: Annotated[str | None, Field(description="A plan file.")] = None,
        sql: Annotated[str | None, Field(description="A SELECT to EXPLAIN (never run).")] = None,
        schema: Annotated[str | None, Field(description="With sql: its CREATE TABLEs.")] = None,
        connect_url: Annotated[str | None, Field(description="With sql: EXPLAIN on this sc:// server.")] = None,
        detail: DetailArg = "summary",
        cursor: Annotated[str | None, Field(description="From next_cursor.")] = None,
    ) -> PlanAnalysis:
        """Analyze a Spark physical plan (RAPIDS, Photon, Comet, Gluten too): joins, exchanges, scans, AQE; findings
        with node, why and fix. detail='full' adds the operator tree."""
        from ..diagnosis.plans.analysis import (
            analyze_query_plan as analyze,  # the parser loads on first use
        )

        return analyze(plan, app.settings, path=path, sql=sql, schema=schema, connect_url=connect_url, detail=detail,
                       cursor=cursor)

    return [analyze_query_plan]
