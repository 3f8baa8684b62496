"""Named hardware profiles (``data/hardware-profiles.json``): DGX Spark, DGX H100/H200/A100/B200, ...

A profile lets an agent plan for a machine it is not running on.  Every number in the file
carries its public source (:class:`Sourced`), and the registry test checks that it does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, Field, field_validator

from ..errors import BadInputError
from ..knowledge import load_knowledge
from .models import GpuInfo, GpuMemory, GpuStack, HardwareSnapshot, HostInfo

__all__ = ["HardwareProfile", "Sourced", "get_profile", "list_profiles", "profile_snapshot"]

T = TypeVar("T")


class Sourced(BaseModel, Generic[T]):
    """A number (or fact) and where it was published."""

    value: T
    source: str = Field(min_length=8, description="Where the value was published.")


class CpuSpec(BaseModel):
    model: str
    architecture: Literal["x86_64", "aarch64"]
    sockets: Sourced[int]
    cores: Sourced[int]
    threads: Sourced[int]


class MemorySpec(BaseModel):
    ram_gib: Sourced[float]
    os_visible_gib: Sourced[float] | None = Field(
        default=None, description="What the OS reports as MemTotal, when it differs visibly from the RAM fitted."
    )
    unified_with_gpu: bool


class GpuSpec(BaseModel):
    model: str = Field(description="The name NVML reports for this GPU.")
    count: Sourced[int]
    memory_per_gpu_gib: Sourced[float]
    memory_kind: Literal["hbm2", "hbm2e", "hbm3", "hbm3e", "gddr6", "lpddr5x-unified"]
    memory_bandwidth_gb_s: Sourced[float]
    compute_capability: Sourced[str]
    mig: Sourced[bool]
    interconnect: Sourced[str]
    power_w: Sourced[float] | None = None


class HardwareProfile(BaseModel):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str
    description: str
    cpu: CpuSpec
    memory: MemorySpec
    gpu: GpuSpec | None
    network: Sourced[str]
    storage: Sourced[str]

    @property
    def usable_memory_gib(self) -> float:
        visible = self.memory.os_visible_gib
        return visible.value if visible is not None else self.memory.ram_gib.value


class _ProfileFile(BaseModel):
    about: str
    profiles: list[HardwareProfile]

    @field_validator("profiles")
    @classmethod
    def _unique_names(cls, profiles: list[HardwareProfile]) -> list[HardwareProfile]:
        names = [p.name for p in profiles]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate profile names: {duplicates}")
        return profiles


@cache
def list_profiles() -> tuple[HardwareProfile, ...]:
    """Every named profile, in file order."""
    return tuple(load_knowledge("hardware-profiles.json", _ProfileFile).profiles)


def get_profile(name: str) -> HardwareProfile:
    """The profile called ``name`` (case-insensitive); a clear error naming the choices otherwise."""
    wanted = name.strip().lower()
    for profile in list_profiles():
        if profile.name == wanted:
            return profile
    choices = ", ".join(p.name for p in list_profiles())
    raise BadInputError(
        f"unknown hardware profile {name!r}; expected one of: {choices}. "
        "Call list_hardware_profiles for their specs, or omit the profile to detect this machine."
    )


def profile_snapshot(profile: HardwareProfile) -> HardwareSnapshot:
    """A snapshot of a named machine: its specs, with no live readings."""
    memory_gib = profile.usable_memory_gib
    host = HostInfo(
        hostname=f"profile:{profile.name}",
        os="Linux (profile)",
        architecture=profile.cpu.architecture,
        cpu_model=profile.cpu.model,
        cpu_physical_cores=profile.cpu.cores.value,
        cpu_logical_cores=profile.cpu.threads.value,
        memory_total_gib=memory_gib,
        effective_cpu_cores=float(profile.cpu.threads.value),
        effective_memory_gib=memory_gib,
    )
    warnings = [
        f"values from the named profile {profile.name!r} ({profile.title}), not read from a live machine; "
        "each number's source is in list_hardware_profiles"
    ]
    gpus: list[GpuInfo] = []
    spec = profile.gpu
    if spec is not None:
        unified = spec.memory_kind == "lpddr5x-unified"
        for index in range(spec.count.value):
            gpus.append(
                GpuInfo(
                    index=index,
                    name=spec.model,
                    compute_capability=spec.compute_capability.value,
                    memory=GpuMemory(
                        kind="unified" if unified else "dedicated",
                        total_gib=memory_gib if unified else spec.memory_per_gpu_gib.value,
                        shared_with_cpu=unified,
                    ),
                )
            )
        if unified:
            warnings.append(
                f"{spec.model} shares {memory_gib:g} GiB of system memory between CPU and GPU: "
                "size Spark executors and GPU work from the same budget"
            )
    return HardwareSnapshot(
        source="profile",
        profile=profile.name,
        captured_at=datetime.now(UTC),
        gpu_stack=GpuStack(available=spec is not None, reason=None if spec else "this profile has no GPU"),
        gpus=gpus,
        host=host,
        warnings=warnings,
    )
