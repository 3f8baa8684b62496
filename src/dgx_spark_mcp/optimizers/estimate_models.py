"""The estimate's request and result models (``estimate_resources`` / ``dgx-spark-mcp estimate``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from .models import GpuChoice, Workload
from .target import HardwareSpec
from .throughput import Intensity, Operation, OperationTime
from .workload import Confidence, WorkloadClassification

__all__ = [
    "MAX_NODES",
    "CostEstimate",
    "EstimateRequest",
    "Feasibility",
    "PastRunUse",
    "ResourceEstimate",
    "Resources",
    "RuntimeEstimate",
    "UsedConstant",
]

MAX_NODES = 1000
"""The largest cluster an estimate (and its deadline search) considers."""


class EstimateRequest(BaseModel):
    """What to estimate; the tool's arguments (described there) and the CLI's flags."""

    description: str | None = Field(default=None, max_length=20_000)
    data_size: str | int | float | None = None
    operations: list[Operation] | None = None
    deadline: str | int | float | None = None
    hardware: str | HardwareSpec | None = None
    nodes: int = Field(default=1, ge=1, le=MAX_NODES)
    gpu: GpuChoice = GpuChoice.AUTO
    workload: Workload | None = None


class Resources(BaseModel):
    executors: int = Field(description="Executors in the whole cluster.")
    executor_cores: int
    executor_memory_mib: int = Field(description="Container per executor: heap + overhead (+ PySpark memory).")
    heap_mib: int
    cores_total: int = Field(description="Executor cores (task slots) in the cluster.")
    gpus_total: int = Field(description="GPUs used (one per executor), 0 on CPUs.")
    memory_needed_gib: float | None = Field(description="Working set of the largest stage; None without a data size.")
    memory_needed_by: str | None = Field(
        default=None, description="What set the working set: the operation with the largest memory factor, or the partitions in flight."
    )
    memory_available_gib: float = Field(
        description="Spark execution+storage memory of all executors ((heap − 300 MiB) × 0.6), plus the GPUs' RMM pools when RAPIDS is used."
    )
    gpu_memory_gib: float | None = Field(default=None, description="The RMM pools of all GPUs (part of the above).")


class PastRunUse(BaseModel):
    run_id: str
    app_id: str
    app_name: str | None
    hardware: str | None
    input_bytes: int
    duration_s: float
    parallel_units: int = Field(description="Task slots of a CPU run, GPUs of a GPU run.")
    scaled_s: float = Field(description="Its duration scaled to this job: d × (S / I) × (P_run / P_this).")


class RuntimeEstimate(BaseModel):
    low_s: float = Field(ge=0)
    high_s: float = Field(ge=0)
    confidence: Confidence
    method: str = Field(description="'throughput model', 'calibrated from N similar past runs: ...' or 'trivial'.")
    formula: str
    past_runs: list[PastRunUse] = Field(default_factory=list, description="The runs the calibration used.")
    terms: list[OperationTime] = Field(default_factory=list, description="The throughput model's terms on CPUs (seconds on this cluster).")


class Feasibility(BaseModel):
    verdict: Literal["fits", "at-risk", "does-not-fit", "unknown"]
    memory: Literal["in-memory", "spills", "unknown"]
    spill_gib: float | None = Field(default=None, description="Working set beyond the memory available.")
    nodes_for_memory: int | None = Field(default=None, description="Nodes of this kind that hold the working set in memory.")
    deadline_s: float | None = None
    meets_deadline: Literal["yes", "at-risk", "no"] | None = Field(
        default=None, description="'yes': even the slow end is in time; 'no': even the fast end is late."
    )
    nodes_for_deadline: int | None = Field(default=None, description="Fewest nodes whose slow end meets the deadline.")
    reasons: list[str]


class CostEstimate(BaseModel):
    low_usd: float = Field(ge=0)
    high_usd: float = Field(ge=0)
    gpu_hours_low: float = Field(ge=0)
    gpu_hours_high: float = Field(ge=0)
    formula: str


class UsedConstant(BaseModel):
    name: str
    value: float | str | list[str]
    unit: str
    source: str


class ResourceEstimate(BaseModel):
    workload: WorkloadClassification
    data_size_bytes: int | None
    data_size_from: str | None = Field(description="'argument', or the text of the description it was read from.")
    operations: list[Operation]
    input_format: str
    intensity: Intensity
    hardware: str
    nodes: int
    gpu_enabled: bool
    resources: Resources
    runtime: RuntimeEstimate | None = Field(description="None without a data size.")
    feasibility: Feasibility
    cost: CostEstimate | None = Field(description="None when no sourced price applies; see notes.")
    constants: list[UsedConstant] = Field(
        default_factory=list, description="With detail='full': every constant this estimate used, with its source.")
    warnings: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    more: str | None = Field(default=None, description="What the summary left out, and how to get it.")

    def summary(self) -> ResourceEstimate:
        """The estimate without the throughput model's terms, the classifier's scores and the constants' sources."""
        runtime = self.runtime.model_copy(update={"terms": []}) if self.runtime else None
        workload = self.workload.model_copy(update={"scores": {}})
        return self.model_copy(update={
            "runtime": runtime, "workload": workload, "constants": [],
            "more": "detail='full' adds the runtime model's terms per operation, every class's keyword score and "
                    f"the {len(self.constants)} constants used, each with its source",
        })


