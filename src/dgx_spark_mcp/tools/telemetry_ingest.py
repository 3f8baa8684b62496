"""Tool: ingest_telemetry."""

import functools
from collections.abc import Callable
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.types import ToolAnnotations
from pydantic import Field

from ..app import App
from ..resources.telemetry import GPUS_URI
from . import tool

__all__ = ["tools"]

# It writes to the telemetry store, so not read-only; re-ingesting a source stores nothing new
# (idempotent); a URL reaches out to a dcgm-exporter (open world).
WRITES_ONCE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=True)


def tools(app: App) -> list[Callable[..., Any]]:
    from ..telemetry.ingest_summary import IngestSummary

    @tool(title="Ingest GPU telemetry (DCGM CSV, Prometheus)", annotations=WRITES_ONCE)
    async def ingest_telemetry(
        ctx: Context,
        path: Annotated[
            str | None,
            Field(description="DCGM CSV (long or wide) or saved dcgm-exporter text under the allowed roots; plain, "
                  ".gz or .zst."),
        ] = None,
        url: Annotated[
            str | None,
            Field(description="dcgm-exporter /metrics URL to scrape once (loopback or DGX_SPARK_MCP_SCRAPE_HOSTS)."),
        ] = None,
    ) -> IngestSummary:
        """Store GPU telemetry from a file or one scrape (path or url; format detected) for query_telemetry and
        telemetry_report. Each (time, GPU, metric) is stored once, so re-ingesting is safe; skipped rows are counted
        by reason."""
        import anyio
        import anyio.from_thread
        import anyio.to_thread

        from ..errors import BadInputError
        from ..telemetry.ingest import ingest
        from ..telemetry.ingest_summary import summarize_ingest

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
        return summarize_ingest(result)

    return [ingest_telemetry]
