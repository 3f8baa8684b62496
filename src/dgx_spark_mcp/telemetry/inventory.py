"""What the telemetry store holds: its GPUs, or its hosts, a page at a time.

One function answers both (an agent asks "what is there" once, then narrows): ``by="gpu"`` lists
GPUs with the latest value of a few key metrics, ``by="host"`` lists hosts with their GPU count,
models and time span.  Both read the store's small per-batch summaries (``gpus``, ``latest``),
never the samples, so a page costs the same on a 100 M-row store as on a small one; the latest
values are read only for the GPUs of the page.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from ..errors import BadInputError
from ..settings import Settings
from .cursor import decode, encode, fingerprint, offset_of
from .engines import Engine, get_engine
from .metrics import metrics
from .window import iso, short_number

__all__ = ["KEY_METRICS", "LIST_LIMIT", "MAX_LIST_LIMIT", "GpuInfo", "GpuList", "HostInfo", "gpu_rows", "list_gpus"]

LIST_LIMIT = 20
"""GPUs or hosts per page by default: about 2,000 tokens of GPUs."""
MAX_LIST_LIMIT = 1000
KEY_METRICS = ("DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_POWER_USAGE")
"""The metrics whose latest value a summary shows per GPU: is it busy, how full, how hot, how much power."""
EMPTY_NOTE = "the telemetry store is empty: ingest DCGM/NVML telemetry first"


class GpuInfo(BaseModel):
    uuid: str
    host: str | None = None
    index: int | None = None
    model: str | None = None
    last_seen: str
    samples: int
    latest: dict[str, int | float | None] = Field(
        default_factory=dict, description="Latest value by metric alias (units in 'units'): the key metrics; "
        "detail=full: every metric. Null: a DCGM blank (unsupported).")
    latest_at: dict[str, str] = Field(
        default_factory=dict, description="detail=full: a metric's latest sample time, when not last_seen.")
    first_seen: str | None = Field(default=None, description="detail=full.")
    driver: str | None = Field(default=None, description="detail=full.")


class HostInfo(BaseModel):
    host: str | None = None
    gpus: int
    models: list[str]
    samples: int
    first_seen: str
    last_seen: str


class GpuList(BaseModel):
    engine: str
    by: Literal["gpu", "host"]
    total: int = Field(description="GPUs (by=gpu) or hosts (by=host) in the whole list.")
    gpus: list[GpuInfo] = Field(default_factory=list)
    hosts: list[HostInfo] = Field(default_factory=list)
    units: dict[str, str] = Field(default_factory=dict, description="Unit of each metric in 'latest'.")
    next_cursor: str | None = Field(default=None, description="More follow: call again with cursor=next_cursor.")
    note: str | None = None


def gpu_rows(engine: Engine, host: str | None = None) -> list[tuple[Any, ...]]:
    """(uuid, host, index, model, driver, first_us, last_us, samples) per GPU, ordered by host, index, uuid."""
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


def hosts_named(rows: list[tuple[Any, ...]]) -> str:
    hosts = sorted({str(r[1]) for r in rows})
    return ", ".join(hosts[:20]) + (f" and {len(hosts) - 20} more" if len(hosts) > 20 else "")


def list_gpus(
    settings: Settings,
    *,
    by: str = "gpu",
    host: str | None = None,
    detail: str = "summary",
    limit: int | None = LIST_LIMIT,
    cursor: str | None = None,
    engine: str = "duckdb",
    spark_master: str | None = None,
) -> GpuList:
    """A page of the store's GPUs (or hosts, ``by="host"``); ``limit=None`` gives the whole list at once."""
    if by not in ("gpu", "host"):
        raise BadInputError(f"by {by!r} is not one of ['gpu', 'host']; pick one")
    if detail not in ("summary", "full"):
        raise BadInputError(f"detail {detail!r} is not one of ['summary', 'full']; pick one")
    if limit is not None and not 1 <= limit <= MAX_LIST_LIMIT:
        raise BadInputError(f"limit {limit} is out of range; give 1 to {MAX_LIST_LIMIT} and page with the cursor")
    print_ = fingerprint(tool="list_gpus", by=by, host=host)
    start = offset_of(decode(cursor, print_)[0]) if cursor else 0
    eng = get_engine(settings, engine, spark_master)
    rows = gpu_rows(eng, host)
    if not rows and host is not None and (everything := gpu_rows(eng)):
        raise BadInputError(f"no GPUs stored for host {host!r}; the store has hosts: {hosts_named(everything)}")
    if by == "host":
        hosts = _hosts(rows)
        chosen, following = _page(hosts, start, limit)
        return GpuList(engine=eng.name, by="host", total=len(hosts), hosts=chosen,
                       next_cursor=encode(print_, [following], None) if following is not None else None,
                       note=None if hosts else EMPTY_NOTE)
    chosen_rows, following = _page(rows, start, limit)
    gpus, units = _gpus(eng, chosen_rows, full=detail == "full")
    return GpuList(engine=eng.name, by="gpu", total=len(rows), gpus=gpus, units=units,
                   next_cursor=encode(print_, [following], None) if following is not None else None,
                   note=None if rows else EMPTY_NOTE)


def _page(items: list[Any], start: int, limit: int | None) -> tuple[list[Any], int | None]:
    chosen = items[start:] if limit is None else items[start:start + limit]
    following = start + len(chosen)
    return chosen, following if following < len(items) else None


def _hosts(rows: list[tuple[Any, ...]]) -> list[HostInfo]:
    by_host: dict[str | None, list[tuple[Any, ...]]] = {}
    for row in rows:
        by_host.setdefault(row[1], []).append(row)
    return [
        HostInfo(host=host, gpus=len(group), models=sorted({r[3] for r in group if r[3]}),
                 samples=sum(int(r[7]) for r in group), first_seen=iso(min(r[5] for r in group)) or "",
                 last_seen=iso(max(r[6] for r in group)) or "")
        for host, group in sorted(by_host.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))
    ]


def _gpus(eng: Engine, rows: list[tuple[Any, ...]], *, full: bool) -> tuple[list[GpuInfo], dict[str, str]]:
    """The GPUs of a page with their latest values, and the unit of each metric shown."""
    if not rows:
        return [], {}
    uuids = ", ".join(eng.string(r[0]) for r in rows)
    only_key = "" if full else " AND metric IN (" + ", ".join(eng.string(m) for m in KEY_METRICS) + ")"
    latest = eng.rows(
        f"SELECT uuid, metric, max_by(value, ts) AS value, {eng.micros('max(ts)')} AS ts_us FROM latest "
        f"WHERE uuid IN ({uuids}){only_key} GROUP BY uuid, metric"
    )
    registry = metrics()
    # Key metrics first (what a reader looks for), then the others by name.
    order = {name: i for i, name in enumerate(KEY_METRICS)}
    per_gpu: dict[str, list[tuple[Any, ...]]] = {}
    for row in sorted(latest, key=lambda r: (r[0], order.get(r[1], len(order)), r[1])):
        per_gpu.setdefault(row[0], []).append(row)
    units: dict[str, str] = {}
    gpus = []
    for r in rows:
        last_seen = iso(r[6]) or ""
        values: dict[str, int | float | None] = {}
        at: dict[str, str] = {}
        for _, metric, value, ts_us in per_gpu.get(r[0], []):
            known = registry.get(metric)
            label = known.alias if known else metric
            if known:
                units[label] = known.unit
            values[label] = short_number(value, 6)
            if full and (when := iso(ts_us) or "") != last_seen:
                at[label] = when
        gpus.append(GpuInfo(uuid=r[0], host=r[1], index=r[2], model=r[3], last_seen=last_seen, samples=int(r[7]),
                            latest=values, latest_at=at, first_seen=iso(r[5]) if full else None,
                            driver=r[4] if full else None))
    return gpus, units
