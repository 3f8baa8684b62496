"""The throughput model of a Spark job: seconds per operation from data volume and task slots.

Every rate is data (``data/throughput.json``) with its source; most are engineering
assumptions and say so.  For input size S (MB), C task slots and N nodes:

    operation  t_op = S × volume_fraction_op / (rate_op × C)          rate of scan: the input format's
    shuffle    t_sh = Σ S × shuffle_fraction_op / (shuffle_rate × C)
    network    t_net = Σ S × shuffle_fraction_op × (N − 1) / (N² × network_per_node)

(each node sends (N − 1)/N of its 1/N share of the shuffle through its own link).  On GPUs
each operation's time is divided by its RAPIDS speedup range; shuffle and network are not.
Everything is linear in S, so a zero input gives zero work, never NaN.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import StrEnum
from functools import cache
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from ..hardware.profiles import Sourced, get_profile
from ..knowledge import load_knowledge
from .models import Workload
from .target import Target
from .workload import find_terms

__all__ = [
    "Intensity",
    "Operation",
    "OperationTime",
    "SpeedupRange",
    "ThroughputConstants",
    "detect_format",
    "intensity",
    "network_mb_s",
    "operation_times",
    "throughput",
    "work_seconds",
    "working_set",
]

MB = 1_000_000


class Operation(StrEnum):
    SCAN = "scan"
    FILTER = "filter"
    JOIN = "join"
    AGGREGATE = "aggregate"
    SORT = "sort"
    WINDOW = "window"
    UDF_PYTHON = "udf-python"
    ML_TRAIN = "ml-train"
    ML_INFER = "ml-infer"
    WRITE = "write"


class SpeedupRange(BaseModel):
    low: float = Field(ge=1.0)
    high: float = Field(ge=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> SpeedupRange:
        if self.high < self.low:
            raise ValueError(f"speedup high {self.high} is below low {self.low}")
        return self


class FormatRates(BaseModel):
    words: list[str] = Field(min_length=1, description="Words in a description that name this format.")
    cpu_mb_s_per_core: Sourced[float]
    gpu_speedup: Sourced[SpeedupRange]


class OperationRates(BaseModel):
    about: str
    cpu_mb_s_per_core: Sourced[float] | None = Field(description="None for scan: the input format decides.")
    gpu_speedup: Sourced[SpeedupRange] | None = Field(description="None for scan: the input format decides.")
    volume_fraction: Sourced[float]
    shuffle_fraction: Sourced[float]
    memory_factor: Sourced[float]
    kind: Literal["io", "compute"]

    @model_validator(mode="after")
    def _positive(self) -> OperationRates:
        if self.cpu_mb_s_per_core is not None and self.cpu_mb_s_per_core.value <= 0:
            raise ValueError("cpu_mb_s_per_core must be positive")
        for name in ("volume_fraction", "shuffle_fraction", "memory_factor"):
            if getattr(self, name).value < 0:
                raise ValueError(f"{name} must not be negative")
        return self


class ThroughputConstants(BaseModel):
    """``data/throughput.json``."""

    about: str
    references: dict[str, str]
    formats: dict[str, FormatRates]
    default_format: Sourced[str]
    operations: dict[Operation, OperationRates]
    default_operations: dict[Workload, Sourced[list[Operation]]]
    shuffle_mb_s_per_core: Sourced[float]
    network_mb_s_per_node_default: Sourced[float]
    startup_s: Sourced[float]
    model_low_factor: Sourced[float]
    model_high_factor: Sourced[float]
    spill_slowdown: Sourced[float]
    calibration_margin: Sourced[float]
    similar_input_ratio_max: Sourced[float]
    gpu_not_applicable_below: Sourced[float]
    memory_fraction: Sourced[float]
    reserved_heap_mib: Sourced[int]
    rmm_pool_fraction: Sourced[float]

    @model_validator(mode="after")
    def _complete(self) -> ThroughputConstants:
        missing = [op for op in Operation if op not in self.operations]
        if missing:
            raise ValueError(f"operations {missing} have no rates")
        for op, rates in self.operations.items():
            if (rates.cpu_mb_s_per_core is None or rates.gpu_speedup is None) != (op is Operation.SCAN):
                raise ValueError(f"only scan takes its rate from the input format; {op} must have its own")
        if self.default_format.value not in self.formats:
            raise ValueError(f"default_format {self.default_format.value!r} is not one of the formats")
        return self


@cache
def throughput() -> ThroughputConstants:
    return load_knowledge("throughput.json", ThroughputConstants)


def detect_format(description: str | None) -> tuple[str, list[str]]:
    """The input format for the scan rate, and the format words seen.

    Several formats in one description ('JSON logs ... write Parquet') cannot be told apart as
    input or output here, so the slowest one mentioned is used: the conservative choice.
    """
    t = throughput()
    seen = [name for name, rates in t.formats.items() if description and find_terms(description, rates.words)]
    if not seen:
        return t.default_format.value, []
    return min(seen, key=lambda name: t.formats[name].cpu_mb_s_per_core.value), seen


_GBPS = re.compile(r"(\d+(?:\.\d+)?)\s*Gb/s", re.IGNORECASE)


def network_mb_s(target: Target) -> tuple[float, str]:
    """Shuffle bandwidth of one node (MB/s) and where it came from.

    For a profile, the fastest single link its network spec names (one port: Spark shuffles
    over one interface); otherwise the Spark docs' 10 Gb/s recommendation.
    """
    profile = target.snapshot.profile
    if target.snapshot.source == "profile" and profile and profile != "spec":
        speeds = [float(m.group(1)) for m in _GBPS.finditer(get_profile(profile).network.value)]
        if speeds:
            return max(speeds) * 1000 / 8, f"profile {profile}: fastest link {max(speeds):g} Gb/s"
    default = throughput().network_mb_s_per_node_default
    return default.value, default.source


class OperationTime(BaseModel):
    """One term of the throughput model."""

    operation: str = Field(description="'scan (parquet)', 'join', ..., 'shuffle' or 'network'.")
    kind: Literal["io", "compute", "shuffle", "network"]
    megabytes: float = Field(ge=0, description="MB this term moves or processes.")
    rate_mb_s: float = Field(gt=0, description="Per task slot (per node for 'network').")
    cpu_seconds: float = Field(ge=0, description="Wall seconds on the CPU task slots.")
    gpu_speedup_low: float = Field(ge=1, description="1 where the GPU does not help.")
    gpu_speedup_high: float = Field(ge=1)


def operation_times(
    size_bytes: int, operations: Sequence[Operation], fmt: str, slots: int, nodes: int, net_mb_s: float
) -> list[OperationTime]:
    """The model's terms for this job on ``slots`` task slots over ``nodes`` nodes."""
    t = throughput()
    size_mb = size_bytes / MB
    slots, nodes = max(1, slots), max(1, nodes)
    terms: list[OperationTime] = []
    shuffle_mb = 0.0
    for op in operations:
        rates = t.operations[op]
        if op is Operation.SCAN:
            name, rate, speedup = f"scan ({fmt})", t.formats[fmt].cpu_mb_s_per_core.value, t.formats[fmt].gpu_speedup.value
        else:
            assert rates.cpu_mb_s_per_core is not None and rates.gpu_speedup is not None  # checked at load
            name, rate, speedup = str(op), rates.cpu_mb_s_per_core.value, rates.gpu_speedup.value
        mb = size_mb * rates.volume_fraction.value
        terms.append(OperationTime(operation=name, kind=rates.kind, megabytes=mb, rate_mb_s=rate,
                                   cpu_seconds=mb / (rate * slots), gpu_speedup_low=speedup.low,
                                   gpu_speedup_high=speedup.high))
        shuffle_mb += size_mb * rates.shuffle_fraction.value
    if shuffle_mb > 0:
        rate = t.shuffle_mb_s_per_core.value
        terms.append(OperationTime(operation="shuffle", kind="shuffle", megabytes=shuffle_mb, rate_mb_s=rate,
                                   cpu_seconds=shuffle_mb / (rate * slots), gpu_speedup_low=1, gpu_speedup_high=1))
    if shuffle_mb > 0 and nodes > 1:
        crossing = shuffle_mb * (nodes - 1) / nodes
        terms.append(OperationTime(operation="network", kind="network", megabytes=crossing, rate_mb_s=net_mb_s,
                                   cpu_seconds=crossing / (nodes * net_mb_s), gpu_speedup_low=1, gpu_speedup_high=1))
    return terms


def work_seconds(terms: Sequence[OperationTime], gpu: bool) -> tuple[float, float]:
    """(fastest, slowest) work seconds: equal on CPUs; on GPUs the speedup range divides each term."""
    if not gpu:
        total = sum(term.cpu_seconds for term in terms)
        return total, total
    return (
        sum(term.cpu_seconds / term.gpu_speedup_high for term in terms),
        sum(term.cpu_seconds / term.gpu_speedup_low for term in terms),
    )


class Intensity(BaseModel):
    """Where the time goes in the CPU throughput model (start-up excluded)."""

    label: Literal["io-bound", "compute-bound", "shuffle-bound"]
    io_share: float = Field(ge=0, le=1, description="Reading and writing files.")
    compute_share: float = Field(ge=0, le=1, description="Operators: filters, joins, aggregations, UDFs, ML.")
    shuffle_share: float = Field(ge=0, le=1, description="Shuffle write/fetch and the network between nodes.")


_BOUND: dict[str, Literal["io-bound", "compute-bound", "shuffle-bound"]] = {
    "io": "io-bound", "compute": "compute-bound", "shuffle": "shuffle-bound"
}


def intensity(terms: Sequence[OperationTime]) -> Intensity:
    """Shares of the model's time; the model is linear in size, so any positive size gives the same shares."""
    parts = {"io": 0.0, "compute": 0.0, "shuffle": 0.0}
    for term in terms:
        parts["shuffle" if term.kind == "network" else term.kind] += term.cpu_seconds
    total = sum(parts.values()) or 1.0
    shares = {k: round(v / total, 3) for k, v in parts.items()}
    label = _BOUND[max(("io", "compute", "shuffle"), key=lambda k: parts[k])]
    return Intensity(label=label, io_share=shares["io"], compute_share=shares["compute"], shuffle_share=shares["shuffle"])


def working_set(size_bytes: int, operations: Sequence[Operation]) -> tuple[int, Operation | None]:
    """Bytes the largest stage holds at once: input × the largest memory factor among the operations.

    Stages run one after another, so the biggest one decides, not their sum.
    """
    t = throughput()
    best = max(operations, key=lambda op: t.operations[op].memory_factor.value, default=None)
    if best is None or t.operations[best].memory_factor.value == 0:
        return 0, None
    return int(size_bytes * t.operations[best].memory_factor.value), best
