"""Plain-text views of telemetry results for the CLI (``--json`` prints the tool output instead)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .ingest_summary import IngestSummary
    from .inventory import GpuList
    from .queries import TelemetrySeries
    from .report import GroupUsage, TelemetryReport
    from .sampler import SampleResult

__all__ = ["render_gpus", "render_ingest", "render_report", "render_sample", "render_series"]


def _window(start: str | None, end: str | None) -> str:
    return f"{start or 'the first sample'} .. {end or 'the last'}"


def _num(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:g}{unit}"


def _next(cursor: str | None, what: str) -> list[str]:
    return [f"more {what} follow: --cursor {cursor}"] if cursor else []


def render_ingest(r: IngestSummary) -> str:
    lines = [f"{r.source}: {r.format}, {r.rows_read} samples read, {r.rows_stored} stored, {r.duplicates} already stored "
             f"({r.seconds:.2f} s)",
             f"  {r.gpus} GPU(s) on {r.hosts} host(s), {len(r.metrics)} metric(s), {r.first_ts} .. {r.last_ts}"]
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
    if r.note:
        return r.note
    if r.by == "host":
        lines = [f"{h.host}: {h.gpus} GPU(s) {', '.join(h.models)}, {h.samples} samples  {h.first_seen} .. {h.last_seen}"
                 for h in r.hosts]
        return "\n".join([f"{len(r.hosts)} of {r.total} host(s)", *lines, *_next(r.next_cursor, "hosts")])
    lines = [f"{len(r.gpus)} of {r.total} GPU(s)"]
    for g in r.gpus:
        head = f"{g.host}:{g.index} {g.uuid} {g.model or ''}  last {g.last_seen} ({g.samples} samples)"
        if not g.first_seen:  # the summary: the key metrics on the GPU's line
            lines.append(head + "  " + ", ".join(f"{name} {_num(v)}{r.units.get(name, '')}" for name, v in g.latest.items()))
            continue
        lines += [head, f"    driver {g.driver or '-'}, first {g.first_seen}"]
        lines += [f"    {name} = {_num(value)} {r.units.get(name, '')}" + (f" at {g.latest_at[name]}" if name in g.latest_at else "")
                  for name, value in g.latest.items()]
    return "\n".join(lines + _next(r.next_cursor, "GPUs"))


def render_series(r: TelemetrySeries) -> str:
    if r.note:
        return r.note
    head = f"{r.gpus} GPU(s), {_window(r.window.start, r.window.end)}"
    if r.bucket:
        head += f", bucket {r.bucket}"
    lines = [head]
    if r.detail == "summary":
        lines.append(f"  {'metric':<18} " + " ".join(f"{c:>10}" for c in r.columns))
        for g in r.stats:
            lines.append(f"{g.host}:{g.index} {g.uuid}  {g.first or r.first or '-'} .. {g.last or r.last or '-'}")
            for metric, values in g.stats.items():
                unit = r.units.get(metric, "")
                lines.append(f"  {metric + (f' ({unit})' if unit else ''):<18} " + " ".join(f"{_num(v):>10}" for v in values))
    else:
        lines.append("  " + " ".join(r.columns))
        for s in r.series:
            lines.append(f"{s.uuid} {s.metric} ({r.units.get(s.metric, '?')})")
            lines += ["  " + " ".join(str(v) if isinstance(v, str) else _num(v) for v in row) for row in s.rows]
    if r.chart:
        lines.append(f"chart: {r.chart}")
    return "\n".join(lines + _next(r.next_cursor, "GPUs" if r.detail == "summary" else "points"))


def _group_line(name: str, g: GroupUsage) -> str:
    cost = f"${g.cost.total_usd:.2f}" if g.cost else "-"
    return (f"  {name}: {g.gpus} GPU(s), util mean {_num(g.util_mean_pct, '%')} p95 {_num(g.util_p95_pct, '%')}, "
            f"{g.gpu_hours:g} GPU-h, {_num(g.energy_kwh, ' kWh')}, cost {cost}")


def render_report(r: TelemetryReport) -> str:
    lines = [f"GPU usage {_window(r.window.start, r.window.end)} by {r.group_by} ({r.engine}), {r.groups_total} row(s)",
             _group_line("TOTAL", r.totals)]
    if r.totals.xid_errors:
        lines.append("    XID errors: " + ", ".join(f"{code} x{n}" for code, n in r.totals.xid_errors.items()))
    for kind, found in r.flags.items():
        lines.append(f"  {kind}: {found.count} GPU(s)" + (f", the worst {len(found.gpus)}:" if found.count > len(found.gpus) else ":"))
        lines += [f"    {f.host}/{f.uuid} {f.detail}" for f in found.gpus]
    if r.top:
        lines.append("  costliest:")
        lines += [f"    {t.group or '(none)'}: {t.gpus} GPU(s), {t.gpu_hours:g} GPU-h, util {_num(t.util_mean_pct, '%')}, "
                  f"{'$' + format(t.cost_usd, '.2f') if t.cost_usd is not None else '-'}" for t in r.top]
    for g in r.groups:
        lines.append(_group_line(g.group or "(none)", g))
        for label, flags in (("idle", g.idle_gpus), ("hot", g.hot_gpus), ("memory pressure", g.memory_pressure_gpus)):
            lines += [f"    {label}: {f.host}/{f.uuid} {f.detail}" for f in flags]
        if g.xid_errors:
            lines.append("    XID errors: " + ", ".join(f"{code} x{n}" for code, n in g.xid_errors.items()))
    lines += [f"  note: {n}" for n in r.notes]
    return "\n".join(lines + _next(r.next_cursor, "rows"))
