"""The report's raw figures: what the samples of a window say per GPU and per group, in two SQL queries.

Samples are pivoted to one row per (GPU, timestamp) across metrics; each row carries the interval
that ended at it (the time since the GPU's previous sample), kept only when it is no longer than
``max_gap_factor`` x the GPU's median interval (longer: collection was down, the GPU was not
observed).  From those rows, in one pass (grouping sets): one row per (group, GPU) with counts, sums and
maxima, and mean and p95 utilisation and mean memory per group and over everything; in a second, the
XID codes per (group, GPU).  (The report made six passes before; the pivot is most of each one's cost.)

A report over a 100 M-row store takes tens of seconds, and an agent reading it a page at a time,
or asking for the full rows after the summary, asks for the same figures again: they are kept
in-process (a few windows) under the store's batches, so a new ingest makes them new.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from pydantic import BaseModel, Field

from ..hardware.profiles import Sourced
from ..knowledge import load_knowledge
from .engines import Engine
from .store import TelemetryStore
from .window import time_filter

__all__ = ["FB_FREE", "FB_USED", "GPU_ROW", "POWER", "SLOWDOWN", "TEMP", "THROTTLE", "UTIL", "XID", "ReportThresholds",
           "UsageRows", "report_thresholds", "usage_rows"]

UTIL = "DCGM_FI_DEV_GPU_UTIL"
FB_USED = "DCGM_FI_DEV_FB_USED"
FB_FREE = "DCGM_FI_DEV_FB_FREE"
TEMP = "DCGM_FI_DEV_GPU_TEMP"
POWER = "DCGM_FI_DEV_POWER_USAGE"
THROTTLE = "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS"
XID = "DCGM_FI_DEV_XID_ERRORS"
SLOWDOWN = "DCGM_FI_DEV_SLOWDOWN_TEMP"

GPU_ROW = ("group", "uuid", "host", "model", "rows", "util_n", "idle_n", "temp_max", "slowdown_max", "throttle_n",
           "throttled_n", "fb_ratio_max", "kept_us", "energy_ws", "power_n", "util_sum", "util_time", "util_kept_us")
"""The columns of a per-GPU row, by position (the SQL below selects them in this order)."""


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


@dataclass(frozen=True)
class UsageRows:
    per_gpu: list[tuple[Any, ...]]
    """One row per (group, GPU), columns :data:`GPU_ROW`, ordered by group and uuid."""
    per_group: dict[Any, tuple[Any, ...]]
    """group -> (group, mean util, p95 util, mean FB used MiB)."""
    overall: tuple[Any, ...] | None
    """The same over every sample of the window, or None when there is none."""
    xids: list[tuple[Any, ...]]
    """(group, uuid, XID code, samples) for every non-zero code."""


def _base(eng: Engine, lo: datetime | None, hi: datetime | None, key: str, gap: float) -> str:
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
            SELECT iv.*, CASE WHEN iv.dt IS NOT NULL AND iv.dt <= typ.median_dt * {gap!r} THEN iv.dt ELSE 0 END AS kept
            FROM iv LEFT JOIN typ ON iv.uuid = typ.uuid)"""


_CACHE: OrderedDict[tuple[Any, ...], UsageRows] = OrderedDict()
_CACHE_SIZE = 4
_CACHE_LOCK = threading.Lock()


def usage_rows(eng: Engine, lo: datetime | None, hi: datetime | None, key: str, idle_util_pct: float,
               store: TelemetryStore) -> UsageRows:
    """The figures of one window and grouping, from the cache when the store has not changed since."""
    gap = float(report_thresholds().max_gap_factor.value)
    cache_key = (eng.name, getattr(eng, "master", None), lo, hi, key, float(idle_util_pct), gap,
                 tuple(str(b) for b in store.batches()))
    with _CACHE_LOCK:
        if cache_key in _CACHE:
            _CACHE.move_to_end(cache_key)
            return _CACHE[cache_key]
    rows = _compute(eng, lo, hi, key, float(idle_util_pct), gap)
    with _CACHE_LOCK:
        _CACHE[cache_key] = rows
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return rows


def _compute(eng: Engine, lo: datetime | None, hi: datetime | None, key: str, idle: float, gap: float) -> UsageRows:
    # One pass over the pivoted window for every figure but the XID codes: grouping sets give the rows per
    # (group, GPU), per group and over everything at once (the pivot and the window functions are the cost).
    base = _base(eng, lo, hi, key, gap)
    rows = eng.rows(f"""{base}
        SELECT grouping(g) + grouping(uuid) AS level, g, uuid, max(host), max(model), count(*), count(util),
               sum(CASE WHEN util < {idle!r} THEN 1 ELSE 0 END),
               max(temp), max(slowdown), count(throttle), sum(CASE WHEN throttle >= 2 THEN 1 ELSE 0 END),
               max(CASE WHEN fb_used + fb_free > 0 THEN fb_used / (fb_used + fb_free) END),
               CAST(sum(kept) AS BIGINT),
               sum(CASE WHEN kept > 0 THEN coalesce((power + prev_power) / 2, power, prev_power) * kept END),
               count(power), sum(util), sum(CASE WHEN kept > 0 THEN kept * util END), sum(CASE WHEN util IS NOT NULL THEN kept END),
               avg(util), {eng.quantile('util', 0.95)}, avg(fb_used)
        FROM obs GROUP BY GROUPING SETS ((g, uuid), (g), ())""")
    xids = eng.rows(f"""{base}
        SELECT g, uuid, CAST(xid AS BIGINT), count(*) FROM obs WHERE xid > 0 GROUP BY g, uuid, CAST(xid AS BIGINT)""")
    per_gpu = [tuple(r[1:19]) for r in rows if r[0] == 0]
    per_group = {r[1]: (r[1], *r[19:22]) for r in rows if r[0] == 1}
    overall = next(((None, *r[19:22]) for r in rows if r[0] == 2 and r[5]), None)
    # Sorted here, not in SQL: the engines order NULLs differently (DuckDB last, Spark first).
    return UsageRows(per_gpu=sorted(per_gpu, key=lambda r: (r[0] is None, str(r[0]), r[1])), per_group=per_group,
                     overall=overall, xids=sorted(xids, key=lambda r: (r[0] is None, str(r[0]), r[1], r[2])))
