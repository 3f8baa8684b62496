"""Tool: sample_gpus, a short burst of NVML samples of this machine's GPUs into the telemetry store."""

from typing import Annotated

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.types import ToolAnnotations
from pydantic import Field

from ..app import App
from ..telemetry.sampler import MAX_DURATION_S, MIN_INTERVAL_S, SampleResult
from ..telemetry.sampler import sample_gpus as take_samples
from ..resources.telemetry import GPUS_URI
from . import agent_errors_async

__all__ = ["register"]

# It writes to the store, so not read-only; it only adds rows (a repeated call adds new ones, never
# overwrites), so not destructive either.
SAMPLES = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False)


def register(mcp: MCPServer, app: App) -> None:
    @mcp.tool(title="Sample GPUs", annotations=SAMPLES)
    @agent_errors_async
    async def sample_gpus(
        ctx: Context,
        duration_s: Annotated[
            float, Field(gt=0, le=MAX_DURATION_S, description="How long to sample, in seconds (at most 300).")
        ] = 10.0,
        interval_s: Annotated[
            float, Field(ge=MIN_INTERVAL_S, description="Seconds between samples (0.1 or more).")
        ] = 1.0,
    ) -> SampleResult:
        """Sample this machine's GPUs through NVML (utilisation, memory, temperature, power, clocks, energy,
        throttle reasons) every interval_s for duration_s, and store the samples in the telemetry store for
        later queries and plots (plot_telemetry). Readings a GPU does not support are stored as null and listed
        per GPU under 'unsupported'; with no GPU or NVML the result says so and stores nothing."""
        import functools

        import anyio.to_thread

        result = await anyio.to_thread.run_sync(
            functools.partial(take_samples, app.settings, duration_s, interval_s, nvml=app.nvml)
        )
        if result.stored:
            await ctx.notify_resource_updated(GPUS_URI)
        return result
