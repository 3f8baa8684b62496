"""The machine a configuration or estimate is for: this one, a named profile, or a spec.

Every Spark tool that sizes something takes the same ``hardware`` argument and resolves
it here, so "dgx-h100" or ``{"cpu_cores": 64, "memory_gib": 512, "gpu_count": 4, ...}``
mean the same thing to the optimizer, the estimator and the checker.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from ..errors import BadInputError
from ..hardware.models import GpuInfo, GpuMemory, GpuStack, HardwareSnapshot, HostInfo
from ..hardware.profiles import list_profiles
from ..hardware.snapshot import snapshot_for
from .sizing import GpuNode

__all__ = ["HardwareSpec", "Target", "hardware_arg", "resolve_target"]


class HardwareSpec(BaseModel):
    """One worker node described by hand, for a machine that is neither this one nor a profile."""

    cpu_cores: int = Field(ge=1, le=4096, description="Cores (hardware threads) per node.")
    memory_gib: float = Field(gt=0, le=65536, description="RAM per node in GiB.")
    gpu_count: int = Field(default=0, ge=0, le=64, description="GPUs per node.")
    gpu_model: str | None = Field(default=None, description="GPU model as NVML names it, e.g. 'NVIDIA H100 80GB HBM3'.")
    gpu_memory_gib: float | None = Field(
        default=None, gt=0, le=4096, description="Memory per GPU in GiB; looked up from the profiles by model when omitted."
    )
    unified_memory: bool = Field(default=False, description="GPU and CPU share the RAM (GB10-style).")


@dataclass(frozen=True)
class Target:
    snapshot: HardwareSnapshot
    label: str
    gpus: GpuNode | None
    """None when the node has no usable GPU."""
    warnings: tuple[str, ...] = ()


def _known_gpu_memory_gib(model: str) -> float | None:
    wanted = model.strip().lower()
    for profile in list_profiles():
        if profile.gpu is not None and profile.gpu.model.lower() == wanted:
            return profile.gpu.memory_per_gpu_gib.value
    return None


def _spec_snapshot(spec: HardwareSpec) -> tuple[HardwareSnapshot, list[str]]:
    warnings: list[str] = []
    host = HostInfo(
        hostname="spec",
        os="Linux (spec)",
        architecture="unknown",
        cpu_logical_cores=spec.cpu_cores,
        memory_total_gib=spec.memory_gib,
        effective_cpu_cores=float(spec.cpu_cores),
        effective_memory_gib=spec.memory_gib,
    )
    memory = spec.gpu_memory_gib
    if spec.gpu_count and memory is None and spec.unified_memory:
        memory = spec.memory_gib
    if spec.gpu_count and memory is None and spec.gpu_model:
        memory = _known_gpu_memory_gib(spec.gpu_model)
    if spec.gpu_count and memory is None:
        warnings.append(
            f"GPU model {spec.gpu_model or '(not given)'!r} is not one this server knows and no gpu_memory_gib was "
            "given: GPU memory is unknown, so GPU concurrency is set to its safe minimum; pass gpu_memory_gib"
        )
    gpus = [
        GpuInfo(
            index=i,
            name=spec.gpu_model,
            memory=GpuMemory(
                kind="unified" if spec.unified_memory else "dedicated",
                total_gib=memory,
                shared_with_cpu=spec.unified_memory,
            ),
        )
        for i in range(spec.gpu_count)
    ]
    snapshot = HardwareSnapshot(
        source="profile",
        profile="spec",
        captured_at=datetime.now(UTC),
        gpu_stack=GpuStack(available=bool(gpus), reason=None if gpus else "spec has no GPUs"),
        gpus=gpus,
        host=host,
        warnings=["values from the hardware spec given in the request, not read from a live machine"],
    )
    return snapshot, warnings


def _gpu_node(snapshot: HardwareSnapshot) -> tuple[GpuNode | None, list[str]]:
    gpus = [g for g in snapshot.gpus if not g.mig_enabled]
    skipped = len(snapshot.gpus) - len(gpus)
    warnings = (
        [f"{skipped} GPU(s) are in MIG mode and are left out: RAPIDS runs one executor per whole GPU or MIG slice"]
        if skipped
        else []
    )
    if not gpus:
        return None, warnings
    memories = [g.memory.total_gib for g in gpus if g.memory and g.memory.total_gib]
    unified = any(g.memory is not None and g.memory.kind == "unified" for g in gpus)
    names = sorted({g.name or "unknown GPU" for g in gpus})
    if len(names) > 1:
        warnings.append(f"mixed GPU models {names}: sizing follows the smallest GPU memory")
    memory_mib = int(min(memories) * 1024) if len(memories) == len(gpus) else 0
    return GpuNode(count=len(gpus), memory_mib=memory_mib, unified=unified, name=names[0]), warnings


def _spec_from(raw: Any) -> HardwareSpec:
    """A node spec from a caller's dict; a BadInputError naming each wrong field otherwise."""
    try:
        return HardwareSpec.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'hardware'}: {e['msg']}" for e in exc.errors(include_url=False)
        )
        raise BadInputError(
            f"hardware {_short(raw)} is not a node spec ({problems}); give a profile name (see "
            "list_hardware_profiles), 'this', or {cpu_cores, memory_gib[, gpu_count, gpu_model, gpu_memory_gib, "
            "unified_memory]}"
        ) from None


def hardware_arg(raw: str | HardwareSpec | dict[str, Any] | None) -> str | HardwareSpec | None:
    """A tool's ``hardware`` argument as the optimizers take it: a dict becomes a checked node spec."""
    return _spec_from(raw) if isinstance(raw, dict) else raw


def _short(raw: Any) -> str:
    text = repr(raw)
    return text if len(text) <= 120 else text[:117] + "..."


def resolve_target(hardware: str | HardwareSpec | dict[str, Any] | None, nvml: Any | None = None) -> Target:
    """``None``: this machine; a string: a profile name; a spec (or its dict): that node."""
    warnings: list[str] = []
    if hardware is None or (isinstance(hardware, str) and hardware.strip().lower() in ("", "this", "local", "detect")):
        snapshot = snapshot_for(None, nvml=nvml)
        label = f"this machine ({snapshot.host.hostname})"
    elif isinstance(hardware, str):
        snapshot = snapshot_for(hardware, nvml=nvml)
        label = f"profile {snapshot.profile}"
    else:
        spec = hardware if isinstance(hardware, HardwareSpec) else _spec_from(hardware)
        snapshot, warnings = _spec_snapshot(spec)
        label = f"spec ({spec.cpu_cores} cores, {spec.memory_gib:g} GiB, {spec.gpu_count} GPU)"
    gpus, gpu_warnings = _gpu_node(snapshot)
    return Target(snapshot=snapshot, label=label, gpus=gpus, warnings=tuple(warnings + gpu_warnings))
