"""Which GPUs could take a job right now, and why the others could not."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from ..errors import BadInputError
from .models import GpuInfo, HardwareSnapshot

__all__ = ["Availability", "GpuAvailability", "check_availability"]


class GpuAvailability(BaseModel):
    index: int
    uuid: str | None
    name: str | None
    status: Literal["free", "busy", "unknown"] = Field(
        description="free: meets every threshold; busy: fails one; unknown: a needed reading is missing."
    )
    free_memory_gib: float | None
    utilization_gpu_pct: int | None
    process_count: int | None
    reasons: list[str] = Field(description="Why the GPU is busy or unknown; empty when free.")
    notes: list[str] = Field(default_factory=list, description="Facts worth knowing that do not block it.")


class Availability(BaseModel):
    gpu_stack_available: bool
    reason: str | None = Field(default=None, description="Why no GPU can be checked, when none can.")
    min_free_memory_gib: float
    max_utilization_pct: float
    gpus: list[GpuAvailability]
    free_gpus: list[int] = Field(description="Indices of the free GPUs.")
    cuda_visible_devices: str = Field(
        description="Value for CUDA_VISIBLE_DEVICES that selects the free GPUs (by UUID when known); '' if none."
    )
    summary: str


def _judge(gpu: GpuInfo, min_free_gib: float, max_util: float) -> GpuAvailability:
    busy: list[str] = []
    unknown: list[str] = []
    notes: list[str] = []
    free = None if gpu.memory is None else gpu.memory.free_gib
    if free is None:
        unknown.append("free memory is not reported for this GPU")
    elif free < min_free_gib:
        busy.append(f"only {free:.1f} GiB free, below the {min_free_gib:g} GiB asked for")
    if gpu.memory is not None and gpu.memory.shared_with_cpu and free is not None:
        notes.append(f"free memory is the host's available RAM ({free:.1f} GiB), shared with CPU work")
    util = gpu.utilization_gpu_pct
    if util is None:
        unknown.append("utilisation is not reported for this GPU")
    elif util > max_util:
        busy.append(f"utilisation {util}% is above the {max_util:g}% allowed")
    if gpu.mig_enabled:
        busy.append(
            f"MIG is enabled ({len(gpu.mig_devices)} instances): schedule on a MIG instance UUID, not the whole GPU"
        )
    procs = gpu.processes
    if procs:
        notes.append(f"{len(procs)} compute process(es) running: " + ", ".join(
            f"pid {p.pid}" + (f" ({p.name})" if p.name else "") for p in procs[:5]
        ))
    status: Literal["free", "busy", "unknown"] = "busy" if busy else ("unknown" if unknown else "free")
    return GpuAvailability(
        index=gpu.index,
        uuid=gpu.uuid,
        name=gpu.name,
        status=status,
        free_memory_gib=free,
        utilization_gpu_pct=util,
        process_count=None if procs is None else len(procs),
        reasons=busy + unknown,
        notes=notes,
    )


def check_availability(
    snapshot: HardwareSnapshot, min_free_memory_gib: float = 1.0, max_utilization_pct: float = 10.0
) -> Availability:
    """Judge each GPU of a live snapshot against the two thresholds."""
    if min_free_memory_gib < 0:
        raise BadInputError(
            f"min_free_memory_gib={min_free_memory_gib} is negative; give the GiB a job needs, e.g. 8"
        )
    if not 0 <= max_utilization_pct <= 100:
        raise BadInputError(
            f"max_utilization_pct={max_utilization_pct} is outside 0-100; give a percentage, e.g. 10"
        )
    judged = [_judge(g, min_free_memory_gib, max_utilization_pct) for g in snapshot.gpus]
    free = [g for g in judged if g.status == "free"]
    if not snapshot.gpu_stack.available:
        summary = f"No GPU can be checked: {snapshot.gpu_stack.reason}."
    elif not judged:
        summary = "NVML reports no GPU on this machine."
    else:
        summary = f"{len(free)} of {len(judged)} GPU(s) free (>= {min_free_memory_gib:g} GiB free, <= {max_utilization_pct:g}% busy)."
    return Availability(
        gpu_stack_available=snapshot.gpu_stack.available,
        reason=snapshot.gpu_stack.reason,
        min_free_memory_gib=min_free_memory_gib,
        max_utilization_pct=max_utilization_pct,
        gpus=judged,
        free_gpus=[g.index for g in free],
        cuda_visible_devices=",".join(g.uuid or str(g.index) for g in free),
        summary=summary,
    )
