"""Put the NVML and host probes together into one :class:`HardwareSnapshot`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .host import probe_host
from .models import HardwareSnapshot
from .nvml import HostMemory, probe_gpus
from .profiles import get_profile, profile_snapshot

__all__ = ["detect", "snapshot_for"]


def _real_nvml() -> Any:
    import pynvml  # nvidia-ml-py: pure Python over ctypes, loads libnvidia-ml only in nvmlInit

    return pynvml


def detect(nvml: Any | None = None, proc_root: Path = Path("/proc"), sys_root: Path = Path("/sys")) -> HardwareSnapshot:
    """Snapshot this machine: GPUs through NVML (or ``nvml``, a stand-in module) plus host facts."""
    host = probe_host(proc_root=proc_root, sys_root=sys_root)
    host_memory = HostMemory(total_gib=host.effective_memory_gib, available_gib=host.memory_available_gib)
    gpus = probe_gpus(nvml if nvml is not None else _real_nvml(), host_memory)
    warnings = list(gpus.warnings)
    if not gpus.stack.available:
        warnings.insert(0, f"no usable NVIDIA GPU stack: {gpus.stack.reason}; host facts only")
    elif not gpus.gpus:
        warnings.insert(0, "NVML is running but reports no GPU (none installed, or all hidden from this container)")
    if host.cgroup.cpu_limit_cores is not None or host.cgroup.memory_limit_gib is not None:
        warnings.append(
            "this process runs in a cgroup with limits; effective_cpu_cores and effective_memory_gib apply them"
        )
    return HardwareSnapshot(
        source="nvml" if gpus.stack.available else "host",
        captured_at=datetime.now(UTC),
        gpu_stack=gpus.stack,
        gpus=gpus.gpus,
        topology=gpus.topology,
        host=host,
        warnings=warnings,
    )


def snapshot_for(profile: str | None = None, nvml: Any | None = None) -> HardwareSnapshot:
    """A named profile's snapshot when ``profile`` is given, else this machine's."""
    if profile:
        return profile_snapshot(get_profile(profile))
    return detect(nvml=nvml)
