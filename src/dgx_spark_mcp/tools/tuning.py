"""Tool: optimize_spark_config."""

from typing import Annotated

from mcp.server import MCPServer
from pydantic import Field

from ..app import App
from ..optimizers.models import DeployMode, GpuChoice, SparkConfig, Workload
from ..optimizers.target import HardwareSpec
from . import READ_ONLY, agent_errors

__all__ = ["HARDWARE_ARG", "register"]

HARDWARE_ARG = Field(
    description="Omit for this machine; a profile name (e.g. 'dgx-spark', 'dgx-h100'; see list_hardware_profiles); "
    "or a per-node spec {cpu_cores, memory_gib, gpu_count, gpu_model, gpu_memory_gib, unified_memory}."
)


def register(mcp: MCPServer, app: App) -> None:
    @mcp.tool(title="Optimize a Spark configuration", annotations=READ_ONLY)
    @agent_errors
    def optimize_spark_config(
        data_size: Annotated[
            str | int, Field(description="Input data size: bytes, or a string such as '800MB', '500GiB', '1.5TB'.")
        ],
        workload: Annotated[Workload, Field(description="Kind of job.")] = Workload.ETL,
        hardware: Annotated[str | HardwareSpec | None, HARDWARE_ARG] = None,
        nodes: Annotated[int, Field(ge=1, le=10000, description="Worker nodes of this hardware.")] = 1,
        deploy_mode: Annotated[DeployMode, Field(description="Cluster manager, or 'local' for one JVM.")] = (
            DeployMode.STANDALONE
        ),
        gpu: Annotated[
            GpuChoice, Field(description="'auto': RAPIDS when the hardware has GPUs; 'on' requires them; 'off'.")
        ] = GpuChoice.AUTO,
        spark_version: Annotated[
            str | None, Field(description="Target Spark version, e.g. '3.5.1'; default: the installed PySpark's.")
        ] = None,
        current_config: Annotated[
            dict[str, str] | None,
            Field(description="An existing key -> value configuration to start from; unmanaged keys are kept."),
        ] = None,
    ) -> SparkConfig:
        """A complete Spark configuration for a job on given hardware: executor and driver sizing from one memory
        model per node (heap + overhead + PySpark memory fit the node), shuffle partitions and split sizes from the
        data size, AQE, Kryo, broadcast threshold, dynamic allocation as the deploy mode needs, and on GPUs the full
        RAPIDS Accelerator block. Every key has a reason and a documentation reference; also returned as
        spark-defaults.conf text, spark-submit flags and (kubernetes) a SparkApplication manifest, with warnings where
        the request does not fit the hardware."""
        # Imported here: the sizing machinery is not needed to answer 'initialize'.
        from ..optimizers.config import TuneRequest, optimize

        request = TuneRequest(
            workload=workload,
            data_size=data_size,
            hardware=hardware,
            nodes=nodes,
            deploy_mode=deploy_mode,
            gpu=gpu,
            spark_version=spark_version,
            current_config=current_config,
        )
        return optimize(request, nvml=app.nvml)
