"""The usage and cost report: per GPU, host, model, pod or namespace over a time window.

Method (stated in every report's ``method``):

* Samples are pivoted to one row per (GPU, timestamp) across metrics.
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
from functools import cache
from typing import Literal

from pydantic import BaseModel, Field

from ..errors import BadInputError
from ..hardware.profiles import Sourced
from ..knowledge import load_knowledge
from ..pricing import prices
from ..settings import Settings
from .engines import Engine, get_engine
from .queries import TimeWindow, parse_window, rounded, time_filter

__all__ = ["GroupUsage", "ReportThresholds", "TelemetryReport", "report_thresholds", "telemetry_report"]

GroupBy = Literal["gpu", "host", "model", "pod", "namespace"]
MIB_TO_GB = 1024 * 1024 / 1e9  # FB_USED is MiB; the billing model charges decimal GB

UTIL = "DCGM_FI_DEV_GPU_UTIL"
FB_USED = "DCGM_FI_DEV_FB_USED"
FB_FREE = "DCGM_FI_DEV_FB_FREE"
TEMP = "DCGM_FI_DEV_GPU_TEMP"
POWER = "DCGM_FI_DEV_POWER_USAGE"
THROTTLE = "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS"
XID = "DCGM_FI_DEV_XID_ERRORS"
SLOWDOWN = "DCGM_FI_DEV_SLOWDOWN_TEMP"


class SlowdownDefault(BaseModel):
    model_contains: str
    value: float
    source: str = Field(min_length=8)


class ReportThresholds(BaseModel):
    """``data/telemetry-report.json``."""

    about: str
    idle_util_pct: Sourced[float]
    idle_share: Sourced[float]
    hot_margin_c: Sourced[float]
    memory_pressure_ratio: Sourced[float]
    max_gap_factor: Sourced[float]
    throttle_idle_bit: Sourced[int]
    slowdown_temp_c: list[SlowdownDefault]

    def slowdown_for(self, model: str | None) -> float | None:
        for entry in self.slowdown_temp_c:
            if model and entry.model_contains.lower() in model.lower():
                return entry.value
        return None


@cache
def report_thresholds() -> ReportThresholds:
    return load_knowledge("telemetry-report.json", ReportThresholds)


class GpuFlag(BaseModel):
    uuid: str
    host: str | None
    detail: str


class Cost(BaseModel):
    gpu_usd: float
    memory_overage_usd: float
    overhead_usd: float
    total_usd: float


class GroupUsage(BaseModel):
    group: str | None = Field(description="The uuid, host, model, pod or namespace; null when the samples carry none.")
    gpus: int
    samples: int
    util_mean_pct: float | None
    util_p95_pct: float | None
    gpu_hours: float
    effective_gpu_hours: float | None = Field(description="GPU-hours x mean utilisation / 100.")
    energy_kwh: float | None = Field(description="Null when no power samples.")
    memory_used_mean_gb: float | None
    idle_gpus: list[GpuFlag]
    hot_gpus: list[GpuFlag]
    throttled_share: float | None = Field(description="Share of throttle-reason samples with a reason other than idle; null when absent.")
    memory_pressure_gpus: list[GpuFlag]
    xid_errors: dict[str, int] = Field(description="Non-zero XID code -> number of samples that reported it.")
    cost: Cost | None = Field(description="Null when there is no utilisation to make effective GPU-hours from.")


class PricesUsed(BaseModel):
    gpu_hour_usd: float
    memory_included_gb: float
    memory_overage_usd_per_gb_hour: float
    overhead_fraction: float


class TelemetryReport(BaseModel):
    engine: str
    window: TimeWindow
    group_by: str
    groups: list[GroupUsage]
    totals: GroupUsage
    prices: PricesUsed
    thresholds: dict[str, float]
    method: list[str]
    notes: list[str]


def _base(eng: Engine, lo: datetime | None, hi: datetime | None, key: str) -> str:
    """CTEs: one row per (GPU, ts) with the report's metrics, and the interval that ended at it."""
    pivot = ", ".join(
        f"max(CASE WHEN metric = {eng.string(m)} THEN value END) AS {c}"
        for c, m in (("util", UTIL), ("fb_used", FB_USED), ("fb_free", FB_FREE), ("temp", TEMP), ("power", POWER),
                     ("throttle", THROTTLE), ("xid", XID), ("slowdown", SLOWDOWN))
    )
    return f"""
        WITH wide AS (
            SELECT uuid, ts, max(host) AS host, max(model) AS model, max(pod) AS pod, max(namespace) AS namespace, {pivot}
            FROM samples WHERE {time_filter(eng, lo, hi)} GROUP BY uuid, ts),
        iv AS (
            SELECT w.*, {key} AS g,
                   {eng.micros('ts')} - lag({eng.micros('ts')}) OVER (PARTITION BY uuid ORDER BY ts) AS dt,
                   lag(power) OVER (PARTITION BY uuid ORDER BY ts) AS prev_power
            FROM wide w),
        typ AS (SELECT uuid, {eng.quantile('dt', 0.5)} AS median_dt FROM iv WHERE dt IS NOT NULL GROUP BY uuid),
        obs AS (
            SELECT iv.*, CASE WHEN iv.dt IS NOT NULL AND iv.dt <= typ.median_dt * {{gap}} THEN iv.dt ELSE 0 END AS kept
            FROM iv LEFT JOIN typ ON iv.uuid = typ.uuid)"""


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
    engine: str = "duckdb",
    spark_master: str | None = None,
    now: datetime | None = None,
) -> TelemetryReport:
    """Usage, health flags and cost per group over the window (default: everything stored)."""
    if group_by not in _KEYS:
        raise BadInputError(f"group_by {group_by!r} is not one of {list(_KEYS)}; pick one")
    for name, value in (("idle_util_pct", idle_util_pct), ("hot_margin_c", hot_margin_c), ("gpu_hour_usd", gpu_hour_usd),
                        ("memory_included_gb", memory_included_gb),
                        ("memory_overage_usd_per_gb_hour", memory_overage_usd_per_gb_hour),
                        ("overhead_fraction", overhead_fraction)):
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
    lo, hi, window = parse_window(start, end, now)
    eng = get_engine(settings, engine, spark_master)
    notes: list[str] = []

    def run(key: str) -> tuple[list[tuple], list[tuple], list[tuple]]:
        base = _base(eng, lo, hi, key).replace("{gap}", repr(float(t.max_gap_factor.value)))
        per_gpu = eng.rows(f"""{base}
            SELECT g, uuid, max(host), max(model), count(*), count(util), sum(CASE WHEN util < {float(idle)!r} THEN 1 ELSE 0 END),
                   max(temp), max(slowdown), count(throttle), sum(CASE WHEN throttle >= 2 THEN 1 ELSE 0 END),
                   max(CASE WHEN fb_used + fb_free > 0 THEN fb_used / (fb_used + fb_free) END),
                   CAST(sum(kept) AS BIGINT),
                   sum(CASE WHEN kept > 0 THEN coalesce((power + prev_power) / 2, power, prev_power) * kept END),
                   count(power), sum(util), sum(CASE WHEN kept > 0 THEN kept * util END), sum(CASE WHEN util IS NOT NULL THEN kept END)
            FROM obs GROUP BY g, uuid ORDER BY g, uuid""")
        per_group = eng.rows(f"""{base}
            SELECT g, avg(util), {eng.quantile('util', 0.95)}, avg(fb_used) FROM obs GROUP BY g ORDER BY g""")
        xids = eng.rows(f"""{base}
            SELECT g, CAST(xid AS BIGINT), count(*) FROM obs WHERE xid > 0 GROUP BY g, CAST(xid AS BIGINT) ORDER BY 1, 2""")
        return per_gpu, per_group, xids

    per_gpu, per_group, xids = run(_KEYS[group_by])
    _, all_group, all_xids = run("'all'")
    if not per_gpu:
        notes.append("no samples in the window: ingest telemetry, or widen start/end (call list_gpus for the stored time span)")

    def usage(group: str | None, gpus: list[tuple], stats: tuple | None, codes: dict[str, int]) -> GroupUsage:
        idle_flags, hot, pressure = [], [], []
        for r in gpus:
            uuid, host, model = r[1], r[2], r[3]
            if r[5] and r[6] / r[5] > t.idle_share.value:
                idle_flags.append(GpuFlag(uuid=uuid, host=host, detail=f"{r[6]} of {r[5]} utilisation samples under {idle:g}%"))
            slowdown = r[8] if r[8] is not None else t.slowdown_for(model)
            if r[7] is not None and slowdown is not None and r[7] >= slowdown - margin:
                origin = "stored" if r[8] is not None else "model default"
                hot.append(GpuFlag(uuid=uuid, host=host,
                                   detail=f"max {r[7]:g} C, slowdown at {slowdown:g} C ({origin}), margin {margin:g} C"))
            if r[11] is not None and r[11] > t.memory_pressure_ratio.value:
                pressure.append(GpuFlag(uuid=uuid, host=host,
                                        detail=f"peak framebuffer use {r[11] * 100:.1f}% (threshold {t.memory_pressure_ratio.value * 100:g}%)"))
        hours = sum(int(r[12] or 0) for r in gpus) / 3.6e9
        energy_parts = [r[13] for r in gpus if r[13] is not None]
        has_power = any(r[14] for r in gpus)
        throttle_n = sum(r[9] for r in gpus)
        util_mean = stats[1] if stats else None
        mem_mean_gb = stats[3] * MIB_TO_GB if stats and stats[3] is not None else None
        cost = None
        effective = None
        if util_mean is not None:
            effective = hours * util_mean / 100
            gpu_usd = effective * used.gpu_hour_usd
            overage = max(0.0, (mem_mean_gb or 0.0) - used.memory_included_gb) * used.memory_overage_usd_per_gb_hour * hours
            overhead = (gpu_usd + overage) * used.overhead_fraction
            cost = Cost(gpu_usd=round(gpu_usd, 2), memory_overage_usd=round(overage, 2), overhead_usd=round(overhead, 2),
                        total_usd=round(gpu_usd + overage + overhead, 2))
        return GroupUsage(
            group=group, gpus=len({r[1] for r in gpus}), samples=sum(int(r[4]) for r in gpus),
            util_mean_pct=rounded(util_mean, 3), util_p95_pct=rounded(stats[2], 3) if stats else None,
            gpu_hours=round(hours, 6), effective_gpu_hours=rounded(effective),
            energy_kwh=round(sum(energy_parts) / 3.6e12, 6) if has_power and energy_parts else (0.0 if has_power else None),
            memory_used_mean_gb=rounded(mem_mean_gb, 3), idle_gpus=idle_flags, hot_gpus=hot,
            throttled_share=round(sum(r[10] for r in gpus) / throttle_n, 6) if throttle_n else None,
            memory_pressure_gpus=pressure, xid_errors=codes, cost=cost,
        )

    def codes_of(rows: list[tuple], group: str | None) -> dict[str, int]:
        return {str(code): int(n) for g, code, n in rows if g == group}

    stats_by = {r[0]: r for r in per_group}
    # Sorted here, not in SQL: the engines order NULLs differently (DuckDB last, Spark first).
    groups_seen = sorted(dict.fromkeys(r[0] for r in per_gpu), key=lambda g: (g is None, str(g)))
    groups = [usage(g, [r for r in per_gpu if r[0] == g], stats_by.get(g), codes_of(xids, g)) for g in groups_seen]
    all_stats = all_group[0] if all_group else None
    totals = usage("all", [("all", *r[1:]) for r in per_gpu], all_stats, codes_of(all_xids, "all"))
    if per_gpu:
        # Totals count each GPU once even when it moved between groups (pods, hosts).
        totals.gpus = len({r[1] for r in per_gpu})
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
    method = [
        f"GPU-hours: per GPU, the sum of intervals between consecutive sample times, leaving out gaps longer than "
        f"{t.max_gap_factor.value:g}x its median interval (not observed); an interval counts for the group of its later sample",
        "energy: power (W) integrated over those intervals (trapezoids), in kWh",
        "utilisation mean and p95 over the group's DCGM_FI_DEV_GPU_UTIL samples (p95 interpolated linearly)",
        f"idle GPU: more than {t.idle_share.value * 100:g}% of its utilisation samples under {idle:g}%",
        f"hot GPU: max temperature within {margin:g} C of its slowdown temperature (stored {SLOWDOWN}, else a per-model default)",
        "throttled_share: share of throttle-reason samples with any reason but GpuIdle (bitmask value >= 2)",
        f"memory pressure: peak FB used / (used + free) above {t.memory_pressure_ratio.value:g}",
        "cost: effective GPU-hours (GPU-hours x mean util / 100) x GPU-hour price + max(0, mean memory GB - included GB) x "
        "overage price x GPU-hours, plus overhead; money rounded to cents; totals computed over all samples at once",
    ]
    thresholds = {"idle_util_pct": idle, "idle_share": t.idle_share.value, "hot_margin_c": margin,
                  "memory_pressure_ratio": t.memory_pressure_ratio.value, "max_gap_factor": t.max_gap_factor.value}
    return TelemetryReport(engine=eng.name, window=window, group_by=group_by, groups=groups, totals=totals, prices=used,
                           thresholds=thresholds, method=method, notes=notes)

