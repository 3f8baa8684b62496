"""Tool: estimate_resources."""

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import Field

from ..app import App
from ..optimizers.estimate_models import MAX_NODES, EstimateRequest, ResourceEstimate
from ..optimizers.models import GpuChoice, Workload
from ..optimizers.target import hardware_arg
from ..optimizers.throughput import Operation
from . import READ_ONLY, DetailArg, tool
from .tuning import HardwareArg

__all__ = ["tools"]


def tools(app: App) -> list[Callable[..., Any]]:
    @tool(title="Estimate Spark resources", annotations=READ_ONLY)
    def estimate_resources(
        description: Annotated[
            str | None,
            Field(max_length=20_000, description="What the job does, in words; sizes and formats in it are used."),
        ] = None,
        data_size: Annotated[str | int | None, Field(description="Input size: bytes or '800MB', '1.5TB'.")] = None,
        operations: Annotated[
            list[Operation] | None, Field(description="Default: the usual ones of the workload class.")
        ] = None,
        deadline: Annotated[str | float | None, Field(description="Seconds, or '2h', '30m', '1h30m'.")] = None,
        hardware: HardwareArg = None,
        nodes: Annotated[int, Field(ge=1, le=MAX_NODES, description="Worker nodes of this hardware.")] = 1,
        gpu: Annotated[GpuChoice, Field(description="auto: RAPIDS when it pays.")] = GpuChoice.AUTO,
        workload: Annotated[Workload | None, Field(description="Default: read from the description.")] = None,
        detail: DetailArg = "summary",
    ) -> ResourceEstimate:
        """What a Spark job needs, from a description and/or a data size: workload class, executors, memory needed
        vs available, GPUs, a runtime range (calibrated from past runs when there are any), feasibility against the
        deadline, and GPU cost."""
        request = EstimateRequest(
            description=description, data_size=data_size, operations=operations, deadline=deadline,
            hardware=hardware_arg(hardware), nodes=nodes, gpu=gpu, workload=workload,
        )
        from ..optimizers.estimator import estimate  # loaded on first use, not at start-up

        result = estimate(request, app.settings, nvml=app.nvml)
        return result if detail == "full" else result.summary()

    return [estimate_resources]
