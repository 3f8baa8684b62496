"""Tools: list_gpus, list_hosts, query_telemetry, telemetry_report (over the telemetry store)."""

from typing import Annotated, Literal

from mcp.server import MCPServer
from pydantic import Field

from ..app import App
from . import READ_ONLY, agent_errors

__all__ = ["register"]

EngineArg = Annotated[
    Literal["duckdb", "spark"] | None,
    Field(description="Where the query runs: 'duckdb' (in-process, fast) or 'spark' (PySpark; for very large stores). "
          "Default: the server's telemetry_engine setting (duckdb unless configured)."),
]
MasterArg = Annotated[
    str | None,
    Field(description="With engine='spark': a master URL (local[*] default, spark://host:7077) or Spark Connect "
          "sc://host:15002. Default: the server's spark_master setting."),
]
StartArg = Annotated[
    str | None,
    Field(description="Window start, inclusive: ISO 8601 (2025-06-01T12:00:00Z; no zone = UTC) or relative to now: 'last 1h', 'last 30m', 'last 7d'."),
]
EndArg = Annotated[str | None, Field(description="Window end, exclusive: ISO 8601 or 'now' (default: no end, or now with a relative start).")]


def register(mcp: MCPServer, app: App) -> None:
    from ..telemetry.queries import GpuList, HostList, TelemetrySeries
    from ..telemetry.report import REPORT_ARGUMENT_MAX, TelemetryReport

    def where(engine: str | None, spark_master: str | None) -> dict[str, str | None]:
        """The engine a call runs on: its arguments, else the server's settings."""
        return {"engine": engine or app.settings.telemetry_engine, "spark_master": spark_master or app.settings.spark_master}

    @mcp.tool(title="List GPUs with telemetry", annotations=READ_ONLY)
    @agent_errors
    def list_gpus(
        host: Annotated[str | None, Field(description="Only the GPUs of this host.")] = None,
        engine: EngineArg = None,
        spark_master: MasterArg = None,
    ) -> GpuList:
        """List the GPUs in the telemetry store: uuid, host, index, model, driver, first/last sample time (UTC), sample
        count, and the latest value of every metric with its unit. Start here to find a GPU's uuid or the time span to
        query."""
        from ..telemetry.queries import list_gpus as run

        return run(app.settings, host=host, **where(engine, spark_master))

    @mcp.tool(title="List hosts with telemetry", annotations=READ_ONLY)
    @agent_errors
    def list_hosts(engine: EngineArg = None, spark_master: MasterArg = None) -> HostList:
        """List the hosts in the telemetry store with their GPU count, GPU models and first/last sample time (UTC)."""
        from ..telemetry.queries import list_hosts as run

        return run(app.settings, **where(engine, spark_master))

    @mcp.tool(title="Query GPU telemetry", annotations=READ_ONLY)
    @agent_errors
    def query_telemetry(
        uuid: Annotated[str | None, Field(description="The GPU's uuid (see list_gpus). Or give host and gpu_index.")] = None,
        host: Annotated[str | None, Field(description="Host name: with gpu_index one GPU, alone all its GPUs.")] = None,
        gpu_index: Annotated[int | None, Field(ge=0, description="GPU index on the host (needs host).")] = None,
        metrics: Annotated[
            list[str] | None,
            Field(description="DCGM field names (DCGM_FI_DEV_GPU_UTIL) or aliases (gpu_util, fb_used, fb_free, power, "
                  "gpu_temp, sm_clock, xid, throttle_reasons, ...). Default: every stored metric."),
        ] = None,
        start: StartArg = None,
        end: EndArg = None,
        bucket: Annotated[str | None, Field(description="Aggregate into time buckets: 10s, 1m, 5m, 1h, 1d. Default: raw samples.")] = None,
        aggregates: Annotated[
            list[Literal["avg", "min", "max", "p95"]] | None,
            Field(description="With bucket: which aggregates per bucket (default avg); p95 interpolates linearly."),
        ] = None,
        limit: Annotated[int, Field(ge=1, le=10000, description="Most points per page.")] = 1000,
        cursor: Annotated[str | None, Field(description="next_cursor of the previous page, with the same other arguments.")] = None,
        engine: EngineArg = None,
        spark_master: MasterArg = None,
    ) -> TelemetrySeries:
        """Read GPU telemetry samples, or time-bucketed aggregates (avg/min/max/p95 with sample counts), for one GPU
        (uuid, or host + gpu_index), a host, or all GPUs, over a time window, ordered by time. Times are UTC ISO strings;
        the window actually used is returned (relative windows like 'last 1h' count from now). Pages: when truncated,
        call again with cursor=next_cursor. Errors say which GPUs or metrics exist."""
        from ..telemetry.queries import query_telemetry as run

        return run(app.settings, uuid=uuid, host=host, gpu_index=gpu_index, metrics=metrics, start=start, end=end,
                   bucket=bucket, aggregates=list(aggregates) if aggregates else None, limit=limit, cursor=cursor,
                   **where(engine, spark_master))

    @mcp.tool(title="GPU usage and cost report", annotations=READ_ONLY)
    @agent_errors
    def telemetry_report(
        start: StartArg = None,
        end: EndArg = None,
        group_by: Annotated[
            Literal["gpu", "host", "model", "pod", "namespace"], Field(description="One row per GPU, host, model, pod or namespace.")
        ] = "gpu",
        idle_util_pct: Annotated[float | None, Field(ge=0, le=100, description="A GPU under this utilisation most of the window is idle (default 5).")] = None,
        hot_margin_c: Annotated[float | None, Field(ge=0, le=REPORT_ARGUMENT_MAX["hot_margin_c"], description="Hot: max temperature within this many C of the slowdown temperature (default 5).")] = None,
        gpu_hour_usd: Annotated[float | None, Field(ge=0, le=REPORT_ARGUMENT_MAX["gpu_hour_usd"], description="Price of one effective GPU-hour (default 2.50).")] = None,
        memory_included_gb: Annotated[float | None, Field(ge=0, le=REPORT_ARGUMENT_MAX["memory_included_gb"], description="GPU memory included in the price, GB (default 16).")] = None,
        memory_overage_usd_per_gb_hour: Annotated[float | None, Field(ge=0, le=REPORT_ARGUMENT_MAX["memory_overage_usd_per_gb_hour"], description="Price per GB-hour above the included memory (default 0.10).")] = None,
        overhead_fraction: Annotated[float | None, Field(ge=0, le=REPORT_ARGUMENT_MAX["overhead_fraction"], description="Cluster overhead added to the cost (default 0.05).")] = None,
        engine: EngineArg = None,
        spark_master: MasterArg = None,
    ) -> TelemetryReport:
        """Report GPU usage and cost from the telemetry store over a window, per GPU/host/model/pod/namespace, with
        totals: utilisation mean and p95, GPU-hours (observed time, collection gaps left out), energy kWh, mean memory
        used, idle GPUs, hot GPUs (near the slowdown temperature), clock-throttling share, memory pressure, XID error
        codes, and cost (effective GPU-hours x price + memory overage + overhead, in cents; prices overridable). The
        method and anything missing (e.g. no power samples) are stated in the result."""
        from ..telemetry.report import telemetry_report as run

        return run(app.settings, start=start, end=end, group_by=group_by, idle_util_pct=idle_util_pct,
                   hot_margin_c=hot_margin_c, gpu_hour_usd=gpu_hour_usd, memory_included_gb=memory_included_gb,
                   memory_overage_usd_per_gb_hour=memory_overage_usd_per_gb_hour, overhead_fraction=overhead_fraction,
                   **where(engine, spark_master))
