"""Tools: detect_hardware, list_hardware_profiles, check_gpu_availability."""

from typing import Annotated

from mcp.server import MCPServer
from pydantic import BaseModel, Field

from ..app import App
from ..hardware import Availability, HardwareProfile, HardwareSnapshot, check_availability, list_profiles, snapshot_for
from . import READ_ONLY, agent_errors

__all__ = ["ProfileList", "register"]


class ProfileList(BaseModel):
    profiles: list[HardwareProfile] = Field(description="Every named profile; each number has its 'source'.")


def register(mcp: MCPServer, app: App) -> None:
    @mcp.tool(title="Detect hardware", annotations=READ_ONLY)
    @agent_errors
    def detect_hardware(
        profile: Annotated[
            str | None,
            Field(
                description="A named profile (see list_hardware_profiles, e.g. 'dgx-spark', 'dgx-h100') to plan "
                "for another machine; omit to read this machine."
            ),
        ] = None,
    ) -> HardwareSnapshot:
        """Snapshot this machine's GPUs (through NVML) and host (CPU, RAM, cgroup limits, disks, network),
        or a named profile's specs. Fields the GPU does not support are None and listed under each GPU's
        'unavailable' with the reason; with no NVIDIA driver the result says so and still gives the host."""
        return snapshot_for(profile, nvml=app.nvml)

    @mcp.tool(title="List hardware profiles", annotations=READ_ONLY)
    @agent_errors
    def list_hardware_profiles() -> ProfileList:
        """The named machine profiles (DGX Spark GB10, DGX H100/H200, DGX A100 40/80 GB, DGX B200, a generic
        CPU server) with CPU, memory, GPU, network and storage specs; every number carries its public source."""
        return ProfileList(profiles=list(list_profiles()))

    @mcp.tool(title="Check GPU availability", annotations=READ_ONLY)
    @agent_errors
    def check_gpu_availability(
        min_free_memory_gib: Annotated[
            float, Field(ge=0, description="GiB of free GPU memory a job needs (default 1).")
        ] = 1.0,
        max_utilization_pct: Annotated[
            float, Field(ge=0, le=100, description="Highest GPU utilisation, in percent, still counted as free.")
        ] = 10.0,
    ) -> Availability:
        """Which of this machine's GPUs are free now, judged by free memory and utilisation, why each other GPU
        is busy or unknown, and a CUDA_VISIBLE_DEVICES value that selects the free ones."""
        return check_availability(snapshot_for(None, nvml=app.nvml), min_free_memory_gib, max_utilization_pct)
