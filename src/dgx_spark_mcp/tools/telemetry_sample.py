"""Tool: sample_gpus, a short burst of NVML samples of this machine's GPUs into the telemetry store."""

from collections.abc import Callable
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.types import ToolAnnotations
from pydantic import Field

from ..app import App
from ..telemetry.sampler import MAX_DURATION_S, MIN_INTERVAL_S, SampleResult
from ..telemetry.sampler import sample_gpus as take_samples
from ..resources.telemetry import GPUS_URI
from . import tool

__all__ = ["tools"]

# It writes to the store, so not read-only; it only adds rows (a repeated call adds new ones, never
# overwrites), so not destructive either.
SAMPLES = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False)


def tools(app: App) -> list[Callable[..., Any]]:
    @tool(title="Sample GPUs", annotations=SAMPLES)
    async def sample_gpus(
        ctx: Context,
        duration_s: Annotated[float, Field(gt=0, le=MAX_DURATION_S, description="Seconds to sample (at most 300).")] = 10.0,
        interval_s: Annotated[float, Field(ge=MIN_INTERVAL_S, description="Seconds between samples.")] = 1.0,
    ) -> SampleResult:
        """Sample this machine's GPUs through NVML (utilisation, memory, temperature, power, clocks, throttle
        reasons) into the telemetry store; readings a GPU lacks are stored as null. No GPU: the answer says so."""
        import functools

        import anyio.to_thread

        result = await anyio.to_thread.run_sync(
            functools.partial(take_samples, app.settings, duration_s, interval_s, nvml=app.nvml)
        )
        if result.stored:
            await ctx.notify_resource_updated(GPUS_URI)
        return result

    return [sample_gpus]
