"""Typed inputs and outputs of the Spark configuration optimizer."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from ..hardware.profiles import Sourced

__all__ = [
    "ConfigChange",
    "ConfigEntry",
    "ConfiguredKey",
    "DeployMode",
    "ExecutorPlan",
    "GpuChoice",
    "OutputForm",
    "SizingConstants",
    "SparkConfig",
    "Workload",
]


class Workload(StrEnum):
    ETL = "etl"
    SQL_ANALYTICS = "sql-analytics"
    ML_TRAINING = "ml-training"
    ML_INFERENCE = "ml-inference"
    STREAMING = "streaming"
    GRAPH = "graph"


class DeployMode(StrEnum):
    LOCAL = "local"
    STANDALONE = "standalone"
    YARN = "yarn"
    KUBERNETES = "kubernetes"


class GpuChoice(StrEnum):
    AUTO = "auto"
    ON = "on"
    OFF = "off"


class SizingConstants(BaseModel):
    """``data/spark-sizing.json``: every constant with the document it comes from."""

    about: str
    references: dict[str, str]
    os_reserve_fraction: Sourced[float]
    os_reserve_min_gib: Sourced[float]
    os_reserve_cores: Sourced[int]
    cpu_executor_cores: Sourced[int]
    max_heap_gib: Sourced[float]
    cpu_max_heap_gib: Sourced[float]
    offheap_min_mib: Sourced[int]
    overhead_factor: Sourced[float]
    overhead_factor_non_jvm: Sourced[float]
    overhead_min_mib: Sourced[int]
    pyspark_memory_fraction: Sourced[float]
    target_partition_mib_cpu: Sourced[int]
    target_partition_mib_gpu: Sourced[int]
    min_partition_mib: Sourced[int]
    tasks_per_core: Sourced[int]
    advisory_partition_mib_cpu: Sourced[int]
    advisory_partition_mib_gpu: Sourced[int]
    gpu_executor_max_cores: Sourced[int]
    gpu_heap_per_core_mib: Sourced[int]
    gpu_mem_per_task_mib: Sourced[int]
    gpu_max_concurrent_tasks: Sourced[int]
    gpu_pinned_max_mib: Sourced[int]
    gpu_spill_mib: Sourced[int]
    unified_gpu_share: Sourced[float]
    broadcast_mib_max: Sourced[int]
    driver_memory_gib: Sourced[float]
    driver_memory_gib_large: Sourced[float]
    kryo_buffer_max_mib: Sourced[int]
    max_shuffle_partitions: Sourced[int]
    broadcast_heap_divisor: Sourced[int]
    broadcast_mib_min: Sourced[int]
    max_result_fraction: Sourced[float]
    speculation_multiplier: Sourced[float]
    speculation_quantile: Sourced[float]
    gpu_discovery_script: Sourced[str]
    rapids_explain: Sourced[str]
    multithreaded_read_min_threads: Sourced[int]
    rapids_shims: Sourced[list[str]]


class ConfigEntry(BaseModel):
    """One key as the builder decides it; the answer lists it as [value, reason, ref] under its key."""

    key: str
    value: str
    reason: str = Field(description="Why this value, in one line.")
    ref: str = Field(description="Id of the document behind it, in data/spark-sizing.json's references.")


ConfiguredKey = tuple[str, str, str]
"""[value, reason, reference id]: a row, not an object, so forty keys do not repeat three field names forty times."""


class ConfigChange(BaseModel):
    """One recommended change to a configuration: what it is now, what it should be, and why."""

    key: str
    current_value: str | None = Field(default=None, description="The value in use, when known (None: unset or unknown).")
    recommended_value: str | None = Field(description="The value to set; None means remove the key.")
    reason: str = Field(description="Why, in one line, with the measured figure that led to it when there is one.")
    reference: str | None = Field(default=None, description="The Spark or RAPIDS document behind it (left out "
                                  "where the enclosing finding names it, or where 'ref' points at it).")
    ref: str | None = Field(default=None, description="Id of the document behind it in the answer's references.")


class ExecutorPlan(BaseModel):
    """The memory model of one node, in MiB, and how the executors fill it."""

    node_cores: int
    node_memory_mib: int
    usable_cores: int = Field(description="Cores left after the OS/daemon reserve.")
    usable_memory_mib: int = Field(description="Memory left after the OS/daemon reserve (and the GPU's share on unified memory).")
    executors_per_node: int
    executors_total: int
    executor_cores: int
    heap_mib: int
    overhead_mib: int
    pyspark_mib: int
    offheap_mib: int
    container_mib: int = Field(description="heap + overhead + off-heap + PySpark memory: what the cluster manager reserves.")
    gpus_per_executor: int
    task_slots_total: int


OutputForm = Literal["conf", "submit", "k8s"]


class SparkConfig(BaseModel):
    """A complete, explained configuration for one job on one cluster shape: the key map once, one rendering."""

    workload: Workload
    data_size_bytes: int
    hardware: str = Field(description="What the sizing was done for (detected machine or profile).")
    nodes: int
    deploy_mode: DeployMode
    gpu_enabled: bool
    spark_version: str
    plan: ExecutorPlan
    config: dict[str, ConfiguredKey] = Field(
        description="key -> [value, reason in one line, id in 'references' of the document behind it], in file order.")
    references: dict[str, str] = Field(description="Reference id -> the document (URL or named source), each once.")
    changes: list[ConfigChange] = Field(
        default_factory=list, description="How the configuration differs from the current one given, key by key."
    )
    output: OutputForm = Field(description="The form 'rendered' is in.")
    rendered: str = Field(description="The configuration as spark-defaults.conf text (conf), spark-submit flags "
                          "(submit) or a spark-operator SparkApplication (k8s).")
    warnings: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    @property
    def conf(self) -> dict[str, str]:
        """key -> value."""
        return {key: value for key, (value, _, _) in self.config.items()}
