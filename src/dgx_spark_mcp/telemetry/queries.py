"""Questions over the telemetry store: which GPUs and hosts it holds, and one GPU's series.

Each query is one SQL text run by an :class:`~.engines.Engine` (DuckDB or Spark); results are
built here in Python the same way for both, so the two engines answer identically (floats
rounded to :data:`DECIMALS`, timestamps as ISO 8601 strings in UTC with ``Z``).

Series filters name ``uuid``, ``metric`` and ``ts`` bare in WHERE (no function around them):
the store's files are sorted by (uuid, metric, ts), so Parquet row-group statistics skip
everything but the asked GPU's window.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field

from ..errors import BadInputError
from ..settings import Settings
from .engines import Engine, get_engine
from .metrics import metrics
from .timespec import is_relative, parse_duration, parse_time

__all__ = [
    "DECIMALS",
    "GpuInfo",
    "GpuList",
    "HostInfo",
    "HostList",
    "LatestValue",
    "SeriesPoint",
    "TelemetrySeries",
    "TimeWindow",
    "list_gpus",
    "list_hosts",
    "parse_window",
    "query_telemetry",
]

DECIMALS = 6
MAX_LIMIT = 10_000
Aggregate = Literal["avg", "min", "max", "p95"]
AGGREGATES: tuple[str, ...] = ("avg", "min", "max", "p95")
_EPOCH = datetime(1970, 1, 1)


# ---- shared helpers ------------------------------------------------------------------------

def iso(micros: int | None) -> str | None:
    if micros is None:
        return None
    return (_EPOCH + timedelta(microseconds=int(micros))).strftime("%Y-%m-%dT%H:%M:%S.%fZ").replace(".000000Z", "Z")


def rounded(value: float | int | None, decimals: int = DECIMALS) -> float | None:
    return None if value is None else round(float(value), decimals)


def _utc_naive(when: datetime) -> datetime:
    return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when


class TimeWindow(BaseModel):
    """The time range a result covers, in UTC: start inclusive, end exclusive; null = unbounded."""

    start: str | None
    end: str | None
    relative_to: str | None = Field(description="The 'now' a relative start/end ('last 1h') was counted from, or null.")


def parse_window(start: str | None, end: str | None, now: datetime | None = None) -> tuple[datetime | None, datetime | None, TimeWindow]:
    now = _utc_naive(now or datetime.now(UTC)).replace(microsecond=0)
    lo = parse_time(start, "start", now)
    hi = parse_time(end, "end", now)
    if hi is None and is_relative(start):
        hi = now  # 'last 1h' means up to now
    if lo is not None and hi is not None and hi <= lo:
        raise BadInputError(f"end {end!r} is not after start {start!r} ({iso_dt(hi)} <= {iso_dt(lo)}); swap them or widen the window")
    relative = is_relative(start) or is_relative(end)
    window = TimeWindow(start=iso_dt(lo), end=iso_dt(hi), relative_to=iso_dt(now) if relative else None)
    return lo, hi, window


def iso_dt(when: datetime | None) -> str | None:
    return None if when is None else iso(int((when - _EPOCH) / timedelta(microseconds=1)))


def time_filter(engine: Engine, lo: datetime | None, hi: datetime | None) -> str:
    parts = []
    if lo is not None:
        parts.append(f"ts >= {engine.timestamp(lo)}")
    if hi is not None:
        parts.append(f"ts < {engine.timestamp(hi)}")
    return " AND ".join(parts) or "TRUE"


def _in_list(engine: Engine, values: list[str]) -> str:
    return "(" + ", ".join(engine.string(v) for v in values) + ")"


# ---- GPUs and hosts ------------------------------------------------------------------------

class LatestValue(BaseModel):
    metric: str
    alias: str | None
    unit: str | None = Field(description="The stored unit; null for a metric the registry does not know.")
    value: float | None = Field(description="Null when the exporter reported a blank (unsupported) value.")
    ts: str


class GpuInfo(BaseModel):
    uuid: str
    host: str | None
    index: int | None
    model: str | None
    driver: str | None
    first_seen: str
    last_seen: str
    samples: int
    latest: list[LatestValue]


class GpuList(BaseModel):
    engine: str
    gpus: list[GpuInfo]
    note: str | None = None


class HostInfo(BaseModel):
    host: str | None
    gpus: int
    models: list[str]
    first_seen: str
    last_seen: str


class HostList(BaseModel):
    engine: str
    hosts: list[HostInfo]
    note: str | None = None


_EMPTY_NOTE = "the telemetry store is empty: ingest DCGM/NVML telemetry first"


def _gpu_rows(engine: Engine, host: str | None = None) -> list[tuple]:
    # A GPU can appear in many batches: the newest batch names its current host and index.
    where = f"WHERE g.host = {engine.string(host)}" if host is not None else ""
    sql = f"""
        SELECT g.uuid, g.host, g.gpu_index, g.model, d.driver, g.first_seen_us, g.last_seen_us, g.samples FROM (
            SELECT uuid, max_by(host, last_seen) AS host, max_by(gpu_index, last_seen) AS gpu_index,
                   max_by(model, last_seen) AS model, {engine.micros('min(first_seen)')} AS first_seen_us,
                   {engine.micros('max(last_seen)')} AS last_seen_us, CAST(sum(samples) AS BIGINT) AS samples
            FROM gpus GROUP BY uuid) g
        LEFT JOIN (SELECT uuid, max_by(driver, last_seen) AS driver FROM gpus WHERE driver IS NOT NULL GROUP BY uuid) d
          ON g.uuid = d.uuid
        {where}"""
    # Sorted here, not in SQL: the engines order NULLs differently (DuckDB last, Spark first).
    return sorted(engine.rows(sql), key=lambda r: (r[1] is None, r[1] or "", r[2] is None, r[2] or 0, r[0]))


def list_gpus(settings: Settings, host: str | None = None, engine: str = "duckdb", spark_master: str | None = None) -> GpuList:
    """Every GPU in the store (or on ``host``): identity, when it was seen, and its latest value of each metric."""
    eng = get_engine(settings, engine, spark_master)
    rows = _gpu_rows(eng, host)
    latest = eng.rows(
        f"SELECT uuid, metric, max_by(value, ts) AS value, {eng.micros('max(ts)')} AS ts_us FROM latest "
        "GROUP BY uuid, metric ORDER BY uuid, metric"
    )
    registry = metrics()
    per_gpu: dict[str, list[LatestValue]] = {}
    for uuid, metric, value, ts_us in latest:
        known = registry.get(metric)
        per_gpu.setdefault(uuid, []).append(
            LatestValue(metric=metric, alias=known.alias if known else None, unit=known.unit if known else None,
                        value=rounded(value), ts=iso(ts_us) or "")
        )
    gpus = [
        GpuInfo(uuid=r[0], host=r[1], index=r[2], model=r[3], driver=r[4], first_seen=iso(r[5]) or "",
                last_seen=iso(r[6]) or "", samples=int(r[7]), latest=per_gpu.get(r[0], []))
        for r in rows
    ]
    note = None
    if not gpus:
        if host is not None and _gpu_rows(eng):
            hosts = sorted({str(r[1]) for r in _gpu_rows(eng)})
            raise BadInputError(f"no GPUs stored for host {host!r}; the store has hosts: {', '.join(hosts)}")
        note = _EMPTY_NOTE
    return GpuList(engine=eng.name, gpus=gpus, note=note)


def list_hosts(settings: Settings, engine: str = "duckdb", spark_master: str | None = None) -> HostList:
    """Every host in the store with its GPU count, GPU models and the time span of its samples."""
    eng = get_engine(settings, engine, spark_master)
    by_host: dict[str | None, list[tuple]] = {}
    for row in _gpu_rows(eng):
        by_host.setdefault(row[1], []).append(row)
    hosts = [
        HostInfo(host=host, gpus=len(rows), models=sorted({r[3] for r in rows if r[3]}),
                 first_seen=iso(min(r[5] for r in rows)) or "", last_seen=iso(max(r[6] for r in rows)) or "")
        for host, rows in sorted(by_host.items(), key=lambda kv: kv[0] or "")
    ]
    return HostList(engine=eng.name, hosts=hosts, note=None if hosts else _EMPTY_NOTE)


# ---- one GPU's series ----------------------------------------------------------------------

class MetricInfo(BaseModel):
    metric: str
    alias: str | None
    unit: str | None


class SeriesPoint(BaseModel):
    """One raw sample (value) or one bucket (the asked aggregates and the sample count)."""

    ts: str = Field(description="Sample time, or the bucket's start, UTC.")
    uuid: str
    metric: str
    value: float | None = None
    avg: float | None = None
    min: float | None = None
    max: float | None = None
    p95: float | None = None
    samples: int | None = Field(default=None, description="Samples in the bucket (non-blank values).")


class TelemetrySeries(BaseModel):
    engine: str
    gpus: list[str] = Field(description="The GPUs (uuids) the series covers.")
    metrics: list[MetricInfo]
    window: TimeWindow
    bucket: str | None
    bucket_seconds: int | None
    aggregates: list[str]
    points: list[SeriesPoint]
    truncated: bool = Field(description="True when more points follow: call again with cursor=next_cursor.")
    next_cursor: str | None
    note: str | None = Field(default=None, description="Why there are no points, when the store holds nothing yet.")


def parse_bucket(bucket: str) -> int:
    """Whole seconds of a bucket width ('10s', '1m', '1h', '1d')."""
    seconds = parse_duration(bucket, "bucket")
    if seconds < 1 or seconds != int(seconds):
        raise BadInputError(f"bucket {bucket!r} must be a whole number of seconds, at least 1s: e.g. 10s, 1m, 5m, 1h, 1d")
    return int(seconds)


def _fingerprint(**args: object) -> str:
    return hashlib.sha256(json.dumps(args, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _encode_cursor(fingerprint: str, ts_us: int, uuid: str, metric: str) -> str:
    raw = json.dumps([fingerprint, ts_us, uuid, metric], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_cursor(cursor: str, fingerprint: str) -> tuple[int, str, str]:
    try:
        fp, ts_us, uuid, metric = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        key = (int(ts_us), str(uuid), str(metric))
    except Exception:
        raise BadInputError(f"cursor {cursor[:40]!r} is not one this tool returned; pass next_cursor unchanged, or leave it out for the first page") from None
    if fp != fingerprint:
        raise BadInputError("cursor belongs to a query with other arguments; repeat the same arguments with it, or leave it out")
    return key


def _resolve_gpus(eng: Engine, uuid: str | None, host: str | None, gpu_index: int | None) -> list[str]:
    if uuid is not None and (host is not None or gpu_index is not None):
        raise BadInputError("give either uuid, or host (and gpu_index), not both")
    if gpu_index is not None and host is None:
        raise BadInputError(f"gpu_index {gpu_index} needs a host (indexes repeat on every host); add host, or give the uuid")
    rows = _gpu_rows(eng)
    if not rows and uuid is None and host is None:
        return []  # every GPU of an empty store: an empty answer that says so, as list_gpus gives
    if not rows:
        raise BadInputError("the telemetry store is empty: ingest DCGM/NVML telemetry first, then query it")
    listing = "; ".join(f"{r[1]} #{r[2]} {r[0]}" for r in rows[:20]) + (" ..." if len(rows) > 20 else "")
    if uuid is not None:
        if uuid not in {r[0] for r in rows}:
            raise BadInputError(f"no GPU with uuid {uuid!r} is stored; stored GPUs (host #index uuid): {listing}; or call list_gpus")
        return [uuid]
    if host is not None:
        chosen = [r[0] for r in rows if r[1] == host and (gpu_index is None or r[2] == gpu_index)]
        if not chosen:
            what = f"host {host!r}" + (f" GPU index {gpu_index}" if gpu_index is not None else "")
            raise BadInputError(f"no GPU stored for {what}; stored GPUs (host #index uuid): {listing}; or call list_gpus")
        return chosen
    return [r[0] for r in rows]


def query_telemetry(
    settings: Settings,
    *,
    uuid: str | None = None,
    host: str | None = None,
    gpu_index: int | None = None,
    metrics: list[str] | None = None,  # noqa: A002 - the public argument name
    start: str | None = None,
    end: str | None = None,
    bucket: str | None = None,
    aggregates: list[str] | None = None,
    limit: int = 1000,
    cursor: str | None = None,
    engine: str = "duckdb",
    spark_master: str | None = None,
    now: datetime | None = None,
) -> TelemetrySeries:
    """Samples (or bucketed aggregates) of the chosen GPUs and metrics in a time window, ordered by time."""
    if not 1 <= limit <= MAX_LIMIT:
        raise BadInputError(f"limit {limit} is out of range; give 1 to {MAX_LIMIT} and page with the cursor")
    registry = _registry()
    names = registry.resolve(metrics) if metrics else None
    if metrics is not None and not metrics:
        raise BadInputError("metrics is an empty list; name at least one (gpu_util, fb_used, power, ...) or leave it out for all")
    seconds = parse_bucket(bucket) if bucket else None
    aggs = list(dict.fromkeys(a.strip().lower() for a in (aggregates or ["avg"])))
    unknown = [a for a in aggs if a not in AGGREGATES]
    if unknown:
        raise BadInputError(f"unknown aggregate(s) {unknown}; use any of {list(AGGREGATES)}")
    if aggregates and seconds is None:
        raise BadInputError("aggregates need a bucket; add bucket (e.g. '1m') or leave aggregates out for raw samples")
    lo, hi, window = parse_window(start, end, now)
    eng = get_engine(settings, engine, spark_master)
    uuids = _resolve_gpus(eng, uuid, host, gpu_index)
    if not uuids:
        return TelemetrySeries(engine=eng.name, gpus=[], metrics=[], window=window, bucket=bucket.strip() if bucket else None,
                               bucket_seconds=seconds, aggregates=aggs if seconds else [], points=[], truncated=False,
                               next_cursor=None, note=_EMPTY_NOTE)
    fingerprint = _fingerprint(uuids=uuids, metrics=names, lo=str(lo), hi=str(hi), bucket=seconds, aggs=aggs)

    where = [f"uuid IN {_in_list(eng, uuids)}", time_filter(eng, lo, hi)]
    if names:
        where.append(f"metric IN {_in_list(eng, names)}")
    after = ""
    if cursor:
        c_ts, c_uuid, c_metric = _decode_cursor(cursor, fingerprint)
        c_when = _EPOCH + timedelta(microseconds=c_ts)
        # Bare ts bound for pruning, the exact key order on the (already small) result.
        where.append(f"ts >= {eng.timestamp(c_when)}")
        after = (f"WHERE (ts_us > {c_ts} OR (ts_us = {c_ts} AND (uuid > {eng.string(c_uuid)} OR "
                 f"(uuid = {eng.string(c_uuid)} AND metric > {eng.string(c_metric)}))))")
    condition = " AND ".join(where)
    if seconds is None:
        inner = f"SELECT {eng.micros('ts')} AS ts_us, uuid, metric, value FROM samples WHERE {condition}"
        columns = ["value"]
    else:
        step = seconds * 1_000_000
        exprs = {"avg": "avg(value)", "min": "min(value)", "max": "max(value)", "p95": eng.quantile("value", 0.95)}
        columns = aggs + ["samples"]
        selected = ", ".join(f"{exprs[a]} AS {a}" for a in aggs)
        inner = (f"SELECT CAST(floor({eng.micros('ts')} / {step}) * {step} AS BIGINT) AS ts_us, uuid, metric, {selected}, "
                 f"count(value) AS samples FROM samples WHERE {condition} GROUP BY 1, 2, 3")
    sql = f"SELECT * FROM ({inner}) q {after} ORDER BY ts_us, uuid, metric LIMIT {limit + 1}"
    rows = eng.rows(sql)
    truncated = len(rows) > limit
    rows = rows[:limit]
    points = []
    for row in rows:
        values = dict(zip(columns, row[3:], strict=True))
        if "samples" in values:
            values["samples"] = int(values["samples"])
        points.append(SeriesPoint(ts=iso(row[0]) or "", uuid=row[1], metric=row[2],
                                  **{k: (v if k == "samples" else rounded(v)) for k, v in values.items()}))
    next_cursor = _encode_cursor(fingerprint, int(rows[-1][0]), rows[-1][1], rows[-1][2]) if truncated else None
    shown = names or sorted({p.metric for p in points})
    infos = []
    for name in shown:
        known = registry.get(name)
        infos.append(MetricInfo(metric=name, alias=known.alias if known else None, unit=known.unit if known else None))
    return TelemetrySeries(engine=eng.name, gpus=uuids, metrics=infos, window=window, bucket=bucket.strip() if bucket else None,
                           bucket_seconds=seconds, aggregates=aggs if seconds else [], points=points,
                           truncated=truncated, next_cursor=next_cursor)


def _registry():  # the argument 'metrics' shadows the registry function inside query_telemetry
    return metrics()
