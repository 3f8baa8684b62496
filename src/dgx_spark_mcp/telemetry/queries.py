"""The series of chosen GPUs and metrics over a window: their statistics first, the points on request.

``detail="summary"`` answers what an agent usually asks ("how busy/hot was it?") with one row of
statistics per (GPU, metric) — samples, min, avg, max, p95 — computed by the engine in one GROUP BY,
so the answer costs the same for an hour as for a month; GPUs come a page at a time.
``detail="full"`` gives the points (raw samples or time buckets) grouped per series as rows, paged
in the store's own order (uuid, metric, ts): a page is found by a key, not by counting rows.
``chart=True`` adds a PNG of the same selection (:mod:`.plot`).

Each query is one SQL text run by an :class:`~.engines.Engine` (DuckDB or Spark); results are built
here the same way for both, so the two engines answer identically.  Series filters name ``uuid``,
``metric`` and ``ts`` bare in WHERE: the store's files are sorted by (uuid, metric, ts), so Parquet
row-group statistics skip everything but the asked GPUs' window.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, PrivateAttr

from ..errors import BadInputError
from ..settings import Settings
from .cursor import decode, encode, fingerprint, offset_of
from .engines import Engine, get_engine
from .inventory import EMPTY_NOTE, KEY_METRICS, gpu_rows
from .metrics import MetricRegistry, metrics
from .timespec import is_relative, parse_duration
from .window import TimeWindow, iso, micros_of, parse_window, short_number, time_filter, utc_now

__all__ = ["AGGREGATES", "MAX_LIMIT", "STATS_COLUMNS", "GpuStats", "SeriesPoint", "SeriesRows", "TelemetrySeries",
           "parse_bucket", "query_telemetry"]

MAX_LIMIT = 10_000
AGGREGATES: tuple[str, ...] = ("avg", "min", "max", "p95")
STATS_COLUMNS = ["samples", "min", "avg", "max", "p95"]
SUMMARY_SERIES = 80
"""Series (GPU x metric) a summary page holds by default: about 2,000 tokens."""
SUMMARY_MAX_GPUS = 20
FULL_CELLS = 1500
"""A full page's default size in cells (a time and each value): about 6,000 tokens."""


class GpuStats(BaseModel):
    uuid: str
    host: str | None = None
    index: int | None = None
    first: str | None = Field(default=None, description="Its first sample in the window, when not the answer's 'first'.")
    last: str | None = Field(default=None, description="Its last sample in the window, when not the answer's 'last'.")
    stats: dict[str, list[int | float | None]] = Field(
        default_factory=dict, description="Per metric (alias): the values of 'columns'; absent: no samples in the window.")


class SeriesRows(BaseModel):
    uuid: str
    metric: str = Field(description="Alias, or the DCGM name of a metric the registry does not know.")
    rows: list[list[str | int | float | None]] = Field(description="One per sample or bucket: the values of 'columns'.")


class SeriesPoint(BaseModel):
    """One raw sample (value) or one bucket (the asked aggregates and the sample count), as Python callers read them."""

    ts: str
    uuid: str
    metric: str
    value: float | None = None
    avg: float | None = None
    min: float | None = None
    max: float | None = None
    p95: float | None = None
    samples: int | None = None


class TelemetrySeries(BaseModel):
    engine: str
    detail: Literal["summary", "full"]
    window: TimeWindow
    gpus: int = Field(description="GPUs selected (all pages).")
    units: dict[str, str] = Field(default_factory=dict, description="Unit of each metric shown.")
    bucket: str | None = None
    bucket_seconds: int | None = None
    columns: list[str] = Field(description="What each stats list (summary) or row (full) holds.")
    first: str | None = Field(default=None, description="Summary: earliest sample of the page's GPUs in the window.")
    last: str | None = Field(default=None, description="Summary: latest sample of the page's GPUs in the window.")
    stats: list[GpuStats] = Field(default_factory=list, description="Summary: per GPU of the page.")
    series: list[SeriesRows] = Field(default_factory=list, description="Full: the page's points, per series.")
    next_cursor: str | None = Field(default=None, description="More follow: call again with cursor=next_cursor.")
    more: str | None = Field(default=None, description="What else there is and how to get it.")
    chart: str | None = Field(default=None, description="With chart=true: the caption of the PNG image.")
    note: str | None = None
    _png: bytes | None = PrivateAttr(default=None)

    def attach_chart(self, caption: str, png: bytes | None = None) -> None:
        self.chart, self._png = caption, png

    @property
    def png(self) -> bytes | None:
        """The chart asked with ``chart=True``, PNG-encoded (sent as image content beside this answer)."""
        return self._png

    @property
    def points(self) -> list[SeriesPoint]:
        """The full page's points one by one (ts, uuid, DCGM metric name, values), in page order."""
        registry = metrics()
        out = []
        names = self.columns[1:]
        for s in self.series:
            known = registry.get(s.metric)
            for row in s.rows:
                values: dict[str, Any] = {k: (None if v is None else (int(v) if k == "samples" else float(v)))  # type: ignore[arg-type]
                                          for k, v in zip(names, row[1:], strict=True)}
                out.append(SeriesPoint(ts=str(row[0]), uuid=s.uuid, metric=known.name if known else s.metric, **values))
        return out


def parse_bucket(bucket: str) -> int:
    """Whole seconds of a bucket width ('10s', '1m', '1h', '1d')."""
    seconds = parse_duration(bucket, "bucket")
    if seconds < 1 or seconds != int(seconds):
        raise BadInputError(f"bucket {bucket!r} must be a whole number of seconds, at least 1s: e.g. 10s, 1m, 5m, 1h, 1d")
    return int(seconds)


def _resolve_gpus(eng: Engine, uuid: str | None, host: str | None, gpu_index: int | None) -> list[tuple[Any, ...]]:
    """The gpu_rows of the selection (all GPUs when nothing is named)."""
    if uuid is not None and (host is not None or gpu_index is not None):
        raise BadInputError("give either uuid, or host (and gpu_index), not both")
    if gpu_index is not None and host is None:
        raise BadInputError(f"gpu_index {gpu_index} needs a host (indexes repeat on every host); add host, or give the uuid")
    rows = gpu_rows(eng)
    if not rows and uuid is None and host is None:
        return []  # every GPU of an empty store: an empty answer that says so, as list_gpus gives
    if not rows:
        raise BadInputError("the telemetry store is empty: ingest DCGM/NVML telemetry first, then query it")
    listing = "; ".join(f"{r[1]} #{r[2]} {r[0]}" for r in rows[:20]) + (" ..." if len(rows) > 20 else "")
    if uuid is not None:
        chosen = [r for r in rows if r[0] == uuid]
        if not chosen:
            raise BadInputError(f"no GPU with uuid {uuid!r} is stored; stored GPUs (host #index uuid): {listing}; or call list_gpus")
        return chosen
    if host is not None:
        chosen = [r for r in rows if r[1] == host and (gpu_index is None or r[2] == gpu_index)]
        if not chosen:
            what = f"host {host!r}" + (f" GPU index {gpu_index}" if gpu_index is not None else "")
            raise BadInputError(f"no GPU stored for {what}; stored GPUs (host #index uuid): {listing}; or call list_gpus")
        return chosen
    return rows


def _parse_gpus(eng: Engine, text: str) -> tuple[str | None, str | None, int | None]:
    """A uuid, a host, or 'host:index' as (uuid, host, gpu_index): a stored uuid or host wins over the split, so a
    host whose name holds a colon (an IPv6 address) is still found."""
    wanted = text.strip()
    if not wanted:
        raise BadInputError("gpus is empty; give a GPU uuid, a host, or host:index (see list_gpus), or leave it out")
    rows = gpu_rows(eng)
    if any(r[0] == wanted for r in rows):
        return wanted, None, None
    if any(r[1] == wanted for r in rows):
        return None, wanted, None
    host, _, index = wanted.rpartition(":")
    if host and index.strip().isdigit():
        return None, host, int(index)
    if wanted.upper().startswith(("GPU-", "MIG-")):
        return wanted, None, None  # an unknown uuid: refused below with the stored GPUs listed
    return None, wanted, None


def _in_list(engine: Engine, values: list[str]) -> str:
    return "(" + ", ".join(engine.string(v) for v in values) + ")"


def _label(registry: MetricRegistry, name: str) -> str:
    known = registry.get(name)
    return known.alias if known else name


def query_telemetry(
    settings: Settings,
    *,
    uuid: str | None = None,
    host: str | None = None,
    gpu_index: int | None = None,
    gpus: str | None = None,
    metrics: list[str] | None = None,  # noqa: A002 - the public argument name
    start: str | None = None,
    end: str | None = None,
    bucket: str | None = None,
    aggregates: list[str] | None = None,
    detail: str = "full",  # the tool and the CLI ask for the summary; Python callers (bench/telemetry.py) read points
    chart: bool = False,
    limit: int | None = None,
    cursor: str | None = None,
    engine: str = "duckdb",
    spark_master: str | None = None,
    now: datetime | None = None,
) -> TelemetrySeries:
    """Statistics (``detail="summary"``) or points (``"full"``, raw or bucketed) of the chosen GPUs and metrics
    in a window.  GPUs: ``uuid``, ``host`` (and ``gpu_index``), or ``gpus`` (a uuid, a host or 'host:index', as the
    tool takes them); none: every GPU.  ``limit``: GPUs (summary) or points (full) per page; by default a page of a
    few thousand tokens."""
    if detail not in ("summary", "full"):
        raise BadInputError(f"detail {detail!r} is not one of ['summary', 'full']; pick one")
    if limit is not None and not 1 <= limit <= MAX_LIMIT:
        raise BadInputError(f"limit {limit} is out of range; give 1 to {MAX_LIMIT} and page with the cursor")
    registry = _registry()
    if metrics is not None and not metrics:
        raise BadInputError("metrics is an empty list; name at least one (gpu_util, fb_used, power, ...) or leave it out for all")
    names = list(dict.fromkeys(registry.resolve(metrics))) if metrics else None
    seconds = parse_bucket(bucket) if bucket else None
    aggs = list(dict.fromkeys(a.strip().lower() for a in (aggregates or ["avg"])))
    unknown = [a for a in aggs if a not in AGGREGATES]
    if unknown:
        raise BadInputError(f"unknown aggregate(s) {unknown}; use any of {list(AGGREGATES)}")
    if aggregates and seconds is None:
        raise BadInputError("aggregates need a bucket; add bucket (e.g. '1m') or leave aggregates out for raw samples")
    print_ = fingerprint(tool="query_telemetry", detail=detail, uuid=uuid, host=host, gpu_index=gpu_index, gpus=gpus,
                         metrics=names, start=start, end=end, bucket=seconds, aggregates=aggs if seconds else None)
    position, anchored = decode(cursor, print_) if cursor else ([], None)
    # A relative window is read from one 'now' on every page: the first page's, carried by the cursor.
    now_used = utc_now(anchored or now) if is_relative(start) or is_relative(end) else None
    lo, hi, window = parse_window(start, end, now_used or now)
    eng = get_engine(settings, engine, spark_master)
    if gpus is not None:
        if uuid is not None or host is not None or gpu_index is not None:
            raise BadInputError("give gpus, or uuid / host / gpu_index, not both")
        uuid, host, gpu_index = _parse_gpus(eng, gpus)
    selected = _resolve_gpus(eng, uuid, host, gpu_index)
    columns = STATS_COLUMNS if detail == "summary" else ["ts", *(aggs + ["samples"] if seconds else ["value"])]
    answer = TelemetrySeries(engine=eng.name, detail=detail, window=window, gpus=0,  # type: ignore[arg-type]
                             bucket=bucket.strip() if bucket else None, bucket_seconds=seconds, columns=columns)
    if not selected:
        answer.note = EMPTY_NOTE
        return answer
    if uuid is None and gpu_index is None:
        # A host's or every GPU: only those seen in the window (from the per-batch summaries: no scan of the samples).
        lo_us, hi_us = (micros_of(lo) if lo else None), (micros_of(hi) if hi else None)
        selected = [r for r in selected if (hi_us is None or r[5] < hi_us) and (lo_us is None or r[6] >= lo_us)]
    answer.gpus = len(selected)
    if not selected:
        answer.note = "no samples of these GPUs in the window: widen start/end (list_gpus gives each GPU's last sample)"
        return answer
    condition = [time_filter(eng, lo, hi)] + ([f"metric IN {_in_list(eng, names)}"] if names else [])
    if detail == "summary":
        _summary(eng, answer, selected, condition, names, limit, position, print_, now_used)
    else:
        _full(eng, answer, [r[0] for r in selected], condition, aggs, seconds, limit, position, print_, now_used)
    if chart:
        from .chart import chart_of

        chart_of(settings, answer, names, start=start, end=end, bucket=bucket, now=now_used or now)
    return answer


def _summary(eng: Engine, answer: TelemetrySeries, selected: list[tuple[Any, ...]], condition: list[str],
             names: list[str] | None, limit: int | None, position: list[Any], print_: str, now: datetime | None) -> None:
    registry = _registry()
    if limit is None:
        shown = len(names) if names else int(eng.rows("SELECT count(DISTINCT metric) FROM latest")[0][0] or 1)
        limit = max(1, min(SUMMARY_MAX_GPUS, SUMMARY_SERIES // max(shown, 1)))
    start = offset_of(position) if position else 0
    page = selected[start:start + limit]
    following = start + len(page)
    if page:
        rows = eng.rows(
            f"SELECT uuid, metric, count(value), min(value), avg(value), max(value), {eng.quantile('value', 0.95)}, "
            f"{eng.micros('min(ts)')}, {eng.micros('max(ts)')} FROM samples "
            f"WHERE uuid IN {_in_list(eng, [r[0] for r in page])} AND {' AND '.join(condition)} GROUP BY uuid, metric")
    else:
        rows = []
    per_gpu: dict[str, list[tuple[Any, ...]]] = {}
    for row in sorted(rows, key=lambda r: (r[0], r[1])):
        per_gpu.setdefault(row[0], []).append(row)
    firsts = [r[7] for r in rows if r[7] is not None]
    lasts = [r[8] for r in rows if r[8] is not None]
    answer.first, answer.last = iso(min(firsts)) if firsts else None, iso(max(lasts)) if lasts else None
    for gpu in page:
        mine = per_gpu.get(gpu[0], [])
        first = iso(min(r[7] for r in mine)) if mine else None
        last = iso(max(r[8] for r in mine)) if mine else None
        answer.stats.append(GpuStats(
            uuid=gpu[0], host=gpu[1], index=gpu[2], first=first if first != answer.first else None,
            last=last if last != answer.last else None,
            stats={_label(registry, r[1]): [int(r[2]), *(short_number(v) for v in r[3:7])] for r in mine}))
    answer.units = _units(registry, sorted({r[1] for r in rows}))
    if following < len(selected):
        answer.next_cursor = encode(print_, [following], now)
    what = f"the {answer.bucket} buckets" if answer.bucket else "the samples"
    answer.more = (f"detail='full' gives {what}, paged"
                   + (f"; {len(selected) - following} more GPU(s): cursor=next_cursor" if answer.next_cursor else "")
                   + ("" if names else "; metrics=[...] narrows to the metrics you need"))


def _full(eng: Engine, answer: TelemetrySeries, uuids: list[str], condition: list[str], aggs: list[str],
          seconds: int | None, limit: int | None, position: list[Any], print_: str, now: datetime | None) -> None:
    registry = _registry()
    limit = limit or max(50, FULL_CELLS // (len(answer.columns) + 3))
    after = ""
    if position:
        c_uuid, c_metric, c_ts = _key_of(position)
        # Only the GPUs at or after the cursor's: the IN list prunes the files; the key orders the rest.
        uuids = [u for u in uuids if u >= c_uuid]
        after = (f"WHERE (uuid > {eng.string(c_uuid)} OR (uuid = {eng.string(c_uuid)} AND (metric > {eng.string(c_metric)} "
                 f"OR (metric = {eng.string(c_metric)} AND ts_us > {c_ts}))))")
    rows: list[tuple[Any, ...]] = []
    if uuids:
        where = f"uuid IN {_in_list(eng, uuids)} AND {' AND '.join(condition)}"
        if seconds is None:
            inner = f"SELECT uuid, metric, {eng.micros('ts')} AS ts_us, value FROM samples WHERE {where}"
        else:
            step = seconds * 1_000_000
            exprs = {"avg": "avg(value)", "min": "min(value)", "max": "max(value)", "p95": eng.quantile("value", 0.95)}
            selected = ", ".join(f"{exprs[a]} AS {a}" for a in aggs)
            inner = (f"SELECT uuid, metric, CAST(floor({eng.micros('ts')} / {step}) * {step} AS BIGINT) AS ts_us, {selected}, "
                     f"count(value) AS samples FROM samples WHERE {where} GROUP BY 1, 2, 3")
        rows = eng.rows(f"SELECT * FROM ({inner}) q {after} ORDER BY uuid, metric, ts_us LIMIT {limit + 1}")
    more = len(rows) > limit
    rows = rows[:limit]
    for row in rows:
        label = _label(registry, row[1])
        if not answer.series or (answer.series[-1].uuid, answer.series[-1].metric) != (row[0], label):
            answer.series.append(SeriesRows(uuid=row[0], metric=label, rows=[]))
        values = [short_number(v, 6) for v in row[3:]]
        if seconds is not None:
            values[-1] = int(row[-1])
        answer.series[-1].rows.append([iso(row[2]), *values])
    answer.units = _units(registry, sorted({r[1] for r in rows}))
    if more:
        answer.next_cursor = encode(print_, [rows[-1][0], rows[-1][1], int(rows[-1][2])], now)
        answer.more = f"more points follow ({limit} per page): cursor=next_cursor"


def _key_of(position: list[Any]) -> tuple[str, str, int]:
    if len(position) == 3 and isinstance(position[0], str) and isinstance(position[1], str) and isinstance(position[2], int):
        return position[0], position[1], position[2]
    raise BadInputError("cursor belongs to a call with other arguments; repeat the same arguments with it, "
                        "or leave it out for the first page")


def _units(registry: MetricRegistry, names: list[str]) -> dict[str, str]:
    return {m.alias: m.unit for name in names if (m := registry.get(name)) is not None}


def _registry() -> MetricRegistry:  # the argument 'metrics' shadows the registry function inside query_telemetry
    return metrics()


def key_metrics_of(answer: TelemetrySeries) -> list[str]:
    """The key metrics (DCGM names) an answer shows, for a chart drawn without named metrics."""
    registry = _registry()
    shown = set(answer.units)
    return [name for name in KEY_METRICS if (m := registry.get(name)) is not None and m.alias in shown]
