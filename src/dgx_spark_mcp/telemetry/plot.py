"""Charts of stored GPU telemetry: one PNG, one subplot per metric, one line per GPU.

The data is read with SQL straight from the store's ``samples`` view and bucketed in DuckDB, so
a chart of a week of 1 s samples still draws at most :data:`MAX_POINTS` points per line: a PNG
a few hundred pixels wide cannot show more, and an agent pays for every byte it receives.
Lines are capped at :data:`MAX_GPUS` GPUs, past which a legend is unreadable; the caller is told
how to narrow the selection instead.

matplotlib is imported inside :func:`plot_telemetry` (the server must start fast) and drawn on
a bare ``Figure`` with the Agg canvas, never through pyplot, whose global state is not safe in a
server that runs tools on worker threads.
"""

from __future__ import annotations

import io
import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from ..errors import BadInputError
from ..settings import Settings
from .metrics import Metric, metrics
from .store import TelemetryStore
from .timespec import parse_duration, parse_time

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

__all__ = ["MAX_GPUS", "MAX_METRICS", "MAX_POINTS", "PlotSeries", "TelemetryPlot", "parse_bucket", "parse_time", "plot_telemetry"]

MAX_POINTS = 2000
"""Most points drawn per line; longer series are averaged into wider buckets."""
MAX_GPUS = 16
"""Most GPUs (lines per subplot) in one chart."""
MAX_METRICS = 8
"""Most metrics (subplots) in one chart."""

# Bucket widths tried, smallest first, when the data needs thinning: round numbers a reader
# recognises on a time axis (seconds).
_NICE_BUCKETS_S = (
    0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
    172800, 604800,
)


class PlotSeries(BaseModel):
    metric: str
    uuid: str
    label: str = Field(description="The legend entry: host:index, or the uuid when that is unknown or ambiguous.")
    points: int
    min: float | None
    max: float | None
    mean: float | None


class TelemetryPlot(BaseModel):
    png: bytes = Field(repr=False, description="The chart, PNG-encoded.")
    width_px: int
    height_px: int
    start: datetime = Field(description="Start of the plotted window (UTC).")
    end: datetime = Field(description="End of the plotted window (UTC).")
    bucket_s: float | None = Field(description="Width of the averaging buckets, or None when raw samples are drawn.")
    metrics: list[str]
    series: list[PlotSeries]
    notes: list[str] = Field(default_factory=list)

    def headline(self) -> str:
        """One sentence: what the chart draws, over when, how thinned."""
        bucket = "raw samples" if self.bucket_s is None else f"{_format_seconds(self.bucket_s)} buckets"
        return (f"{', '.join(self.metrics)} for {len({s.uuid for s in self.series})} GPU(s), "
                f"{self.start:%Y-%m-%d %H:%M:%S} to {self.end:%Y-%m-%d %H:%M:%S} UTC, {bucket}.")

    def caption(self) -> str:
        """A one-paragraph text of what the chart shows, for readers without the image."""
        lines = [self.headline()]
        for s in self.series:
            lines.append(f"{s.metric} {s.label}: {s.points} points, min {s.min}, mean {s.mean}, max {s.max}")
        lines += self.notes
        return "\n".join(lines)


# ---- parsing the request -------------------------------------------------------------------


def parse_bucket(value: str | float | None) -> float | None:
    """Seconds from '30s' / '5m' / a number of seconds; None for automatic."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        try:
            seconds = float(value)
        except ValueError:
            seconds = parse_duration(value, "bucket")
    if not math.isfinite(seconds) or seconds < 0.001:
        raise BadInputError(f"bucket {value!r} must be at least 1 ms; give e.g. '10s' or omit it for automatic")
    return seconds


def _format_seconds(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if seconds >= size and (seconds / size).is_integer():
            return f"{int(seconds // size)} {unit}"
    return f"{seconds:g} s"


# ---- reading the data ------------------------------------------------------------------------


def _resolve_metrics(names: list[str]) -> list[tuple[str, Metric | None]]:
    cleaned = [n for n in (name.strip() for name in names) if n]
    if not cleaned:
        raise BadInputError("metrics is empty; name at least one, e.g. ['gpu_util', 'power']")
    if len(cleaned) > MAX_METRICS:
        raise BadInputError(f"{len(cleaned)} metrics asked; one chart draws at most {MAX_METRICS}: split them")
    registry = metrics()
    resolved = registry.resolve(cleaned)  # raises BadInputError for an unknown alias
    out: list[tuple[str, Metric | None]] = []
    for name in resolved:
        if name not in [n for n, _ in out]:
            out.append((name, registry.get(name)))
    return out


def _aggregate(metric: Metric | None) -> str:
    # A gauge is averaged over a bucket; a counter keeps its highest (latest) reading, so the line
    # stays monotonic; a bitmask keeps every bit seen in the bucket (an average of bits is noise).
    if metric is not None and metric.unit == "bitmask":
        return "CAST(bit_or(CAST(value AS BIGINT)) AS DOUBLE)"
    if metric is not None and metric.kind == "counter":
        return "max(value)"
    return "avg(value)"


def _where(
    uuids: list[str] | None, host: str | None, gpu_index: int | None, start: datetime | None, end: datetime | None
) -> tuple[str, list[Any]]:
    clauses, params = ["value IS NOT NULL"], []
    if uuids:
        clauses.append("uuid IN (" + ", ".join("?" for _ in uuids) + ")")
        params += uuids
    if host is not None:
        clauses.append("host = ?")
        params.append(host)
    if gpu_index is not None:
        clauses.append("gpu_index = ?")
        params.append(gpu_index)
    if start is not None:
        clauses.append("ts >= ?")
        params.append(start)
    if end is not None:
        clauses.append("ts <= ?")
        params.append(end)
    return " AND ".join(clauses), params


def _nothing_found(con: DuckDBPyConnection, what: str) -> BadInputError:
    row = con.execute("SELECT min(ts), max(ts), count(DISTINCT uuid), count(*) FROM samples").fetchone()
    if not row or not row[3]:
        return BadInputError(
            f"no samples for {what}: the telemetry store is empty; sample this machine's GPUs (sample_gpus) "
            "or import a DCGM/nvidia-smi telemetry file first"
        )
    hosts = [r[0] for r in con.execute("SELECT DISTINCT host FROM samples WHERE host IS NOT NULL ORDER BY 1 LIMIT 10").fetchall()]
    stored = [r[0] for r in con.execute("SELECT DISTINCT metric FROM samples ORDER BY 1 LIMIT 30").fetchall()]
    return BadInputError(
        f"no samples for {what}; the store holds {row[3]} samples of {row[2]} GPU(s) from {row[0]:%Y-%m-%d %H:%M:%S} "
        f"to {row[1]:%Y-%m-%d %H:%M:%S} UTC, hosts {hosts}, metrics {stored}: widen start/end or pick from these"
    )


def _labels(gpus: list[tuple[str, str | None, int | None]]) -> dict[str, str]:
    # host:index reads best, but the same host:index can name two GPUs (a board swapped, two
    # hosts called 'localhost'), and then only the uuid tells the lines apart.
    short = {uuid: f"{host}:{index}" for uuid, host, index in gpus if host is not None and index is not None}
    counts: dict[str, int] = {}
    for label in short.values():
        counts[label] = counts.get(label, 0) + 1
    return {uuid: short[uuid] if uuid in short and counts[short[uuid]] == 1 else uuid for uuid, _, _ in gpus}


# ---- the chart -------------------------------------------------------------------------------


def plot_telemetry(
    settings: Settings,
    metric_names: list[str],
    *,
    uuids: list[str] | None = None,
    host: str | None = None,
    gpu_index: int | None = None,
    start: str | datetime | None = None,
    end: str | datetime | None = None,
    bucket: str | float | None = None,
    width_px: int = 1200,
    now: datetime | None = None,
) -> TelemetryPlot:
    """Draw ``metric_names`` of the selected GPUs over [start, end] as a PNG.

    GPUs are chosen by ``uuids``, or ``host`` (every GPU of it), or ``host`` and ``gpu_index``;
    none of them means every GPU with samples in the window.  ``start``/``end`` are ISO 8601 or
    'last 1h'; omitted, they span the stored samples.  ``bucket`` ('30s', '5m') averages samples;
    omitted, or too small for :data:`MAX_POINTS` points per line, a wider one is chosen.
    """
    if not 400 <= width_px <= 4000:
        raise BadInputError(f"width_px {width_px} must be between 400 and 4000 pixels")
    now = now or datetime.now(UTC).replace(tzinfo=None)
    chosen = _resolve_metrics(metric_names)
    uuid_list = [u.strip() for u in uuids or [] if u.strip()] or None
    if uuid_list and (host is not None or gpu_index is not None):
        raise BadInputError("give either uuids or host/gpu_index to choose GPUs, not both")
    if gpu_index is not None and gpu_index < 0:
        raise BadInputError(f"gpu_index {gpu_index} must be 0 or more")
    t0, t1 = parse_time(start, "start", now), parse_time(end, "end", now)
    if t0 is not None and t1 is not None and t0 >= t1:
        raise BadInputError(f"start {t0:%Y-%m-%d %H:%M:%S} is not before end {t1:%Y-%m-%d %H:%M:%S}; swap or widen them")
    asked_bucket = parse_bucket(bucket)
    names = [n for n, _ in chosen]
    what = _describe(names, uuid_list, host, gpu_index, t0, t1)

    with TelemetryStore(settings).reader() as con:
        where, params = _where(uuid_list, host, gpu_index, t0, t1)
        metric_in = "metric IN (" + ", ".join("?" for _ in names) + ")"
        con.execute(f"CREATE TEMP TABLE _sel AS SELECT ts, uuid, host, gpu_index, metric, value FROM samples WHERE {where} AND {metric_in}", params + names)
        gpus = con.execute(
            "SELECT uuid, arg_max(host, ts), arg_max(gpu_index, ts) FROM _sel GROUP BY uuid ORDER BY 2 NULLS LAST, 3, 1"
        ).fetchall()
        if not gpus:
            raise _nothing_found(con, what)
        if len(gpus) > MAX_GPUS:
            hosts = sorted({str(h) for _, h, _ in gpus})
            raise BadInputError(
                f"{len(gpus)} GPUs have samples for {what}; one chart draws at most {MAX_GPUS}: narrow it with "
                f"host (one of {hosts[:10]}), host and gpu_index, or a list of uuids"
            )
        if uuid_list:
            missing = sorted(set(uuid_list) - {g[0] for g in gpus})
        else:
            missing = []
        lo, hi = con.execute("SELECT min(ts), max(ts) FROM _sel").fetchone()  # type: ignore[misc]
        longest = con.execute("SELECT max(n) FROM (SELECT count(*) AS n FROM _sel GROUP BY uuid, metric)").fetchone()[0]  # type: ignore[index]
        win_start, win_end = t0 or lo, t1 or hi
        span_s = max((win_end - win_start).total_seconds(), 0.0)
        bucket_s, notes = _choose_bucket(asked_bucket, span_s, int(longest))
        if missing:
            notes.append(f"no samples in the window for {missing}")
        data = _series(con, chosen, bucket_s)

    labels = _labels([(g[0], g[1], g[2]) for g in gpus])
    order = [g[0] for g in gpus]
    png, series = _draw(chosen, data, order, labels, win_start, win_end, bucket_s, width_px)
    for name, _ in chosen:
        if not any(s.metric == name for s in series):
            notes.append(f"{name}: no samples for these GPUs in the window (its subplot is empty)")
    # The size as written in the PNG header (IHDR), not as asked: constrained layout may round.
    return TelemetryPlot(
        png=png,
        width_px=int.from_bytes(png[16:20], "big"),
        height_px=int.from_bytes(png[20:24], "big"),
        start=win_start,
        end=win_end,
        bucket_s=bucket_s,
        metrics=names,
        series=series,
        notes=notes,
    )


def _describe(
    names: list[str], uuids: list[str] | None, host: str | None, gpu_index: int | None, t0: datetime | None, t1: datetime | None
) -> str:
    parts = [", ".join(names)]
    if uuids:
        parts.append(f"uuids {uuids}")
    if host is not None:
        parts.append(f"host {host!r}")
    if gpu_index is not None:
        parts.append(f"gpu_index {gpu_index}")
    if t0 is not None:
        parts.append(f"from {t0:%Y-%m-%d %H:%M:%S}")
    if t1 is not None:
        parts.append(f"to {t1:%Y-%m-%d %H:%M:%S} UTC")
    return " ".join(parts)


def _choose_bucket(asked: float | None, span_s: float, longest: int) -> tuple[float | None, list[str]]:
    needed = span_s / MAX_POINTS
    if asked is not None:
        if asked >= needed:
            return asked, []
        wider = next((b for b in _NICE_BUCKETS_S if b >= needed), _NICE_BUCKETS_S[-1])
        return wider, [
            f"bucket {_format_seconds(asked)} would draw over {MAX_POINTS} points per line over "
            f"{_format_seconds(round(span_s))}; used {_format_seconds(wider)}"
        ]
    if longest <= MAX_POINTS:
        return None, []  # every sample fits: draw them as they are
    return next((b for b in _NICE_BUCKETS_S if b >= needed), _NICE_BUCKETS_S[-1]), []


def _series(
    con: DuckDBPyConnection, chosen: list[tuple[str, Metric | None]], bucket_s: float | None
) -> dict[tuple[str, str], tuple[list[datetime], list[float]]]:
    data: dict[tuple[str, str], tuple[list[datetime], list[float]]] = {}
    for name, metric in chosen:
        if bucket_s is None:
            rows = con.execute("SELECT uuid, ts, value FROM _sel WHERE metric = ? ORDER BY uuid, ts", [name]).fetchall()
        else:
            rows = con.execute(
                f"SELECT uuid, time_bucket(to_microseconds(CAST(? AS BIGINT)), ts) AS b, {_aggregate(metric)} "
                "FROM _sel WHERE metric = ? GROUP BY uuid, b ORDER BY uuid, b",
                [round(bucket_s * 1_000_000), name],
            ).fetchall()
        for uuid, ts, value in rows:
            xs, ys = data.setdefault((name, uuid), ([], []))
            xs.append(ts)
            ys.append(float(value))
    return data


def _draw(
    chosen: list[tuple[str, Metric | None]],
    data: dict[tuple[str, str], tuple[list[datetime], list[float]]],
    order: list[str],
    labels: dict[str, str],
    start: datetime,
    end: datetime,
    bucket_s: float | None,
    width_px: int,
) -> tuple[bytes, list[PlotSeries]]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import dates as mdates
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    dpi = 100
    rows = len(chosen)
    legend_rows = math.ceil(len(order) / 4)
    height_in = 1.0 + 2.4 * rows + 0.3 * legend_rows
    fig = Figure(figsize=(width_px / dpi, height_in), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]
    palette = matplotlib.colormaps["tab20" if len(order) > 10 else "tab10"]
    colours = {uuid: palette(i % palette.N) for i, uuid in enumerate(order)}
    handles: dict[str, Any] = {}
    series: list[PlotSeries] = []
    for ax, (name, metric) in zip(axes, chosen, strict=True):
        for uuid in order:
            if (name, uuid) not in data:
                continue
            xs, ys = data[(name, uuid)]
            style = {"drawstyle": "steps-post"} if metric is not None and metric.unit == "bitmask" else {}
            (line,) = ax.plot(xs, ys, color=colours[uuid], linewidth=1.2, label=labels[uuid], **style)
            handles.setdefault(labels[uuid], line)
            series.append(
                PlotSeries(
                    metric=name,
                    uuid=uuid,
                    label=labels[uuid],
                    points=len(ys),
                    min=round(min(ys), 3),
                    max=round(max(ys), 3),
                    mean=round(sum(ys) / len(ys), 3),
                )
            )
        title = name if metric is None else f"{metric.alias} ({name})"
        ax.set_title(title, fontsize=10, loc="left")
        ax.set_ylabel(metric.unit if metric is not None else "unit unknown")
        ax.grid(True, alpha=0.3)
        if not any(s.metric == name for s in series):
            ax.text(0.5, 0.5, "no samples", transform=ax.transAxes, ha="center", va="center", color="grey")
    locator = mdates.AutoDateLocator()
    axes[-1].xaxis.set_major_locator(locator)
    axes[-1].xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    axes[-1].set_xlabel("time (UTC)")
    if start < end:
        axes[-1].set_xlim(start, end)
    how = "raw samples" if bucket_s is None else f"{_format_seconds(bucket_s)} buckets"
    fig.suptitle(
        f"GPU telemetry, {len(order)} GPU(s), {start:%Y-%m-%d %H:%M:%S} to {end:%Y-%m-%d %H:%M:%S} UTC ({how})",
        fontsize=11,
    )
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncols=min(4, len(handles)), fontsize=8)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue(), series
