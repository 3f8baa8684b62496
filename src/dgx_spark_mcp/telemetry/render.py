"""Plain-text views of telemetry results for the CLI (``--json`` prints the tool output instead)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .ingest import IngestResult
    from .queries import GpuList, HostList, TelemetrySeries
    from .report import TelemetryReport
    from .sampler import SampleResult

__all__ = ["render_gpus", "render_hosts", "render_ingest", "render_report", "render_sample", "render_series"]


def _window(start: str | None, end: str | None) -> str:
    return f"{start or 'the first sample'} .. {end or 'the last'}"


def _num(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:g}{unit}"


def render_ingest(r: IngestResult) -> str:
    lines = [f"{r.source}: {r.format}, {r.rows_read} samples read, {r.rows_stored} stored, {r.duplicates} already stored "
             f"({r.seconds:.2f} s)",
             f"  {r.gpus} GPU(s) on {len(r.hosts)} host(s), {len(r.metrics)} metric(s), {r.first_ts} .. {r.last_ts}"]
    if r.blanks:
        lines.append(f"  {r.blanks} DCGM blank value(s) stored as null")
    lines += [f"  rejected {count}: {reason}" for reason, count in r.rejected.items() if count]
    lines += [f"  note: {n}" for n in r.notes]
    return "\n".join(lines)


def render_sample(r: SampleResult) -> str:
    if not r.available:
        return f"nothing sampled: {r.reason}"
    lines = [f"{r.host}: {r.ticks} tick(s) x {len(r.gpus)} GPU(s) x {len(r.metrics)} metric(s) = {r.samples} samples, "
             f"{r.stored} stored"]
    lines += [f"  GPU {g.index} {g.uuid} {g.model or ''}" + (f" (unsupported: {', '.join(g.unsupported)})" if g.unsupported else "")
              for g in r.gpus]
    lines += [f"  note: {n}" for n in r.notes]
    return "\n".join(lines)


def render_gpus(r: GpuList) -> str:
    if not r.gpus:
        return r.note or "no GPUs stored"
    lines = []
    for g in r.gpus:
        lines.append(f"{g.host}:{g.index} {g.uuid} {g.model or ''} driver {g.driver or '-'}  {g.first_seen} .. {g.last_seen} "
                     f"({g.samples} samples)")
        lines += [f"    {v.alias or v.metric} = {_num(v.value)} {v.unit or ''} at {v.ts}" for v in g.latest]
    return "\n".join(lines)


def render_hosts(r: HostList) -> str:
    if not r.hosts:
        return r.note or "no hosts stored"
    return "\n".join(f"{h.host}: {h.gpus} GPU(s) {', '.join(h.models)}  {h.first_seen} .. {h.last_seen}" for h in r.hosts)


def render_series(r: TelemetrySeries) -> str:
    head = f"{len(r.points)} point(s), {len(r.gpus)} GPU(s), {_window(r.window.start, r.window.end)}"
    if r.bucket:
        head += f", bucket {r.bucket} ({', '.join(r.aggregates)})"
    lines = [head]
    for p in r.points:
        values = [f"value={_num(p.value)}"] if r.bucket is None else [
            f"{a}={_num(getattr(p, a, None))}" for a in r.aggregates]
        lines.append(f"{p.ts} {p.uuid} {p.metric} " + " ".join(values))
    if r.truncated:
        lines.append(f"more points follow: --cursor {r.next_cursor}")
    return "\n".join(lines)


def render_report(r: TelemetryReport) -> str:
    lines = [f"GPU usage {_window(r.window.start, r.window.end)} by {r.group_by} ({r.engine})"]
    for g in [*r.groups, r.totals]:
        name = "TOTAL" if g is r.totals else (g.group or "(none)")
        cost = f"${g.cost.total_usd:.2f}" if g.cost else "-"
        lines.append(f"  {name}: {g.gpus} GPU(s), util mean {_num(g.util_mean_pct, '%')} p95 {_num(g.util_p95_pct, '%')}, "
                     f"{g.gpu_hours:g} GPU-h, {_num(g.energy_kwh, ' kWh')}, cost {cost}")
        for label, flags in (("idle", g.idle_gpus), ("hot", g.hot_gpus), ("memory pressure", g.memory_pressure_gpus)):
            lines += [f"    {label}: {f.host}/{f.uuid} {f.detail}" for f in flags]
        if g.xid_errors:
            lines.append("    XID errors: " + ", ".join(f"{code} x{n}" for code, n in g.xid_errors.items()))
    lines += [f"  note: {n}" for n in r.notes]
    return "\n".join(lines)
