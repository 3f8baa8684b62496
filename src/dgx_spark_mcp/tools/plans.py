"""Tool: analyze_query_plan."""

from typing import Annotated, Any

from mcp.server import MCPServer
from pydantic import Field

from ..app import App
from ..diagnosis.plan_analysis import PlanAnalysis
from . import READ_ONLY, agent_errors

__all__ = ["register"]


def register(mcp: MCPServer, app: App) -> None:
    @mcp.tool(title="Analyze a Spark query plan", annotations=READ_ONLY)
    @agent_errors
    def analyze_query_plan(
        # Not just str: the SDK decodes a string argument that looks like JSON before validating it, so a pasted
        # sparkPlanInfo tree arrives as an object; the parser reads the object as it would the text.
        plan: Annotated[
            Annotated[str, Field(max_length=32 * 1024**2)] | dict[str, Any] | list[Any] | None,
            Field(
                description="A Spark plan: EXPLAIN output in any mode (simple, extended, formatted, codegen, cost; "
                "RAPIDS/Photon/Comet/Gluten plans too) or a sparkPlanInfo JSON tree (as text or as an object). Give "
                "this, path or sql.",
            ),
        ] = None,
        path: Annotated[
            str | None,
            Field(description="A file under the allowed roots holding such a plan (plain, .gz or .zstd). With 'plan' "
                  "given, only the name quoted as the plan's source."),
        ] = None,
        sql: Annotated[
            str | None,
            Field(
                max_length=200_000,
                description="One SELECT/WITH query; Spark EXPLAINs it (never runs it) over empty tables built from "
                "'schema', so the plan is Spark's own.",
            ),
        ] = None,
        schema: Annotated[
            str | None,
            Field(
                max_length=200_000,
                description="With sql: CREATE TABLE/VIEW statements (';'-separated) for the tables the query reads, "
                "e.g. 'CREATE TABLE sales (id INT, day DATE) USING parquet PARTITIONED BY (day)'.",
            ),
        ] = None,
        connect_url: Annotated[
            str | None,
            Field(description="With sql: a Spark Connect URL (sc://host:15002) to EXPLAIN on that cluster's tables "
                  "instead of a local session (default: the server's spark_master setting when it is an sc:// URL and "
                  "no schema is given)."),
        ] = None,
    ) -> PlanAnalysis:
        """Read a Spark physical plan (EXPLAIN text in any mode, a sparkPlanInfo JSON tree, a file, or SQL that the
        server EXPLAINs through local PySpark over empty tables from your DDL) and return: a summary at a glance
        (joins by type and build side, shuffle and broadcast exchanges with partition counts, scans with format,
        table, pushed and partition filters, optimizer size/row estimates when shown, accelerated or not, AQE final
        or initial plan); findings with category (cartesian_product, broadcast_nested_loop_join, python_udf,
        no_pushed_filters, full_partition_scan, single_partition_exchange, sort_aggregate, object_hash_aggregate,
        skewed_join, many_exchanges, cpu_fallback), the node (id and text), why it hurts and the fix with config
        changes; and the operator tree (bounded). No findings of severity warning or above means a healthy plan."""
        from ..diagnosis.plan_analysis import analyze_query_plan as analyze  # the parser loads on first use

        return analyze(plan, app.settings, path=path, sql=sql, schema=schema, connect_url=connect_url)
