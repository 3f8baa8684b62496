"""Host facts: CPU, RAM, cgroup limits, disks, network, through psutil and /proc, /sys.

``proc_root`` and ``sys_root`` are seams so tests can point at recorded trees; psutil covers
what it knows and the files cover what it does not (CPU model, cgroup limits).
"""

from __future__ import annotations

import platform
import socket
from pathlib import Path

import psutil

from .models import CgroupLimits, Disk, HostInfo, NetworkInterface

__all__ = ["probe_host", "read_cgroup_limits", "read_cpu_model"]

_GIB = 1024**3
# Pseudo and container-overlay file systems say nothing about where data can live.
_SKIP_FSTYPES = {"squashfs", "tmpfs", "devtmpfs", "overlay", "proc", "sysfs", "nsfs", "autofs", "fuse.snapfuse"}
_CGROUP_UNLIMITED = 1 << 62  # cgroup v1 writes ~2^63 rounded to pages for "no limit"


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def read_cpu_model(proc_root: Path = Path("/proc")) -> str | None:
    """The CPU's marketing name from /proc/cpuinfo, or its Arm implementer/part ids."""
    text = _read(proc_root / "cpuinfo")
    if not text:
        return None
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() not in fields:
            fields[key.strip()] = value.strip()
    for key in ("model name", "Hardware", "cpu model"):
        if fields.get(key):
            return fields[key]
    if "CPU part" in fields:  # Arm kernels give ids, not a name
        return f"Arm implementer {fields.get('CPU implementer', '?')} part {fields['CPU part']}"
    return None


def read_cgroup_limits(sys_root: Path = Path("/sys")) -> CgroupLimits:
    """CPU quota and memory limit of this process's cgroup (v2 first, then v1)."""
    cg = sys_root / "fs" / "cgroup"
    cpu_max = _read(cg / "cpu.max")
    mem_max = _read(cg / "memory.max")
    if cpu_max is not None or mem_max is not None:
        limits = CgroupLimits(version=2)
        if cpu_max:
            quota, _, period = cpu_max.partition(" ")
            if quota != "max" and period:
                limits.cpu_limit_cores = round(int(quota) / int(period), 3)
        if mem_max and mem_max != "max":
            limits.memory_limit_gib = round(int(mem_max) / _GIB, 3)
        return limits
    quota = _read(cg / "cpu" / "cpu.cfs_quota_us") or _read(cg / "cpu,cpuacct" / "cpu.cfs_quota_us")
    period = _read(cg / "cpu" / "cpu.cfs_period_us") or _read(cg / "cpu,cpuacct" / "cpu.cfs_period_us")
    memory = _read(cg / "memory" / "memory.limit_in_bytes")
    if quota is None and memory is None:
        return CgroupLimits()
    limits = CgroupLimits(version=1)
    if quota and period and int(quota) > 0:
        limits.cpu_limit_cores = round(int(quota) / int(period), 3)
    if memory and int(memory) < _CGROUP_UNLIMITED:
        limits.memory_limit_gib = round(int(memory) / _GIB, 3)
    return limits


def _disks() -> list[Disk]:
    disks: list[Disk] = []
    seen: set[str] = set()
    for part in psutil.disk_partitions(all=False):
        if part.fstype in _SKIP_FSTYPES or part.device in seen:
            continue
        try:
            usage = psutil.disk_usage(part.mountpoint)
        except OSError:
            continue  # unmounted meanwhile, or no permission
        seen.add(part.device)
        disks.append(
            Disk(
                mountpoint=part.mountpoint,
                device=part.device,
                fstype=part.fstype,
                total_gib=round(usage.total / _GIB, 2),
                free_gib=round(usage.free / _GIB, 2),
            )
        )
    return disks


def _network() -> list[NetworkInterface]:
    return [
        NetworkInterface(name=name, is_up=stats.isup, speed_mbps=stats.speed or None, mtu=stats.mtu or None)
        for name, stats in sorted(psutil.net_if_stats().items())
        if name != "lo"
    ]


def probe_host(proc_root: Path = Path("/proc"), sys_root: Path = Path("/sys")) -> HostInfo:
    """Facts about the machine this process runs on."""
    memory = psutil.virtual_memory()
    logical = psutil.cpu_count(logical=True) or 1
    cgroup = read_cgroup_limits(sys_root)
    total_gib = round(memory.total / _GIB, 3)
    effective_cores = min(float(logical), cgroup.cpu_limit_cores or float(logical))
    effective_memory = min(total_gib, cgroup.memory_limit_gib or total_gib)
    return HostInfo(
        hostname=socket.gethostname(),
        os=f"{platform.system()} {platform.release()}",
        architecture=platform.machine(),
        cpu_model=read_cpu_model(proc_root),
        cpu_physical_cores=psutil.cpu_count(logical=False),
        cpu_logical_cores=logical,
        memory_total_gib=total_gib,
        memory_available_gib=round(memory.available / _GIB, 3),
        cgroup=cgroup,
        effective_cpu_cores=effective_cores,
        effective_memory_gib=effective_memory,
        disks=_disks(),
        network=_network(),
    )
