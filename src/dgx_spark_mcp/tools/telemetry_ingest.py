"""Tool: ingest_telemetry."""

import functools
from typing import Annotated

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.types import ToolAnnotations
from pydantic import Field

from ..app import App
from ..resources.telemetry import GPUS_URI
from . import agent_errors_async

__all__ = ["register"]

# It writes to the telemetry store, so not read-only; re-ingesting a source stores nothing new
# (idempotent); a URL reaches out to a dcgm-exporter (open world).
WRITES_ONCE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=True)


def register(mcp: MCPServer, app: App) -> None:
    from ..telemetry.ingest import IngestResult

    @mcp.tool(title="Ingest GPU telemetry (DCGM CSV, Prometheus)", annotations=WRITES_ONCE)
    @agent_errors_async
    async def ingest_telemetry(
        ctx: Context,
        path: Annotated[
            str | None,
            Field(description="A telemetry file under the allowed roots: DCGM long CSV (timestamp,metric_name,...,"
                  "value,labels_raw), wide CSV (one row per GPU per timestamp: gpu_utilization, power_draw, ...) or a "
                  "saved dcgm-exporter /metrics page; plain, .gz or .zst. Omit when giving url."),
        ] = None,
        url: Annotated[
            str | None,
            Field(description="http(s) URL of a dcgm-exporter /metrics endpoint to scrape once, e.g. "
                  "http://127.0.0.1:9400/metrics. Loopback always; other hosts only when listed in "
                  "DGX_SPARK_MCP_SCRAPE_HOSTS. Omit when giving path."),
        ] = None,
    ) -> IngestResult:
        """Load GPU telemetry into this server's telemetry store so it can be queried later: a DCGM CSV export (long
        format with labels_raw, or wide format with one row per GPU per timestamp; columns found by header name,
        timestamps with Z or naive UTC), a saved dcgm-exporter Prometheus page, or one live scrape of a dcgm-exporter
        /metrics URL. The format is detected. Samples are keyed by (timestamp, GPU uuid, metric) and stored once:
        ingesting the same or an overlapping file again stores only what is new (duplicates are counted). Rows without
        a GPU uuid or with an unparsable timestamp or value are skipped and counted by reason in 'rejected'; DCGM blank
        sentinels (unsupported fields) are stored as null and counted in 'blanks', never as numbers. Values keep
        DCGM's units (%, MiB, W, MHz, C). Returns rows read/stored, GPUs, hosts, metrics, the time range and the batch
        written. Large files (millions of rows) take seconds; progress is reported."""
        import anyio
        import anyio.from_thread
        import anyio.to_thread

        from ..errors import BadInputError
        from ..telemetry.ingest import ingest

        if (path is None) == (url is None):
            raise BadInputError("give exactly one of path (a telemetry file under the allowed roots) or url "
                                "(a dcgm-exporter /metrics endpoint)")
        source = path if path is not None else url

        def progress(done: float, total: float | None, message: str) -> None:
            # Called from the worker thread: hop back to the event loop to notify the client.
            try:
                anyio.from_thread.run(ctx.report_progress, done, total, message)
            except Exception:  # a client gone away must not fail the ingest itself
                pass

        result = await anyio.to_thread.run_sync(
            functools.partial(ingest, source or "", app.settings, progress=progress)
        )
        if result.rows_stored:
            await ctx.notify_resource_updated(GPUS_URI)
        return result
