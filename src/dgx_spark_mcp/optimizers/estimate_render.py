"""Plain-text view of a resource estimate for people at a terminal (``estimate`` without --json)."""

from __future__ import annotations

from .estimate_models import ResourceEstimate

__all__ = ["render_estimate", "human_duration"]


def human_duration(seconds: float) -> str:
    """'45 s', '10 min 9 s', '2 h 5 min', '3 d 4 h'."""
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s" if s % 60 else f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def _gib(size_bytes: int | None) -> str:
    return "unknown" if size_bytes is None else f"{size_bytes / 1024**3:,.1f} GiB"


def render_estimate(e: ResourceEstimate) -> str:
    w, r, i, f = e.workload, e.resources, e.intensity, e.feasibility
    words = ", ".join(ev.matched for ev in w.decided_by) or "-"
    out = [
        f"{w.workload} ({w.source}, confidence {w.confidence:.2f} {w.confidence_label}; decided by: {words}) "
        f"on {e.hardware}, {e.nodes} node(s), GPU {'on (RAPIDS)' if e.gpu_enabled else 'off'}",
        f"Data: {_gib(e.data_size_bytes)}" + (f" (from {e.data_size_from!r})" if e.data_size_from not in (None, "argument") else "")
        + f", {e.input_format}; operations: {', '.join(e.operations)}",
        f"Intensity: {i.label} (I/O {i.io_share:.0%}, compute {i.compute_share:.0%}, shuffle {i.shuffle_share:.0%})",
        f"Resources: {r.executors} executor(s) x {r.executor_cores} cores, {r.executor_memory_mib} MiB each "
        f"(heap {r.heap_mib} MiB); {r.cores_total} cores, {r.gpus_total} GPU(s) in all",
        "Memory: needs " + ("unknown" if r.memory_needed_gib is None else f"{r.memory_needed_gib:,.1f} GiB ({r.memory_needed_by})")
        + f", available {r.memory_available_gib:,.1f} GiB"
        + (f" (of which GPU pools {r.gpu_memory_gib:,.1f} GiB)" if r.gpu_memory_gib is not None else ""),
    ]
    if e.runtime is None:
        out.append("Runtime: unknown without a data size")
    else:
        rt = e.runtime
        out.append(f"Runtime: {human_duration(rt.low_s)} to {human_duration(rt.high_s)} "
                   f"(confidence {rt.confidence}; {rt.method})")
        out.append(f"  formula: {rt.formula}")
        out += [f"  past run {p.app_name or p.app_id} ({p.run_id}): {human_duration(p.duration_s)} on "
                f"{p.input_bytes / 1024**3:,.1f} GiB, {p.parallel_units} units -> {human_duration(p.scaled_s)} here"
                for p in rt.past_runs]
    out.append(f"Feasibility: {f.verdict}")
    out += [f"  - {reason}" for reason in f.reasons]
    if e.cost is None:
        out.append("Cost: unknown (see notes)")
    else:
        c = e.cost
        out.append(f"Cost: ${c.low_usd:,.2f} to ${c.high_usd:,.2f} ({c.gpu_hours_low:g} to {c.gpu_hours_high:g} GPU-hours)")
    out += [f"WARNING: {warning}" for warning in e.warnings]
    out += [f"note: {note}" for note in e.notes]
    if e.constants:
        out.append(f"{len(e.constants)} constants used; --json lists each with its source.")
    else:
        out.append("--detail full --json lists every constant used, with its source.")
    return "\n".join(out)
