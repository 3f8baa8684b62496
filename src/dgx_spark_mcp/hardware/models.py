"""Typed models of a hardware snapshot: what an agent reads from ``detect_hardware``.

Units are in field names.  A value the hardware did not give is ``None`` and its field is
listed in the GPU's ``unavailable`` with the reason, so "not supported" never reads as 0.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

__all__ = [
    "CgroupLimits",
    "ComputeProcess",
    "Disk",
    "EccInfo",
    "GpuInfo",
    "GpuLink",
    "GpuMemory",
    "GpuStack",
    "HardwareSnapshot",
    "HostInfo",
    "MigDevice",
    "NetworkInterface",
    "NvLinkInfo",
    "Unavailable",
    "UnavailableReason",
]


class UnavailableReason(StrEnum):
    """Why a field has no value."""

    NOT_SUPPORTED = "not_supported"  # this GPU or board does not have it (NVML NotSupported)
    NO_PERMISSION = "no_permission"  # needs root or is hidden by the container
    DRIVER_TOO_OLD = "driver_too_old"  # the driver lacks the NVML function
    GPU_LOST = "gpu_lost"  # the GPU fell off the bus during the snapshot
    ERROR = "error"  # any other NVML error; detail holds its text


class Unavailable(BaseModel):
    field: str = Field(description="Snapshot field that has no value.")
    reason: UnavailableReason
    detail: str = Field(description="The NVML error or note behind the reason.")


class GpuMemory(BaseModel):
    kind: Literal["dedicated", "unified"] = Field(
        description="'unified': the GPU shares host RAM (GB10-style); figures are the host's."
    )
    total_gib: float | None = None
    used_gib: float | None = None
    free_gib: float | None = None
    shared_with_cpu: bool = Field(
        description="True when CPU and GPU draw on the same memory, so Spark executors and the GPU compete."
    )


class EccInfo(BaseModel):
    enabled: bool | None = None
    pending_enabled: bool | None = Field(default=None, description="Mode after the next reboot.")
    corrected_volatile: int | None = None
    uncorrected_volatile: int | None = None
    corrected_aggregate: int | None = None
    uncorrected_aggregate: int | None = None


class MigDevice(BaseModel):
    index: int
    uuid: str | None = None
    name: str | None = None
    gpu_instance_id: int | None = None
    compute_instance_id: int | None = None
    memory_total_gib: float | None = None
    memory_used_gib: float | None = None


class ComputeProcess(BaseModel):
    pid: int
    name: str | None = Field(default=None, description="Process name when visible from here.")
    used_memory_gib: float | None = Field(default=None, description="None when NVML cannot attribute it.")


class NvLinkInfo(BaseModel):
    links_active: int
    links_total: int
    version: int | None = None
    remote_pci_bus_ids: list[str] = Field(
        default_factory=list, description="PCI bus ids at the far end of active links (GPUs or NVSwitches)."
    )


class GpuInfo(BaseModel):
    index: int
    uuid: str | None = None
    name: str | None = None
    pci_bus_id: str | None = None
    memory: GpuMemory | None = None
    compute_capability: str | None = Field(default=None, description="e.g. '9.0' for Hopper, '12.1' for GB10.")
    utilization_gpu_pct: int | None = None
    utilization_memory_pct: int | None = None
    temperature_c: int | None = None
    temperature_slowdown_c: int | None = None
    temperature_shutdown_c: int | None = None
    temperature_max_operating_c: int | None = None
    power_draw_w: float | None = None
    power_limit_w: float | None = None
    performance_state: str | None = Field(default=None, description="P0 (max) .. P15 (min).")
    sm_clock_mhz: int | None = None
    memory_clock_mhz: int | None = None
    sm_clock_max_mhz: int | None = None
    memory_clock_max_mhz: int | None = None
    clock_event_reasons: list[str] | None = Field(
        default=None, description="Why clocks are held down now (decoded NVML clock-event bits); [] means none."
    )
    ecc: EccInfo | None = None
    mig_enabled: bool | None = None
    mig_pending_enabled: bool | None = None
    mig_devices: list[MigDevice] = Field(default_factory=list)
    processes: list[ComputeProcess] | None = Field(default=None, description="Running compute processes.")
    nvlink: NvLinkInfo | None = None
    unavailable: list[Unavailable] = Field(
        default_factory=list, description="Fields without a value and why; never read their None as zero."
    )


class GpuLink(BaseModel):
    """How two GPUs reach each other."""

    gpu_a: int
    gpu_b: int
    common_ancestor: str | None = Field(
        default=None,
        description="NVML topology level: internal, single (one PCIe switch), multiple, hostbridge, node, system.",
    )
    p2p_read: str | None = Field(default=None, description="P2P read status: ok, or why not.")
    nvlink: Literal["direct", "nvswitch", "none"] = Field(
        description="direct: an NVLink joins them; nvswitch: both reach the NVSwitch fabric; none: PCIe only."
    )


class GpuStack(BaseModel):
    available: bool = Field(description="Whether NVML answered on this machine.")
    reason: str | None = Field(default=None, description="Why not, when unavailable.")
    driver_version: str | None = None
    cuda_driver_version: str | None = Field(default=None, description="Highest CUDA the driver supports, e.g. '13.0'.")
    nvml_version: str | None = None


class CgroupLimits(BaseModel):
    version: Literal[1, 2] | None = Field(default=None, description="cgroup version, None outside a cgroup.")
    cpu_limit_cores: float | None = Field(default=None, description="CPU quota in cores; None when unlimited.")
    memory_limit_gib: float | None = Field(default=None, description="Memory limit; None when unlimited.")


class Disk(BaseModel):
    mountpoint: str
    device: str
    fstype: str
    total_gib: float
    free_gib: float


class NetworkInterface(BaseModel):
    name: str
    is_up: bool
    speed_mbps: int | None = Field(default=None, description="Link speed; None when the driver does not say.")
    mtu: int | None = None


class HostInfo(BaseModel):
    hostname: str
    os: str
    architecture: str = Field(description="e.g. x86_64, aarch64.")
    cpu_model: str | None = None
    cpu_physical_cores: int | None = None
    cpu_logical_cores: int
    memory_total_gib: float
    memory_available_gib: float | None = None
    cgroup: CgroupLimits = Field(default_factory=CgroupLimits)
    effective_cpu_cores: float = Field(description="Cores this process may really use (cgroup quota applied).")
    effective_memory_gib: float = Field(description="Memory this process may really use (cgroup limit applied).")
    disks: list[Disk] = Field(default_factory=list)
    network: list[NetworkInterface] = Field(default_factory=list)


class HardwareSnapshot(BaseModel):
    """Everything known about one machine (or one named profile) at one moment."""

    source: Literal["nvml", "host", "profile"] = Field(
        description="nvml: live GPU readings; host: no usable GPU stack, host facts only; profile: a named spec."
    )
    profile: str | None = Field(default=None, description="Profile name when source is 'profile'.")
    captured_at: datetime
    gpu_stack: GpuStack
    gpus: list[GpuInfo] = Field(default_factory=list)
    topology: list[GpuLink] = Field(default_factory=list, description="One entry per GPU pair (detail='full').")
    topology_summary: list[str] = Field(default_factory=list, description="The GPU pairs, one line per kind of link.")
    host: HostInfo = Field(description="The host: live facts, or the profile's CPU and memory.")
    warnings: list[str] = Field(default_factory=list)
    more: str | None = Field(default=None, description="What the summary left out, and how to get it.")
