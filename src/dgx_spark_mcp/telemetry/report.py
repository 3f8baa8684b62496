"""The usage and cost report: per GPU, host, model, pod or namespace over a time window.

``detail="summary"`` (the default) answers first: totals, the flagged GPUs (idle, hot, throttled,
XID, memory pressure; the worst few of each with their count) and the top rows by cost.
``detail="full"`` pages through every row (``limit``/``cursor``) with the method and thresholds.

Method (stated in every full report's ``method``; the figures come from :mod:`.usage`):

* **GPU-hours** = the sum, per GPU, of the intervals between consecutive sample timestamps,
  leaving out gaps longer than ``max_gap_factor`` x the GPU's median interval (collection was
  down: the GPU was not observed).  An interval counts for the group of the sample that ends it.
* **Energy** integrates power over the same intervals (trapezoids; one side when the other is blank).
* **Cost** follows the billing model of ``data/prices.json`` (knowledge/telemetry-formats.md):
  effective GPU-hours = GPU-hours x mean utilisation / 100; GPU cost = effective GPU-hours x price;
  memory overage = max(0, mean FB used GB - included GB) x price per GB-hour x GPU-hours;
  total = (GPU cost + overage) x (1 + overhead), in cents.  The arguments override the prices.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from ..errors import BadInputError
from ..pricing import prices
from ..settings import Settings
from .cursor import decode, encode, fingerprint, offset_of
from .engines import get_engine
from .flags import FLAG_KINDS, FlagGroup, GpuFlag, fleet_flags, group_flags
from .store import TelemetryStore
from .timespec import is_relative
from .usage import FB_FREE, FB_USED, POWER, SLOWDOWN, TEMP, THROTTLE, UTIL, ReportThresholds, report_thresholds, usage_rows
from .window import TimeWindow, parse_window, rounded, utc_now

__all__ = ["REPORT_ARGUMENT_MAX", "Cost", "GroupUsage", "ReportThresholds", "TelemetryReport", "TopRow",
           "override_arguments", "report_thresholds", "telemetry_report"]

MIB_TO_GB = 1024 * 1024 / 1e9  # FB_USED is MiB; the billing model charges decimal GB
TOP_ROWS = 5
REPORT_LIMIT = 25
"""Rows of a full page by default: about 5,000 tokens."""
MAX_REPORT_LIMIT = 1000
_KEYS = {"gpu": "uuid", "host": "host", "model": "model", "pod": "pod", "namespace": "namespace"}

REPORT_ARGUMENT_MAX: dict[str, float] = {
    "idle_util_pct": 100.0,  # a utilisation percentage
    "hot_margin_c": 200.0,  # no GPU runs 200 C below its slowdown temperature
    "gpu_hour_usd": 1e6,
    "memory_included_gb": 1e6,
    "memory_overage_usd_per_gb_hour": 1e6,
    "overhead_fraction": 100.0,  # 10,000 % overhead
}
"""Largest values the report's overrides accept: far above any real price, and low enough that no cost
over any window can overflow to Infinity (which JSON cannot carry)."""


def override_arguments(overrides: dict[str, float]) -> dict[str, float]:
    """The tool's ``overrides`` object as telemetry_report's keyword arguments; an unknown name is refused."""
    unknown = sorted(set(overrides) - set(REPORT_ARGUMENT_MAX))
    if unknown:
        raise BadInputError(f"unknown override(s) {unknown}; use any of {list(REPORT_ARGUMENT_MAX)}")
    return dict(overrides)


class Cost(BaseModel):
    gpu_usd: float
    memory_overage_usd: float
    overhead_usd: float
    total_usd: float


class GroupUsage(BaseModel):
    group: str | None = Field(default=None, description="The uuid, host, model, pod or namespace; null when the samples carry none.")
    gpus: int
    samples: int
    util_mean_pct: float | None = None
    util_p95_pct: float | None = None
    gpu_hours: float
    effective_gpu_hours: float | None = Field(default=None, description="GPU-hours x mean utilisation / 100.")
    energy_kwh: float | None = Field(default=None, description="Null when no power samples.")
    memory_used_mean_gb: float | None = None
    throttled_share: float | None = Field(default=None, description="Share of throttle-reason samples with a reason other than idle; null when absent.")
    xid_errors: dict[str, int] = Field(default_factory=dict, description="Non-zero XID code -> number of samples that reported it.")
    cost: Cost | None = Field(default=None, description="Null when there is no utilisation to make effective GPU-hours from.")
    idle_gpus: list[GpuFlag] = Field(default_factory=list)
    hot_gpus: list[GpuFlag] = Field(default_factory=list)
    memory_pressure_gpus: list[GpuFlag] = Field(default_factory=list)
    flagged: dict[str, int] = Field(default_factory=dict, description="Per flag, how many GPUs, when its list was cut.")


class TopRow(BaseModel):
    group: str | None = None
    gpus: int
    util_mean_pct: float | None = None
    gpu_hours: float
    energy_kwh: float | None = None
    cost_usd: float | None = None


class PricesUsed(BaseModel):
    gpu_hour_usd: float
    memory_included_gb: float
    memory_overage_usd_per_gb_hour: float
    overhead_fraction: float


class TelemetryReport(BaseModel):
    engine: str
    detail: Literal["summary", "full"]
    window: TimeWindow
    group_by: str
    totals: GroupUsage = Field(description="Over every sample of the window (each GPU counted once).")
    flags: dict[str, FlagGroup] = Field(
        default_factory=dict, description=f"Flagged GPUs of the whole window: {', '.join(FLAG_KINDS)}; worst first.")
    groups_total: int = Field(description="Rows (groups) in the whole report.")
    top: list[TopRow] = Field(default_factory=list, description=f"Summary: the {TOP_ROWS} rows costing most.")
    groups: list[GroupUsage] = Field(default_factory=list, description="Full: one page of the rows.")
    next_cursor: str | None = Field(default=None, description="More rows follow: call again with cursor=next_cursor.")
    prices: PricesUsed
    thresholds: dict[str, float] = Field(default_factory=dict, description="Full: the thresholds of the flags.")
    method: list[str] = Field(default_factory=list, description="Full: how each figure is made.")
    notes: list[str] = Field(default_factory=list)
    more: str | None = Field(default=None, description="What else there is and how to get it.")


def telemetry_report(
    settings: Settings,
    *,
    start: str | None = None,
    end: str | None = None,
    group_by: str = "gpu",
    idle_util_pct: float | None = None,
    hot_margin_c: float | None = None,
    gpu_hour_usd: float | None = None,
    memory_included_gb: float | None = None,
    memory_overage_usd_per_gb_hour: float | None = None,
    overhead_fraction: float | None = None,
    detail: str = "summary",
    limit: int | None = None,
    cursor: str | None = None,
    engine: str = "duckdb",
    spark_master: str | None = None,
    now: datetime | None = None,
) -> TelemetryReport:
    """Usage, health flags and cost over the window (default: everything stored): the summary, or a page of every
    row (``detail="full"``, ``limit`` rows from ``cursor``)."""
    if group_by not in _KEYS:
        raise BadInputError(f"group_by {group_by!r} is not one of {list(_KEYS)}; pick one")
    if detail not in ("summary", "full"):
        raise BadInputError(f"detail {detail!r} is not one of ['summary', 'full']; pick one")
    if limit is not None and not 1 <= limit <= MAX_REPORT_LIMIT:
        raise BadInputError(f"limit {limit} is out of range; give 1 to {MAX_REPORT_LIMIT} and page with the cursor")
    overrides = {"idle_util_pct": idle_util_pct, "hot_margin_c": hot_margin_c, "gpu_hour_usd": gpu_hour_usd,
                 "memory_included_gb": memory_included_gb, "memory_overage_usd_per_gb_hour": memory_overage_usd_per_gb_hour,
                 "overhead_fraction": overhead_fraction}
    for name, value in overrides.items():
        if value is not None and not 0 <= value <= REPORT_ARGUMENT_MAX[name]:
            raise BadInputError(
                f"{name} {value} is outside 0..{REPORT_ARGUMENT_MAX[name]:g}; give a value in that range or leave it out "
                "for the default"
            )
    t = report_thresholds()
    p = prices()
    used = PricesUsed(
        gpu_hour_usd=p.gpu_hour_usd.value if gpu_hour_usd is None else gpu_hour_usd,
        memory_included_gb=p.memory_included_gb.value if memory_included_gb is None else memory_included_gb,
        memory_overage_usd_per_gb_hour=(p.memory_overage_usd_per_gb_hour.value if memory_overage_usd_per_gb_hour is None
                                        else memory_overage_usd_per_gb_hour),
        overhead_fraction=p.overhead_fraction.value if overhead_fraction is None else overhead_fraction,
    )
    idle = t.idle_util_pct.value if idle_util_pct is None else idle_util_pct
    margin = t.hot_margin_c.value if hot_margin_c is None else hot_margin_c
    # Full pages: a cursor for these arguments; a relative window is read from the first page's 'now'.
    print_ = fingerprint(tool="telemetry_report", start=start, end=end, group_by=group_by, **overrides)
    position, anchored = decode(cursor, print_) if cursor else ([], None)
    if cursor and detail != "full":
        raise BadInputError("a cursor pages the rows of detail='full'; add detail='full', or leave the cursor out")
    now_used = utc_now(anchored or now) if is_relative(start) or is_relative(end) else None
    lo, hi, window = parse_window(start, end, now_used or now)
    eng = get_engine(settings, engine, spark_master)
    figures = usage_rows(eng, lo, hi, _KEYS[group_by], idle, TelemetryStore(settings))
    per_gpu = figures.per_gpu

    def usage(group: str | None, gpus: list[tuple[Any, ...]], stats: tuple[Any, ...] | None, codes: dict[str, int],
              flagged: bool) -> GroupUsage:
        hours = sum(int(r[12] or 0) for r in gpus) / 3.6e9
        energy_parts = [r[13] for r in gpus if r[13] is not None]
        has_power = any(r[14] for r in gpus)
        throttle_n = sum(r[9] for r in gpus)
        util_mean = stats[1] if stats else None
        mem_mean_gb = stats[3] * MIB_TO_GB if stats and stats[3] is not None else None
        cost = effective = None
        if util_mean is not None:
            effective = hours * util_mean / 100
            gpu_usd = effective * used.gpu_hour_usd
            overage = max(0.0, (mem_mean_gb or 0.0) - used.memory_included_gb) * used.memory_overage_usd_per_gb_hour * hours
            overhead = (gpu_usd + overage) * used.overhead_fraction
            cost = Cost(gpu_usd=round(gpu_usd, 2), memory_overage_usd=round(overage, 2), overhead_usd=round(overhead, 2),
                        total_usd=round(gpu_usd + overage + overhead, 2))
        row = GroupUsage(
            group=group, gpus=len({r[1] for r in gpus}), samples=sum(int(r[4]) for r in gpus),
            util_mean_pct=rounded(util_mean, 3), util_p95_pct=rounded(stats[2], 3) if stats else None,
            gpu_hours=round(hours, 6), effective_gpu_hours=rounded(effective),
            energy_kwh=round(sum(energy_parts) / 3.6e12, 6) if has_power and energy_parts else (0.0 if has_power else None),
            memory_used_mean_gb=rounded(mem_mean_gb, 3),
            throttled_share=round(sum(r[10] for r in gpus) / throttle_n, 6) if throttle_n else None,
            xid_errors=codes, cost=cost,
        )
        if flagged:
            row.idle_gpus, row.hot_gpus, row.memory_pressure_gpus, row.flagged = group_flags(gpus, t, idle, margin)
        return row

    by_group: dict[Any, list[tuple[Any, ...]]] = {}
    for r in per_gpu:
        by_group.setdefault(r[0], []).append(r)
    groups_seen = list(by_group)
    totals = usage("all", per_gpu, figures.overall, _codes(figures.xids), flagged=False)
    totals.gpus = len({r[1] for r in per_gpu})  # each GPU once, even when it moved between groups (pods, hosts)
    answer = TelemetryReport(engine=eng.name, detail=detail, window=window, group_by=group_by,  # type: ignore[arg-type]
                             totals=totals, groups_total=len(groups_seen), prices=used,
                             notes=_notes(per_gpu, t))

    def row_of(group: Any) -> GroupUsage:
        return usage(group, by_group[group], figures.per_group.get(group),
                     _codes(figures.xids, group), flagged=True)

    if not position:  # the first page (and the summary) answers first: the flags of the whole window
        answer.flags = fleet_flags(per_gpu, figures.xids, t, idle, margin)
    if detail == "summary":
        rows = [row_of(g) for g in groups_seen]
        ranked = sorted(rows, key=lambda g: (-(g.cost.total_usd if g.cost else -1.0), -g.gpu_hours, str(g.group)))
        answer.top = [TopRow(group=g.group, gpus=g.gpus, util_mean_pct=g.util_mean_pct, gpu_hours=g.gpu_hours,
                             energy_kwh=g.energy_kwh, cost_usd=g.cost.total_usd if g.cost else None)
                      for g in ranked[:TOP_ROWS]]
        answer.more = (f"detail='full' gives all {len(groups_seen)} rows by {group_by} (paged), each with its figures, "
                       "cost parts and flagged GPUs, and the method") if groups_seen else None
        return answer
    first = offset_of(position) if position else 0
    size = limit or REPORT_LIMIT
    answer.groups = [row_of(g) for g in groups_seen[first:first + size]]
    following = first + len(answer.groups)
    if following < len(groups_seen):
        answer.next_cursor = encode(print_, [following], now_used)
        answer.more = f"{len(groups_seen) - following} more rows: cursor=next_cursor (later pages carry the rows only)"
    if not position:
        answer.thresholds = {"idle_util_pct": idle, "idle_share": t.idle_share.value, "hot_margin_c": margin,
                             "memory_pressure_ratio": t.memory_pressure_ratio.value,
                             "max_gap_factor": t.max_gap_factor.value}
        answer.method = _method(t, idle, margin)
    return answer


_EVERY = object()


def _codes(xids: list[tuple[Any, ...]], group: Any = _EVERY) -> dict[str, int]:
    """XID code -> samples in one group (a group may be None: samples without a pod), or in every group."""
    counts: dict[str, int] = {}
    for g, _, code, n in xids:
        if group is _EVERY or g == group:
            counts[str(code)] = counts.get(str(code), 0) + int(n)
    return counts


def _notes(per_gpu: list[tuple[Any, ...]], t: ReportThresholds) -> list[str]:
    if not per_gpu:
        return ["no samples in the window: ingest telemetry, or widen start/end (call list_gpus for the stored time span)"]
    notes = []
    if not any(r[5] for r in per_gpu):
        notes.append(f"no {UTIL} samples: utilisation, idle GPUs, effective GPU-hours and cost are unknown")
    if not any(r[14] for r in per_gpu):
        notes.append(f"no {POWER} samples: energy is unknown")
    if not any(r[9] for r in per_gpu):
        notes.append(f"no {THROTTLE} samples: clock throttling is unknown (throttled_share null), not zero")
    if not any(r[7] is not None for r in per_gpu):
        notes.append(f"no {TEMP} samples: hot GPUs cannot be found")
    unknown_slowdown = sorted({str(r[3]) for r in per_gpu if r[8] is None and t.slowdown_for(r[3]) is None and r[7] is not None})
    if unknown_slowdown:
        notes.append(f"no {SLOWDOWN} stored and no default slowdown temperature for {', '.join(unknown_slowdown)}: "
                     "those GPUs are never flagged hot")
    if not any(r[11] is not None for r in per_gpu):
        notes.append(f"no {FB_USED} with {FB_FREE} at the same time: memory pressure is unknown")
    if not any(r[12] for r in per_gpu):
        notes.append("fewer than two samples per GPU: GPU-hours and energy are 0")
    return notes


def _method(t: ReportThresholds, idle: float, margin: float) -> list[str]:
    return [
        f"GPU-hours: per GPU, the sum of intervals between consecutive sample times, leaving out gaps longer than "
        f"{t.max_gap_factor.value:g}x its median interval (not observed); an interval counts for the group of its later sample",
        "energy: power (W) integrated over those intervals (trapezoids), in kWh",
        "utilisation mean and p95 over the group's DCGM_FI_DEV_GPU_UTIL samples (p95 interpolated linearly)",
        f"idle GPU: more than {t.idle_share.value * 100:g}% of its utilisation samples under {idle:g}%",
        f"hot GPU: max temperature within {margin:g} C of its slowdown temperature (stored {SLOWDOWN}, else a per-model default)",
        "throttled: share of throttle-reason samples with any reason but GpuIdle (bitmask value >= 2)",
        f"memory pressure: peak FB used / (used + free) above {t.memory_pressure_ratio.value:g}",
        "cost: effective GPU-hours (GPU-hours x mean util / 100) x GPU-hour price + max(0, mean memory GB - included GB) x "
        "overage price x GPU-hours, plus overhead; money rounded to cents; totals computed over all samples at once",
    ]
