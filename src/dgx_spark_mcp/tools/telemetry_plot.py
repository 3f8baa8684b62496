"""Tool: plot_telemetry, a PNG chart of stored GPU telemetry returned as image content."""

from typing import Annotated

from mcp.server import MCPServer
from mcp.server.mcpserver.utilities.types import Image
from mcp.types import TextContent
from pydantic import Field

from ..app import App
from ..telemetry.plot import MAX_METRICS, MAX_POINTS, plot_telemetry as draw_plot
from . import READ_ONLY, agent_errors

__all__ = ["register"]


def register(mcp: MCPServer, app: App) -> None:
    @mcp.tool(title="Plot GPU telemetry", annotations=READ_ONLY)
    @agent_errors
    def plot_telemetry(
        metrics: Annotated[
            list[str],
            Field(
                description=f"Metrics to draw, one subplot each (at most {MAX_METRICS}): aliases such as gpu_util, "
                "power, fb_used, gpu_temp, sm_clock, or DCGM field names (DCGM_FI_DEV_GPU_UTIL)."
            ),
        ],
        uuids: Annotated[
            list[str] | None, Field(description="GPU uuids to draw; omit to choose by host/gpu_index.")
        ] = None,
        host: Annotated[str | None, Field(description="Draw the GPUs of this host.")] = None,
        gpu_index: Annotated[
            int | None, Field(ge=0, description="With host: only the GPU with this index on it.")
        ] = None,
        start: Annotated[
            str | None,
            Field(description="Window start: ISO 8601 (UTC when no zone is given) or relative, e.g. 'last 1h'."),
        ] = None,
        end: Annotated[str | None, Field(description="Window end: ISO 8601 or 'now'; omit for the last sample.")] = None,
        bucket: Annotated[
            str | None,
            Field(description=f"Averaging bucket, e.g. '10s', '5m'; omit for raw samples or at most {MAX_POINTS} points per line."),
        ] = None,
    ) -> list[TextContent | Image]:
        """A PNG chart of stored GPU telemetry (one subplot per metric, its unit on the y axis, one line per GPU
        named host:index, UTC time axis), with a text caption giving each line's min/mean/max. Choose GPUs by
        uuids, a host, or host and gpu_index (a chart holds a bounded number of GPUs: too many is an error
        that says how to narrow); omit all to draw every GPU in the window."""
        plot = draw_plot(
            app.settings,
            metrics,
            uuids=uuids,
            host=host,
            gpu_index=gpu_index,
            start=start,
            end=end,
            bucket=bucket,
        )
        return [TextContent(type="text", text=plot.caption()), Image(data=plot.png, format="png")]

