"""Tool: optimize_spark_config."""

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import Field

from ..app import App
from ..optimizers.models import DeployMode, GpuChoice, OutputForm, SparkConfig, Workload
from ..optimizers.target import hardware_arg
from . import READ_ONLY, tool

__all__ = ["HardwareArg", "tools"]

HardwareArg = Annotated[
    str | dict[str, Any] | None,
    Field(description="Omit for this machine; a profile name, or a node spec {cpu_cores, memory_gib, gpu_count, "
          "gpu_model, gpu_memory_gib, unified_memory}."),
]
"""A plain object in the schema, checked as a node spec in the call: the spec's own schema would cost an agent
some 250 tokens in every tool that takes hardware."""


def tools(app: App) -> list[Callable[..., Any]]:
    @tool(title="Optimize a Spark configuration", annotations=READ_ONLY)
    def optimize_spark_config(
        data_size: Annotated[str | int, Field(description="Input size: bytes or '800MB', '500GiB', '1.5TB'.")],
        workload: Annotated[Workload, Field(description="Kind of job.")] = Workload.ETL,
        hardware: HardwareArg = None,
        nodes: Annotated[int, Field(ge=1, le=10000, description="Worker nodes of this hardware.")] = 1,
        deploy_mode: Annotated[DeployMode, Field(description="Cluster manager, or local.")] = DeployMode.STANDALONE,
        gpu: Annotated[GpuChoice, Field(description="auto: RAPIDS when the hardware has GPUs.")] = GpuChoice.AUTO,
        spark_version: Annotated[str | None, Field(description="Default: the installed PySpark's.")] = None,
        current_config: Annotated[
            dict[str, str] | None, Field(description="key -> value to start from; unmanaged keys are kept.")
        ] = None,
        output: Annotated[
            OutputForm, Field(description="Form of 'rendered': spark-defaults.conf, spark-submit, or k8s manifest.")
        ] = "conf",
    ) -> SparkConfig:
        """A complete Spark configuration for a job on given hardware (executors sized to the node, partitions from
        the data size, AQE, and on GPUs the RAPIDS Accelerator block): each key with its value and reason, changes
        from current_config, warnings, and the configuration rendered in the asked form."""
        from ..optimizers.config import TuneRequest, optimize  # the sizing machinery loads on first use

        request = TuneRequest(
            workload=workload, data_size=data_size, hardware=hardware_arg(hardware), nodes=nodes,
            deploy_mode=deploy_mode, gpu=gpu, spark_version=spark_version, current_config=current_config,
        )
        return optimize(request, nvml=app.nvml, output=output)

    return [optimize_spark_config]
