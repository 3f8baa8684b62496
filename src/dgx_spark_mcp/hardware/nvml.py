"""GPU facts through NVML (nvidia-ml-py, imported as ``pynvml``).

The NVML module is a seam: :func:`probe_gpus` takes any object with pynvml's functions and
constants.  Production passes the real ``pynvml``; tests pass a replay of calls recorded on
real machines (:mod:`.nvml_recording`).

Every field is read on its own: an NVML error on one field lands in ``unavailable`` and the
rest of the snapshot goes on.  Only ``nvmlInit`` failing means "no GPU stack here", which is
a normal answer (``GpuStack(available=False, reason=...)``), not an exception.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from .models import (
    ComputeProcess,
    EccInfo,
    GpuInfo,
    GpuLink,
    GpuMemory,
    GpuStack,
    MigDevice,
    NvLinkInfo,
    Unavailable,
    UnavailableReason,
)

__all__ = ["GpuProbeResult", "HostMemory", "probe_gpus"]

log = logging.getLogger(__name__)
T = TypeVar("T")

_GIB = 1024**3
# NVML's own "no value" sentinels (NVML_VALUE_NOT_AVAILABLE_uint / _ulonglong).
_NOT_AVAILABLE = {0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF}

# nvmlClocksEventReason* bits, in the words nvidia-smi uses.
_CLOCK_EVENT_BITS = {
    0x1: "gpu_idle",
    0x2: "applications_clocks_setting",
    0x4: "sw_power_cap",
    0x8: "hw_slowdown",
    0x10: "sync_boost",
    0x20: "sw_thermal_slowdown",
    0x40: "hw_thermal_slowdown",
    0x80: "hw_power_brake_slowdown",
    0x100: "display_clock_setting",
}
_TOPOLOGY_LEVELS = {0: "internal", 10: "single", 20: "multiple", 30: "hostbridge", 40: "node", 50: "system"}
_P2P_STATUS = {
    0: "ok",
    1: "chipset_not_supported",
    2: "gpu_not_supported",
    3: "ioh_topology_not_supported",
    4: "disabled_by_regkey",
    5: "not_supported",
    6: "unknown",
}
# NVML error codes → why a field is missing (codes from nvml.h).
_REASONS = {
    3: UnavailableReason.NOT_SUPPORTED,
    4: UnavailableReason.NO_PERMISSION,
    13: UnavailableReason.DRIVER_TOO_OLD,
    15: UnavailableReason.GPU_LOST,
}
# nvmlInit failures that mean "no NVIDIA GPU stack on this machine" rather than a fault.
_NO_STACK_HINTS = {
    9: "the NVIDIA kernel driver is not loaded (NVML_ERROR_DRIVER_NOT_LOADED)",
    12: "the NVML library (libnvidia-ml.so.1) is not installed: no NVIDIA driver on this machine",
}
_P2P_CAPS_INDEX_READ = 0  # pynvml spells this constant as a one-element tuple; the C value is 0.


@dataclass(frozen=True)
class HostMemory:
    """Host RAM figures, used as the GPU's memory on unified-memory parts (GB10)."""

    total_gib: float
    available_gib: float | None


@dataclass
class GpuProbeResult:
    stack: GpuStack
    gpus: list[GpuInfo] = field(default_factory=list)
    topology: list[GpuLink] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _gib(nbytes: int | None) -> float | None:
    return None if nbytes is None else round(nbytes / _GIB, 3)


class _Reader:
    """Reads one NVML field at a time, turning failures into ``Unavailable`` entries."""

    def __init__(self, nvml: Any) -> None:
        self.nvml = nvml
        self.unavailable: list[Unavailable] = []
        self.gpu_lost = False

    def read(self, name: str, fn: Callable[..., T], *args: Any) -> T | None:
        try:
            value = fn(*args)
        except self.nvml.NVMLError as exc:
            reason = _REASONS.get(getattr(exc, "value", None), UnavailableReason.ERROR)
            self.gpu_lost |= reason is UnavailableReason.GPU_LOST
            self.unavailable.append(Unavailable(field=name, reason=reason, detail=str(exc)))
            return None
        if isinstance(value, int) and value in _NOT_AVAILABLE:
            self.unavailable.append(
                Unavailable(field=name, reason=UnavailableReason.NOT_SUPPORTED, detail="NVML_VALUE_NOT_AVAILABLE")
            )
            return None
        return value


def probe_gpus(nvml: Any, host_memory: HostMemory | None = None) -> GpuProbeResult:
    """Snapshot every GPU NVML can see; never raises for a missing or failing GPU stack."""
    try:
        nvml.nvmlInit()
    except nvml.NVMLError as exc:
        code = getattr(exc, "value", None)
        reason = _NO_STACK_HINTS.get(code, f"NVML could not start: {exc} (NVML error {code})")
        return GpuProbeResult(stack=GpuStack(available=False, reason=reason))
    try:
        return _probe_initialised(nvml, host_memory)
    finally:
        try:
            nvml.nvmlShutdown()
        except nvml.NVMLError as exc:  # a shutdown failure must not lose the snapshot
            log.warning("nvmlShutdown failed: %s", exc)


def _probe_initialised(nvml: Any, host_memory: HostMemory | None) -> GpuProbeResult:
    system = _Reader(nvml)
    driver = system.read("driver_version", nvml.nvmlSystemGetDriverVersion)
    cuda = system.read("cuda_driver_version", nvml.nvmlSystemGetCudaDriverVersion)
    nvml_version = system.read("nvml_version", nvml.nvmlSystemGetNVMLVersion)
    stack = GpuStack(
        available=True,
        driver_version=None if driver is None else _text(driver),
        cuda_driver_version=None if cuda is None else f"{cuda // 1000}.{cuda % 1000 // 10}",
        nvml_version=None if nvml_version is None else _text(nvml_version),
    )
    result = GpuProbeResult(stack=stack)
    result.warnings += [f"system field {u.field}: {u.reason.value} ({u.detail})" for u in system.unavailable]

    count = system.read("device_count", nvml.nvmlDeviceGetCount)
    if count is None:
        result.warnings.append("NVML started but could not count GPUs; no GPU is reported")
        return result
    handles: dict[int, Any] = {}
    for index in range(count):
        reader = _Reader(nvml)
        handle = reader.read("handle", nvml.nvmlDeviceGetHandleByIndex, index)
        if handle is None:
            detail = reader.unavailable[0].detail if reader.unavailable else "no handle"
            result.warnings.append(f"GPU {index}: NVML gave no handle ({detail}); skipped")
            continue
        handles[index] = handle
        gpu = _probe_gpu(nvml, reader, index, handle, host_memory)
        result.gpus.append(gpu)
        if reader.gpu_lost:
            result.warnings.append(f"GPU {index} fell off the bus during the snapshot (NVML_ERROR_GPU_IS_LOST)")
        if gpu.memory is not None and gpu.memory.kind == "unified":
            result.warnings.append(
                f"GPU {index} ({gpu.name}) uses unified memory: its memory figures are the host's RAM, "
                "shared with the CPU, so Spark executors and the GPU compete for it"
            )
    result.topology = _probe_topology(nvml, handles, {g.index: g for g in result.gpus})
    return result


def _probe_gpu(nvml: Any, r: _Reader, index: int, h: Any, host_memory: HostMemory | None) -> GpuInfo:
    gpu = GpuInfo(index=index)
    name = r.read("name", nvml.nvmlDeviceGetName, h)
    gpu.name = None if name is None else _text(name)
    uuid = r.read("uuid", nvml.nvmlDeviceGetUUID, h)
    gpu.uuid = None if uuid is None else _text(uuid)
    pci = r.read("pci_bus_id", nvml.nvmlDeviceGetPciInfo_v3, h)
    gpu.pci_bus_id = None if pci is None else _text(pci.busId)
    gpu.memory = _probe_memory(nvml, r, h, host_memory)
    cc = r.read("compute_capability", nvml.nvmlDeviceGetCudaComputeCapability, h)
    gpu.compute_capability = None if cc is None else f"{cc[0]}.{cc[1]}"

    util = r.read("utilization", nvml.nvmlDeviceGetUtilizationRates, h)
    if util is not None:
        gpu.utilization_gpu_pct, gpu.utilization_memory_pct = int(util.gpu), int(util.memory)

    gpu.temperature_c = r.read("temperature_c", nvml.nvmlDeviceGetTemperature, h, nvml.NVML_TEMPERATURE_GPU)
    threshold = nvml.nvmlDeviceGetTemperatureThreshold
    gpu.temperature_slowdown_c = r.read(
        "temperature_slowdown_c", threshold, h, nvml.NVML_TEMPERATURE_THRESHOLD_SLOWDOWN
    )
    gpu.temperature_shutdown_c = r.read(
        "temperature_shutdown_c", threshold, h, nvml.NVML_TEMPERATURE_THRESHOLD_SHUTDOWN
    )
    gpu.temperature_max_operating_c = r.read(
        "temperature_max_operating_c", threshold, h, nvml.NVML_TEMPERATURE_THRESHOLD_GPU_MAX
    )

    draw = r.read("power_draw_w", nvml.nvmlDeviceGetPowerUsage, h)
    gpu.power_draw_w = None if draw is None else round(draw / 1000, 2)  # NVML gives milliwatts
    limit = r.read("power_limit_w", nvml.nvmlDeviceGetEnforcedPowerLimit, h)
    gpu.power_limit_w = None if limit is None else round(limit / 1000, 2)
    pstate = r.read("performance_state", nvml.nvmlDeviceGetPerformanceState, h)
    gpu.performance_state = None if pstate is None else f"P{pstate}"

    clock, max_clock = nvml.nvmlDeviceGetClockInfo, nvml.nvmlDeviceGetMaxClockInfo
    gpu.sm_clock_mhz = r.read("sm_clock_mhz", clock, h, nvml.NVML_CLOCK_SM)
    gpu.memory_clock_mhz = r.read("memory_clock_mhz", clock, h, nvml.NVML_CLOCK_MEM)
    gpu.sm_clock_max_mhz = r.read("sm_clock_max_mhz", max_clock, h, nvml.NVML_CLOCK_SM)
    gpu.memory_clock_max_mhz = r.read("memory_clock_max_mhz", max_clock, h, nvml.NVML_CLOCK_MEM)
    events = r.read("clock_event_reasons", nvml.nvmlDeviceGetCurrentClocksEventReasons, h)
    if events is not None:
        gpu.clock_event_reasons = [label for bit, label in _CLOCK_EVENT_BITS.items() if events & bit]

    gpu.ecc = _probe_ecc(nvml, r, h)
    mig = r.read("mig_mode", nvml.nvmlDeviceGetMigMode, h)
    if mig is not None:
        gpu.mig_enabled, gpu.mig_pending_enabled = bool(mig[0]), bool(mig[1])
        if gpu.mig_enabled:
            gpu.mig_devices = _probe_mig(nvml, r, h)
    gpu.processes = _probe_processes(nvml, r, h)
    gpu.nvlink = _probe_nvlink(nvml, r, h)
    gpu.unavailable = r.unavailable
    return gpu


def _probe_memory(nvml: Any, r: _Reader, h: Any, host_memory: HostMemory | None) -> GpuMemory | None:
    before = len(r.unavailable)
    info = r.read("memory", nvml.nvmlDeviceGetMemoryInfo, h)
    if info is not None:
        return GpuMemory(
            kind="dedicated",
            total_gib=_gib(info.total),
            used_gib=_gib(info.used),
            free_gib=_gib(info.free),
            shared_with_cpu=False,
        )
    failure = r.unavailable[before] if len(r.unavailable) > before else None
    if failure is None or failure.reason is not UnavailableReason.NOT_SUPPORTED or host_memory is None:
        return None
    # GB10-style integrated GPU: NVML has no framebuffer of its own to report; the GPU
    # allocates from host RAM.  Report the host's figures and say they are shared.
    r.unavailable[before] = Unavailable(
        field="memory",
        reason=UnavailableReason.NOT_SUPPORTED,
        detail=f"{failure.detail}; unified memory: figures are the host's RAM, shared with the CPU",
    )
    total, available = host_memory.total_gib, host_memory.available_gib
    return GpuMemory(
        kind="unified",
        total_gib=total,
        free_gib=available,
        used_gib=None if available is None else round(total - available, 3),
        shared_with_cpu=True,
    )


def _probe_ecc(nvml: Any, r: _Reader, h: Any) -> EccInfo | None:
    mode = r.read("ecc_mode", nvml.nvmlDeviceGetEccMode, h)
    if mode is None:
        return None
    ecc = EccInfo(enabled=bool(mode[0]), pending_enabled=bool(mode[1]))
    if ecc.enabled:
        errors = nvml.nvmlDeviceGetTotalEccErrors
        corrected, uncorrected = nvml.NVML_MEMORY_ERROR_TYPE_CORRECTED, nvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED
        volatile, aggregate = nvml.NVML_VOLATILE_ECC, nvml.NVML_AGGREGATE_ECC
        ecc.corrected_volatile = r.read("ecc.corrected_volatile", errors, h, corrected, volatile)
        ecc.uncorrected_volatile = r.read("ecc.uncorrected_volatile", errors, h, uncorrected, volatile)
        ecc.corrected_aggregate = r.read("ecc.corrected_aggregate", errors, h, corrected, aggregate)
        ecc.uncorrected_aggregate = r.read("ecc.uncorrected_aggregate", errors, h, uncorrected, aggregate)
    return ecc


def _probe_mig(nvml: Any, r: _Reader, h: Any) -> list[MigDevice]:
    slots = r.read("mig_devices", nvml.nvmlDeviceGetMaxMigDeviceCount, h) or 0
    devices: list[MigDevice] = []
    for slot in range(slots):
        try:
            mh = nvml.nvmlDeviceGetMigDeviceHandleByIndex(h, slot)
        except nvml.NVMLError:
            continue  # an empty slot answers NotFound: it is simply not configured
        prefix = f"mig_devices[{slot}]"
        uuid = r.read(f"{prefix}.uuid", nvml.nvmlDeviceGetUUID, mh)
        name = r.read(f"{prefix}.name", nvml.nvmlDeviceGetName, mh)
        mem = r.read(f"{prefix}.memory", nvml.nvmlDeviceGetMemoryInfo, mh)
        devices.append(
            MigDevice(
                index=slot,
                uuid=None if uuid is None else _text(uuid),
                name=None if name is None else _text(name),
                gpu_instance_id=r.read(f"{prefix}.gpu_instance_id", nvml.nvmlDeviceGetGpuInstanceId, mh),
                compute_instance_id=r.read(f"{prefix}.compute_instance_id", nvml.nvmlDeviceGetComputeInstanceId, mh),
                memory_total_gib=None if mem is None else _gib(mem.total),
                memory_used_gib=None if mem is None else _gib(mem.used),
            )
        )
    return devices


def _probe_processes(nvml: Any, r: _Reader, h: Any) -> list[ComputeProcess] | None:
    procs = r.read("processes", nvml.nvmlDeviceGetComputeRunningProcesses, h)
    if procs is None:
        return None
    out = []
    for p in procs:
        used = getattr(p, "usedGpuMemory", None)
        out.append(
            ComputeProcess(
                pid=int(p.pid),
                name=_process_name(int(p.pid)),
                used_memory_gib=None if used is None or used in _NOT_AVAILABLE else _gib(used),
            )
        )
    return out


def _process_name(pid: int) -> str | None:
    import psutil

    try:
        return psutil.Process(pid).name()
    except (psutil.Error, OSError):
        return None  # another container's PID, or gone already


def _probe_nvlink(nvml: Any, r: _Reader, h: Any) -> NvLinkInfo | None:
    states: list[int] = []
    remotes: list[str] = []
    for link in range(nvml.NVML_NVLINK_MAX_LINKS):
        try:
            state = nvml.nvmlDeviceGetNvLinkState(h, link)
        except nvml.NVMLError as exc:
            if not states:  # no link at all: this GPU has no NVLink (PCIe-only, GB10)
                r.unavailable.append(
                    Unavailable(
                        field="nvlink",
                        reason=_REASONS.get(getattr(exc, "value", None), UnavailableReason.ERROR),
                        detail=str(exc),
                    )
                )
                return None
            break  # past the last link this GPU has
        states.append(state)
        if state:
            remote = r.read(f"nvlink.remote[{link}]", nvml.nvmlDeviceGetNvLinkRemotePciInfo, h, link)
            if remote is not None:
                remotes.append(_text(remote.busId))
    version = r.read("nvlink.version", nvml.nvmlDeviceGetNvLinkVersion, h, 0) if any(states) else None
    return NvLinkInfo(
        links_active=sum(1 for s in states if s),
        links_total=len(states),
        version=version,
        remote_pci_bus_ids=sorted(set(remotes)),
    )


def _nvlink_between(a: GpuInfo, b: GpuInfo, gpu_bus_ids: set[str]) -> Literal["direct", "nvswitch", "none"]:
    if a.nvlink is None or b.nvlink is None:
        return "none"
    if _norm_bus(b.pci_bus_id) in {_norm_bus(x) for x in a.nvlink.remote_pci_bus_ids}:
        return "direct"
    # A remote end that is no GPU is an NVSwitch: GPUs that both reach switches share the fabric.
    def via_switch(g: GpuInfo) -> bool:
        return any(_norm_bus(x) not in gpu_bus_ids for x in g.nvlink.remote_pci_bus_ids)  # type: ignore[union-attr]

    return "nvswitch" if via_switch(a) and via_switch(b) else "none"


def _norm_bus(bus_id: str | None) -> str:
    # NVML writes the domain with 8 hex digits in some calls and 4 in others.
    if not bus_id:
        return ""
    domain, _, rest = bus_id.lower().partition(":")
    return f"{int(domain, 16):08x}:{rest}" if rest else bus_id.lower()


def _probe_topology(nvml: Any, handles: dict[int, Any], gpus: dict[int, GpuInfo]) -> list[GpuLink]:
    links = []
    indices = sorted(handles)
    gpu_bus_ids = {_norm_bus(g.pci_bus_id) for g in gpus.values() if g.pci_bus_id}
    for i, a in enumerate(indices):
        for b in indices[i + 1 :]:
            link = GpuLink(gpu_a=a, gpu_b=b, nvlink=_nvlink_between(gpus[a], gpus[b], gpu_bus_ids))
            try:
                level = nvml.nvmlDeviceGetTopologyCommonAncestor(handles[a], handles[b])
                link.common_ancestor = _TOPOLOGY_LEVELS.get(level, f"level_{level}")
            except nvml.NVMLError as exc:
                link.common_ancestor = f"unavailable: {exc}"
            try:
                status = nvml.nvmlDeviceGetP2PStatus(handles[a], handles[b], _P2P_CAPS_INDEX_READ)
                link.p2p_read = _P2P_STATUS.get(status, f"status_{status}")
            except nvml.NVMLError as exc:
                link.p2p_read = f"unavailable: {exc}"
            links.append(link)
    return links
