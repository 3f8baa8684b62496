"""Tools: list_gpus (GPUs or hosts), query_telemetry (statistics, points, chart), telemetry_report (over the store).

Where a query runs is the server's business: ``engine`` may be chosen per call, the Spark master
is the ``DGX_SPARK_MCP_SPARK_MASTER`` setting (an agent has no way to know a cluster's URL).
"""

import base64
from collections.abc import Callable
from typing import Annotated, Any, Literal

from mcp.types import ImageContent
from pydantic import Field

from ..app import App
from . import READ_ONLY, DetailArg, tool
from .answers import answer

__all__ = ["tools"]

EngineArg = Annotated[Literal["duckdb", "spark"] | None, Field(description="Default: server setting.")]
StartArg = Annotated[str | None, Field(description="ISO 8601 (UTC if no zone) or 'last 1h'.")]
EndArg = Annotated[str | None, Field(description="ISO 8601 or 'now', exclusive.")]
CursorArg = Annotated[str | None, Field(description="next_cursor of the last page.")]


def tools(app: App) -> list[Callable[..., Any]]:
    from ..telemetry.inventory import GpuList
    from ..telemetry.queries import TelemetrySeries
    from ..telemetry.report import TelemetryReport

    def where(engine: str | None) -> dict[str, str | None]:
        return {"engine": engine or app.settings.telemetry_engine, "spark_master": app.settings.spark_master}

    @tool(title="List GPUs or hosts with telemetry", annotations=READ_ONLY)
    def list_gpus(
        by: Annotated[Literal["gpu", "host"], Field(description="A row per GPU or per host.")] = "gpu",
        host: Annotated[str | None, Field(description="Only this host.")] = None,
        detail: DetailArg = "summary",
        limit: Annotated[int, Field(ge=1, le=1000, description="Rows per page.")] = 20,
        cursor: CursorArg = None,
        engine: EngineArg = None,
    ) -> GpuList:
        """What the telemetry store holds, paged: GPUs (uuid, host, index, model, last seen, samples, latest
        utilisation, memory, temperature, power; full: every metric) or hosts (GPUs, models, time span)."""
        from ..telemetry.inventory import list_gpus as run

        return run(app.settings, by=by, host=host, detail=detail, limit=limit, cursor=cursor, **where(engine))

    @tool(title="Query GPU telemetry", annotations=READ_ONLY)
    def query_telemetry(
        gpus: Annotated[str | None, Field(description="A uuid, host:index, or a host (its GPUs); default all.")] = None,
        metrics: Annotated[
            list[str], Field(description="gpu_util, fb_used, power, gpu_temp, ... or DCGM names; default all.")
        ] = [],  # noqa: B006 - pydantic copies defaults; an empty list keeps the schema free of null
        start: StartArg = None,
        end: EndArg = None,
        bucket: Annotated[str | None, Field(description="Full: buckets (10s, 1m, 1h), not raw samples.")] = None,
        aggregates: Annotated[list[Literal["avg", "min", "max", "p95"]], Field(description="Per bucket; default avg.")] = [],  # noqa: B006
        detail: DetailArg = "summary",
        chart: Annotated[bool, Field(description="Add a PNG chart of the page's GPUs.")] = False,
        limit: Annotated[int | None, Field(ge=1, le=10000, description="Per page: GPUs (summary) or points (full).")] = None,
        cursor: CursorArg = None,
        engine: EngineArg = None,
    ) -> TelemetrySeries:
        """GPU telemetry over a window (default: all stored). Summary: per GPU and metric the samples, min, avg, max,
        p95. Full: the points, raw or bucketed, paged."""
        from ..telemetry.queries import query_telemetry as run

        result = run(app.settings, gpus=gpus, metrics=list(metrics) or None, start=start, end=end, bucket=bucket,
                     aggregates=list(aggregates) or None, detail=detail, chart=chart, limit=limit, cursor=cursor,
                     **where(engine))
        if result.png is None:
            return result
        image = ImageContent(type="image", data=base64.b64encode(result.png).decode(), mime_type="image/png")
        return answer(result, extra=[image])  # type: ignore[return-value]  # validated against TelemetrySeries

    @tool(title="GPU usage and cost report", annotations=READ_ONLY)
    def telemetry_report(
        start: StartArg = None,
        end: EndArg = None,
        group_by: Annotated[Literal["gpu", "host", "model", "pod", "namespace"], Field(description="One row per ...")] = "gpu",
        detail: DetailArg = "summary",
        limit: Annotated[int, Field(ge=1, le=1000, description="Full: rows per page.")] = 25,
        cursor: CursorArg = None,
        overrides: Annotated[
            dict[str, float],
            Field(description="Prices (gpu_hour_usd, memory_included_gb, memory_overage_usd_per_gb_hour, "
                  "overhead_fraction) or thresholds (idle_util_pct, hot_margin_c)."),
        ] = {},  # noqa: B006 - pydantic copies defaults
        engine: EngineArg = None,
    ) -> TelemetryReport:
        """GPU usage and cost over a window (default: all stored): totals (GPU-hours, energy, cost, mean
        utilisation), flagged GPUs (idle, hot, throttled, XID, memory pressure), the costliest rows. Full: every row,
        paged, with the method."""
        from ..telemetry.report import override_arguments
        from ..telemetry.report import telemetry_report as run

        return run(app.settings, start=start, end=end, group_by=group_by, detail=detail, limit=limit, cursor=cursor,
                   **override_arguments(overrides), **where(engine))

    return [list_gpus, query_telemetry, telemetry_report]
