"""Tools: detect_hardware, list_hardware_profiles, check_gpu_availability."""

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel, Field

from ..app import App
from ..hardware import Availability, HardwareProfile, HardwareSnapshot, check_availability, list_profiles, snapshot_for
from ..hardware.summary import ProfileBrief, brief, summarize_snapshot
from . import READ_ONLY, Detail, DetailArg, tool

__all__ = ["ProfileList", "profile_list", "tools"]


class ProfileList(BaseModel):
    profiles: list[ProfileBrief] = Field(default_factory=list, description="Each named machine in brief (summary).")
    specs: list[HardwareProfile] = Field(
        default_factory=list, description="With detail='full': every spec, each number with its public 'source'.")


def profile_list(detail: Detail) -> ProfileList:
    if detail == "full":
        return ProfileList(specs=list(list_profiles()))
    return ProfileList(profiles=[brief(p) for p in list_profiles()])


def tools(app: App) -> list[Callable[..., Any]]:
    @tool(title="Detect hardware", annotations=READ_ONLY)
    def detect_hardware(
        profile: Annotated[
            str | None, Field(description="A named profile (list_hardware_profiles) to plan for; omit for this machine.")
        ] = None,
        detail: DetailArg = "summary",
    ) -> HardwareSnapshot:
        """This machine's GPUs (NVML) and host (CPU, RAM, cgroup limits, disks), or a named profile's specs. A field
        a GPU does not support is absent and listed under 'unavailable' with the reason, never zero; with no NVIDIA
        driver the result says so and still describes the host."""
        snapshot = snapshot_for(profile, nvml=app.nvml)
        return snapshot if detail == "full" else summarize_snapshot(snapshot)

    @tool(title="List hardware profiles", annotations=READ_ONLY)
    def list_hardware_profiles(detail: DetailArg = "summary") -> ProfileList:
        """The named machines (DGX Spark GB10, DGX H100/H200, DGX A100, DGX B200, a generic CPU server) with CPU,
        memory and GPU specs; detail='full' gives every spec with its public source."""
        return profile_list(detail)

    @tool(title="Check GPU availability", annotations=READ_ONLY)
    def check_gpu_availability(
        min_free_memory_gib: Annotated[float, Field(ge=0, description="GiB of free GPU memory a job needs.")] = 1.0,
        max_utilization_pct: Annotated[float, Field(ge=0, le=100, description="Busiest still counted as free.")] = 10.0,
    ) -> Availability:
        """Which of this machine's GPUs are free now (free memory, utilisation), why each other one is busy or
        unknown, and a CUDA_VISIBLE_DEVICES value selecting the free ones."""
        return check_availability(snapshot_for(None, nvml=app.nvml), min_free_memory_gib, max_utilization_pct)

    return [detect_hardware, list_hardware_profiles, check_gpu_availability]
