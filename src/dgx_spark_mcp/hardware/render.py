"""Plain-text views of hardware results for people at a terminal (the CLI without --json)."""

from __future__ import annotations

from collections.abc import Sequence

from .availability import Availability
from .models import GpuInfo, HardwareSnapshot
from .profiles import HardwareProfile

__all__ = ["render_availability", "render_profiles", "render_snapshot", "table"]

_DASH = "-"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)


def _v(value: object, unit: str = "") -> str:
    return _DASH if value is None else f"{value}{unit}"


def _memory(gpu: GpuInfo) -> str:
    m = gpu.memory
    if m is None:
        return "n/a"
    text = f"{_v(m.used_gib)}/{_v(m.total_gib)} GiB" if m.used_gib is not None else f"{_v(m.total_gib)} GiB"
    return text + (" unified" if m.kind == "unified" else "")


def render_snapshot(s: HardwareSnapshot) -> str:
    h = s.host
    out = [
        f"Source: {s.source}" + (f" ({s.profile})" if s.profile else "") + f", captured {s.captured_at:%Y-%m-%d %H:%M:%S} UTC",
        f"Host: {h.hostname}, {h.os}, {h.architecture}, {h.cpu_model or 'CPU model unknown'}",
        f"CPU: {_v(h.cpu_physical_cores)} cores / {h.cpu_logical_cores} threads (effective {h.effective_cpu_cores:g})"
        f"; RAM {h.memory_total_gib:g} GiB (effective {h.effective_memory_gib:g} GiB"
        + (f", available {h.memory_available_gib:g} GiB)" if h.memory_available_gib is not None else ")"),
    ]
    st = s.gpu_stack
    if st.available:
        out.append(f"GPU stack: driver {_v(st.driver_version)}, CUDA {_v(st.cuda_driver_version)}")
    else:
        out.append(f"GPU stack: unavailable ({st.reason})")
    if s.gpus:
        rows = [
            [
                str(g.index),
                g.name or _DASH,
                _memory(g),
                _v(g.utilization_gpu_pct, "%"),
                _v(g.temperature_c, "C") + (f"/{g.temperature_slowdown_c}C" if g.temperature_slowdown_c else ""),
                _v(g.power_draw_w, "W") + (f"/{g.power_limit_w:g}W" if g.power_limit_w else ""),
                _v(g.compute_capability),
                {True: "on", False: "off", None: _DASH}[g.mig_enabled],
                ",".join(r for r in (g.clock_event_reasons or []) if r != "gpu_idle") or _DASH,
            ]
            for g in s.gpus
        ]
        out += ["", table(["#", "GPU", "Memory", "Util", "Temp/slow", "Power/limit", "CC", "MIG", "Throttle"], rows)]
        missing = [f"GPU {g.index}: " + ", ".join(f"{u.field} ({u.reason.value})" for u in g.unavailable) for g in s.gpus if g.unavailable]
        if missing:
            out += ["", "Not available:", *("  " + m for m in missing)]
    if s.topology:
        out += ["", "Topology:"]
        out += [f"  GPU{t.gpu_a}-GPU{t.gpu_b}: {t.common_ancestor}, P2P {t.p2p_read}, NVLink {t.nvlink}" for t in s.topology]
    elif s.topology_summary:
        out += ["", "Topology:", *("  " + line for line in s.topology_summary)]
    if s.warnings:
        out += ["", "Warnings:", *("  - " + w for w in s.warnings)]
    if s.more:
        out += ["", f"({s.more.replace('detail=', '--detail ').replace(chr(39) + 'full' + chr(39), 'full')})"]
    return "\n".join(out)


def render_profiles(profiles: Sequence[HardwareProfile]) -> str:
    rows = []
    for p in profiles:
        g = p.gpu
        rows.append(
            [
                p.name,
                f"{p.cpu.cores.value} ({p.cpu.architecture})",
                f"{p.memory.ram_gib.value:g}" + (" unified" if p.memory.unified_with_gpu else ""),
                f"{g.count.value}x {g.model}" if g else "none",
                f"{g.memory_per_gpu_gib.value:g}" if g else _DASH,
                g.compute_capability.value if g else _DASH,
            ]
        )
    return table(["Profile", "Cores", "RAM GiB", "GPUs", "GiB/GPU", "CC"], rows)


def render_availability(a: Availability) -> str:
    out = [a.summary]
    if a.gpus:
        rows = [
            [str(g.index), g.name or _DASH, g.status, _v(g.free_memory_gib, " GiB"), _v(g.utilization_gpu_pct, "%"), "; ".join(g.reasons) or _DASH]
            for g in a.gpus
        ]
        out += ["", table(["#", "GPU", "Status", "Free", "Util", "Why"], rows)]
    if a.cuda_visible_devices:
        out += ["", f"CUDA_VISIBLE_DEVICES={a.cuda_visible_devices}"]
    return "\n".join(out)
