"""Tool: estimate_resources."""

from typing import Annotated

from mcp.server import MCPServer
from pydantic import Field

from ..app import App
from ..optimizers.estimate_models import MAX_NODES, EstimateRequest, ResourceEstimate
from ..optimizers.models import GpuChoice, Workload
from ..optimizers.target import HardwareSpec
from ..optimizers.throughput import Operation
from . import READ_ONLY, agent_errors
from .tuning import HARDWARE_ARG

__all__ = ["register"]


def register(mcp: MCPServer, app: App) -> None:
    @mcp.tool(title="Estimate Spark resources", annotations=READ_ONLY)
    @agent_errors
    def estimate_resources(
        description: Annotated[
            str | None,
            Field(
                max_length=20_000,
                description="What the job does, in words (e.g. 'nightly ETL: 2 TB of JSON logs, dedupe, join with "
                "customers, write Parquet'). Decides the workload class; sizes and formats written in it are used.",
            ),
        ] = None,
        data_size: Annotated[
            str | int | None, Field(description="Input size: bytes, or a string such as '800MB', '500GiB', '1.5TB'.")
        ] = None,
        operations: Annotated[
            list[Operation] | None,
            Field(description="What the job does to the data; default: the usual operations of its workload class."),
        ] = None,
        deadline: Annotated[
            str | float | None, Field(description="When it must finish: seconds, or '2h', '30m', '1h30m'.")
        ] = None,
        hardware: Annotated[str | HardwareSpec | None, HARDWARE_ARG] = None,
        nodes: Annotated[int, Field(ge=1, le=MAX_NODES, description="Worker nodes of this hardware.")] = 1,
        gpu: Annotated[
            GpuChoice,
            Field(description="'auto': RAPIDS when the hardware has GPUs and the job would gain; 'on' requires them; 'off'."),
        ] = GpuChoice.AUTO,
        workload: Annotated[
            Workload | None, Field(description="The workload class, when known; otherwise read from the description.")
        ] = None,
    ) -> ResourceEstimate:
        """Estimate what a Spark job needs from a description and/or data size: workload class (with the words
        that decided it), compute/I-O/shuffle intensity, executors, cores, memory needed vs available, GPUs, a
        runtime range with its confidence and method, feasibility on the hardware (memory spill, deadline, nodes
        that would meet it) and cost when GPU prices apply. Runtimes come from similar past runs recorded from
        event logs when there are any, otherwise from a throughput model whose every constant is listed with its
        source. Give at least a description or a data size."""
        request = EstimateRequest(
            description=description, data_size=data_size, operations=operations, deadline=deadline,
            hardware=hardware, nodes=nodes, gpu=gpu, workload=workload,
        )
        from ..optimizers.estimator import estimate  # loaded on first use, not at start-up

        return estimate(request, app.settings, nvml=app.nvml)
