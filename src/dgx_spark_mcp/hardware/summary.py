"""The short forms of hardware answers: what an agent needs to plan, the rest on request.

A DGX H100 snapshot in full is about 4,000 tokens: per GPU its PCI id, every clock and
temperature threshold, ECC counters and NVLink peers, and 28 GPU pairs of topology.  The
summary keeps, per GPU, what decides where a job can run (model, memory, load, temperature
against its slowdown point, power, throttling, MIG, NVLink, ECC errors) and says the topology
in one line per kind of link.  ``detail="full"`` returns the snapshot as read.
"""

from __future__ import annotations

from collections import Counter

from pydantic import BaseModel, Field

from .models import EccInfo, GpuInfo, GpuLink, HardwareSnapshot, NvLinkInfo
from .profiles import HardwareProfile

__all__ = ["ProfileBrief", "brief", "summarize_snapshot", "topology_lines"]

FULL_ADDS = ("detail='full' adds PCI bus ids, clocks, shutdown temperatures, ECC counters, processes, NVLink peers "
             "and every GPU pair's topology")


def _gpu(gpu: GpuInfo) -> GpuInfo:
    ecc = gpu.ecc
    errors = ecc is not None and any((ecc.uncorrected_volatile, ecc.uncorrected_aggregate))
    return gpu.model_copy(update={
        "pci_bus_id": None, "temperature_shutdown_c": None, "temperature_max_operating_c": None,
        "utilization_memory_pct": None, "performance_state": None, "sm_clock_mhz": None, "memory_clock_mhz": None,
        "sm_clock_max_mhz": None, "memory_clock_max_mhz": None, "mig_pending_enabled": None,
        # ECC only when it has something to say: uncorrected errors are a reason to avoid a GPU
        "ecc": EccInfo(enabled=ecc.enabled, uncorrected_volatile=ecc.uncorrected_volatile,
                       uncorrected_aggregate=ecc.uncorrected_aggregate) if errors and ecc else None,
        "clock_event_reasons": [r for r in gpu.clock_event_reasons or [] if r != "gpu_idle"] or None,
        "nvlink": NvLinkInfo(links_active=gpu.nvlink.links_active, links_total=gpu.nvlink.links_total,
                             version=gpu.nvlink.version) if gpu.nvlink else None,
        "processes": None,
    })


def topology_lines(links: list[GpuLink]) -> list[str]:
    """One line per kind of link: '28 pairs: NVLink through NVSwitch, P2P read ok, common ancestor node'."""
    kinds = Counter((link.nvlink, link.p2p_read, link.common_ancestor) for link in links)
    words = {"nvswitch": "NVLink through NVSwitch", "direct": "direct NVLink", "none": "PCIe only"}
    lines = []
    for (nvlink, p2p, ancestor), count in kinds.most_common():
        pairs = [f"{link.gpu_a}-{link.gpu_b}" for link in links
                 if (link.nvlink, link.p2p_read, link.common_ancestor) == (nvlink, p2p, ancestor)]
        which = f" ({', '.join(pairs)})" if count < len(links) and count <= 8 else ""
        lines.append(f"{count} pair{'s' if count != 1 else ''}{which}: {words[nvlink]}, P2P read {p2p or 'unknown'}, "
                     f"common ancestor {ancestor or 'unknown'}")
    return lines


def summarize_snapshot(snapshot: HardwareSnapshot) -> HardwareSnapshot:
    host = snapshot.host.model_copy(update={"network": [n for n in snapshot.host.network if n.is_up]})
    return snapshot.model_copy(update={
        "gpus": [_gpu(g) for g in snapshot.gpus], "topology": [], "topology_summary": topology_lines(snapshot.topology),
        "host": host, "more": FULL_ADDS if snapshot.gpus else None,
    })


class ProfileBrief(BaseModel):
    """A named machine in one line of figures; every number's public source is in detail='full'."""

    name: str
    title: str
    cpu: str = Field(description="Model, cores and threads.")
    memory_gib: float = Field(description="RAM the OS can use.")
    gpus: str | None = Field(default=None, description="Count x model, memory each, interconnect; None on a CPU server.")
    unified_memory: bool = Field(description="CPU and GPU share the same memory (GB10).")


def brief(profile: HardwareProfile) -> ProfileBrief:
    cpu = profile.cpu
    spec = profile.gpu
    gpus = None
    if spec is not None:
        gpus = (f"{spec.count.value} x {spec.model}, {spec.memory_per_gpu_gib.value:g} GiB {spec.memory_kind} each, "
                f"{spec.memory_bandwidth_gb_s.value:g} GB/s, compute {spec.compute_capability.value}; "
                f"{spec.interconnect.value}")
    return ProfileBrief(name=profile.name, title=profile.title,
                        cpu=f"{cpu.model}, {cpu.sockets.value} socket(s), {cpu.cores.value} cores / "
                        f"{cpu.threads.value} threads",
                        memory_gib=profile.usable_memory_gib, gpus=gpus,
                        unified_memory=profile.memory.unified_with_gpu)
