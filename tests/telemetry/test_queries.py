"""query_telemetry over a store filled through TelemetryStore.commit: the statistics first, the points on request."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from dgx_spark_mcp.errors import BadInputError
from dgx_spark_mcp.settings import Settings
from dgx_spark_mcp.telemetry.queries import STATS_COLUMNS, TelemetrySeries, query_telemetry
from dgx_spark_mcp.telemetry.store import TelemetryStore, _memory_connection
from dgx_spark_mcp.telemetry.window import parse_window

START = datetime(2025, 6, 1, 12, 0, 0)
NOW = datetime(2025, 6, 1, 13, 0, 0)

# Two hosts: dgx-a with two H100s (GPU 1 busy, hot, throttled, XID 79 once; GPU 0 idle), gb10 with one GB10.
# 10 s samples for 30 minutes, with a 10-minute collection gap on dgx-a GPU 0.
FLEET_SQL = """
WITH gpu(uuid, host, gpu_index, model, pod, namespace, busy) AS (VALUES
    ('GPU-aaaa-0', 'dgx-a', 0, 'NVIDIA H100 80GB HBM3', NULL, NULL, 0),
    ('GPU-aaaa-1', 'dgx-a', 1, 'NVIDIA H100 80GB HBM3', 'train-0', 'ml', 1),
    ('GPU-bbbb-0', 'gb10', 0, 'NVIDIA GB10', 'etl-7', 'data', 2)),
t AS (SELECT TIMESTAMP '2025-06-01 12:00:00' + INTERVAL (i * 10) SECOND AS ts, i FROM range(180) r(i)),
rows AS (SELECT t.ts, t.i, gpu.* FROM t, gpu WHERE NOT (gpu.uuid = 'GPU-aaaa-0' AND t.i BETWEEN 60 AND 119))
SELECT ts, uuid, host, gpu_index, model, metric, value, pod, namespace, NULL::VARCHAR AS container FROM rows,
LATERAL (VALUES
    ('DCGM_FI_DEV_GPU_UTIL', CASE busy WHEN 0 THEN (i % 3)::DOUBLE WHEN 1 THEN 90 + (i % 10) ELSE 40 + (i % 20) END),
    ('DCGM_FI_DEV_FB_USED', CASE busy WHEN 0 THEN 512 WHEN 1 THEN 79000 + (i % 5) * 100 ELSE 30000 END),
    ('DCGM_FI_DEV_FB_FREE', CASE busy WHEN 0 THEN 81047 WHEN 1 THEN 2559 - (i % 5) * 100 ELSE 98000 END),
    ('DCGM_FI_DEV_POWER_USAGE', CASE busy WHEN 0 THEN 70.5 WHEN 1 THEN 650 + (i % 7) ELSE 95 END),
    ('DCGM_FI_DEV_GPU_TEMP', CASE busy WHEN 0 THEN 33 WHEN 1 THEN 80 + (i % 10) ELSE 55 END),
    ('DCGM_FI_DEV_SM_CLOCK', CASE busy WHEN 0 THEN 345 WHEN 1 THEN 1980 - (i % 4) * 30 ELSE 2418 END),
    ('DCGM_FI_DEV_XID_ERRORS', CASE WHEN busy = 1 AND i = 100 THEN 79 ELSE 0 END),
    ('DCGM_FI_DEV_CLOCK_THROTTLE_REASONS', CASE busy WHEN 0 THEN 1 WHEN 1 THEN (CASE WHEN i % 4 = 0 THEN 4 ELSE 0 END) ELSE 0 END)
) m(metric, value)
UNION ALL
SELECT ts, uuid, host, gpu_index, model, 'DCGM_FI_DEV_SLOWDOWN_TEMP', 92, pod, namespace, NULL FROM rows WHERE gpu_index = 1
"""


def fill_store(settings: Settings) -> TelemetryStore:
    """The fleet above, committed in two batches (two ingests) like real imports."""
    store = TelemetryStore(settings)
    con = _memory_connection()
    with store.ingest_lock():
        store.commit(con, f"(SELECT * FROM ({FLEET_SQL}) WHERE ts < TIMESTAMP '2025-06-01 12:15:00')", driver={"GPU-aaaa-1": "550.54.15"})
        store.commit(con, f"(SELECT * FROM ({FLEET_SQL}) WHERE ts >= TIMESTAMP '2025-06-01 12:15:00')", driver={"GPU-aaaa-1": "550.54.15"})
    con.close()
    return store


@pytest.fixture
def fleet(settings: Settings) -> Settings:
    fill_store(settings)
    return settings



def every_page(settings: Settings, **kwargs: Any) -> list[TelemetrySeries]:
    """Every page of a query, following next_cursor."""
    pages = [query_telemetry(settings, **kwargs)]
    while pages[-1].next_cursor:
        pages.append(query_telemetry(settings, **kwargs, cursor=pages[-1].next_cursor))
        assert len(pages) < 500
    return pages


def stored(settings: Settings, where: str) -> list[tuple[str, str, str, float | None]]:
    """The samples as the store holds them, read directly: what the full detail must give back, point for point."""
    with TelemetryStore(settings).reader() as con:
        rows = con.execute(f"SELECT strftime(ts, '%Y-%m-%dT%H:%M:%SZ'), uuid, metric, value FROM samples WHERE {where} "
                           "ORDER BY uuid, metric, ts").fetchall()
    return [(ts, uuid, metric, value) for ts, uuid, metric, value in rows]


def test_the_summary_gives_each_series_statistics(fleet: Settings) -> None:
    series = query_telemetry(fleet, host="dgx-a", gpu_index=1, metrics=["gpu_util", "power"], detail="summary")
    assert series.detail == "summary" and series.columns == STATS_COLUMNS and series.gpus == 1
    assert series.units == {"gpu_util": "%", "power": "W"}
    assert (series.first, series.last) == ("2025-06-01T12:00:00Z", "2025-06-01T12:29:50Z")
    (gpu,) = series.stats
    assert (gpu.uuid, gpu.host, gpu.index, gpu.first, gpu.last) == ("GPU-aaaa-1", "dgx-a", 1, None, None)
    # 90 + i % 10 over 180 samples: min 90, max 99, mean 94.5, p95 99 (interpolated).
    assert gpu.stats["gpu_util"] == [180, 90, 94.5, 99, 99]
    assert gpu.stats["power"][:2] == [180, 650] and series.series == [] and series.points == []
    assert "detail='full'" in (series.more or "")


def test_a_gpu_whose_samples_start_later_says_so(fleet: Settings) -> None:
    series = query_telemetry(fleet, start="2025-06-01T12:05:00Z", end="2025-06-01T12:25:00Z", metrics=["gpu_util"],
                             detail="summary")
    assert [g.uuid for g in series.stats] == ["GPU-aaaa-0", "GPU-aaaa-1", "GPU-bbbb-0"]
    idle = series.stats[0]  # no samples 12:10-12:20, but present on both sides
    assert idle.stats["gpu_util"][0] == 60 and (idle.first, idle.last) == (None, None)
    only = query_telemetry(fleet, uuid="GPU-aaaa-0", metrics=["gpu_util"], start="2025-06-01T12:12:00Z",
                           end="2025-06-01T12:25:00Z", detail="summary")
    assert (only.first, only.stats[0].stats["gpu_util"][0]) == ("2025-06-01T12:20:00Z", 30)


def test_summary_pages_through_every_gpu_once(fleet: Settings) -> None:
    pages = every_page(fleet, metrics=["power"], detail="summary", limit=2)
    assert [len(p.stats) for p in pages] == [2, 1] and all(p.gpus == 3 for p in pages)
    assert [g.uuid for p in pages for g in p.stats] == ["GPU-aaaa-0", "GPU-aaaa-1", "GPU-bbbb-0"]
    assert "1 more GPU(s): cursor=next_cursor" in (pages[0].more or "")


def test_the_default_summary_page_holds_about_80_series(fleet: Settings) -> None:
    """8 metrics stored (9 on one GPU): 80 // 9 = 8 GPUs a page, all 3 here; one metric: up to 20 GPUs."""
    assert len(query_telemetry(fleet, detail="summary").stats) == 3
    assert query_telemetry(fleet, detail="summary").next_cursor is None


def test_full_gives_every_raw_sample_once_across_pages(fleet: Settings) -> None:
    pages = every_page(fleet, metrics=["gpu_util", "power"], start="2025-06-01T12:00:00Z", end="2025-06-01T12:05:00Z",
                       detail="full", limit=7)
    got = [(p.ts, p.uuid, p.metric, p.value) for page in pages for p in page.points]
    assert got == stored(fleet, "ts < TIMESTAMP '2025-06-01 12:05:00' AND metric IN "
                                "('DCGM_FI_DEV_GPU_UTIL', 'DCGM_FI_DEV_POWER_USAGE')")
    assert len(got) == 180 and all(len(page.points) <= 7 for page in pages)
    first = pages[0]
    assert first.columns == ["ts", "value"] and first.series[0].metric == "gpu_util"
    assert first.series[0].rows[0] == ["2025-06-01T12:00:00Z", 0]  # whole numbers without '.0'
    assert "cursor=next_cursor" in (first.more or "")


def test_a_series_cut_by_a_page_continues_on_the_next(fleet: Settings) -> None:
    one, two = every_page(fleet, uuid="GPU-bbbb-0", metrics=["power"], detail="full", limit=100)
    assert [len(s.rows) for s in one.series] == [100] and [len(s.rows) for s in two.series] == [80]
    assert one.series[0].rows[-1][0] < two.series[0].rows[0][0]


def test_full_buckets_with_aggregates(fleet: Settings) -> None:
    series = query_telemetry(fleet, uuid="GPU-aaaa-1", metrics=["gpu_util"], bucket="1m",
                             aggregates=["avg", "min", "max", "p95"])
    assert series.columns == ["ts", "avg", "min", "max", "p95", "samples"] and series.bucket_seconds == 60
    assert len(series.points) == 30
    first = series.points[0]
    # i = 0..5 -> 90..95
    assert (first.ts, first.avg, first.min, first.max, first.samples) == ("2025-06-01T12:00:00Z", 92.5, 90.0, 95.0, 6)
    assert first.p95 == pytest.approx(94.75) and first.value is None
    assert series.series[0].rows[0] == ["2025-06-01T12:00:00Z", 92.5, 90, 95, 94.75, 6]


def test_a_cursor_is_refused_with_other_arguments_or_when_made_up(fleet: Settings) -> None:
    page = query_telemetry(fleet, metrics=["gpu_util"], detail="full", limit=7)
    assert page.next_cursor
    with pytest.raises(BadInputError, match="other arguments"):
        query_telemetry(fleet, metrics=["power"], detail="full", limit=7, cursor=page.next_cursor)
    with pytest.raises(BadInputError, match="other arguments"):  # a full page's cursor is not a summary's
        query_telemetry(fleet, metrics=["gpu_util"], detail="summary", cursor=page.next_cursor)
    with pytest.raises(BadInputError, match="not one this tool returned"):
        query_telemetry(fleet, metrics=["power"], cursor="garbage")


def test_a_relative_window_is_read_from_the_first_pages_now(fleet: Settings) -> None:
    """Page 2 asked an hour later still reads the window of page 1 (the cursor carries its 'now')."""
    first = query_telemetry(fleet, uuid="GPU-bbbb-0", metrics=["power"], start="last 1h", detail="full", limit=100,
                            now=datetime(2025, 6, 1, 12, 30))
    assert first.window.model_dump() == {"start": "2025-06-01T11:30:00Z", "end": "2025-06-01T12:30:00Z",
                                         "relative_to": "2025-06-01T12:30:00Z"}
    later = query_telemetry(fleet, uuid="GPU-bbbb-0", metrics=["power"], start="last 1h", detail="full", limit=100,
                            cursor=first.next_cursor, now=datetime(2025, 6, 1, 13, 30))
    assert later.window == first.window and len(first.points) + len(later.points) == 180
    assert query_telemetry(fleet, uuid="GPU-bbbb-0", start="last 30m", detail="full").points == []  # real now


def test_gpus_names_a_uuid_a_host_or_host_index(fleet: Settings) -> None:
    assert [g.uuid for g in query_telemetry(fleet, gpus="dgx-a", detail="summary").stats] == ["GPU-aaaa-0", "GPU-aaaa-1"]
    assert [g.uuid for g in query_telemetry(fleet, gpus="dgx-a:1", detail="summary").stats] == ["GPU-aaaa-1"]
    assert [g.uuid for g in query_telemetry(fleet, gpus="GPU-bbbb-0", detail="summary").stats] == ["GPU-bbbb-0"]
    with pytest.raises(BadInputError, match="no GPU with uuid 'GPU-nope'"):
        query_telemetry(fleet, gpus="GPU-nope")
    with pytest.raises(BadInputError, match="no GPU stored for host 'dgx-a' GPU index 7"):
        query_telemetry(fleet, gpus="dgx-a:7")
    with pytest.raises(BadInputError, match="no GPU stored for host 'elsewhere'"):
        query_telemetry(fleet, gpus="elsewhere")
    with pytest.raises(BadInputError, match="not both"):
        query_telemetry(fleet, gpus="dgx-a", uuid="GPU-aaaa-0")


def test_empty_store_and_empty_window_say_so(settings: Settings) -> None:
    # Every GPU of an empty store is an empty answer that says why (found by bench/load.py: an agent querying
    # before the first ingest got an error); a GPU named in an empty store is still an error.
    nothing = query_telemetry(settings, metrics=["gpu_util"], bucket="1m", detail="summary")
    assert nothing.stats == [] and nothing.gpus == 0 and "empty" in (nothing.note or "")
    with pytest.raises(BadInputError, match="empty"):
        query_telemetry(settings, uuid="GPU-0")
    fill_store(settings)
    outside = query_telemetry(settings, start="2024-01-01T00:00:00Z", end="2024-01-02T00:00:00Z", detail="summary")
    assert outside.gpus == 0 and "widen start/end" in (outside.note or "")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metrics": ["gpu_utilization_pct"]}, "unknown metric 'gpu_utilization_pct'"),
        ({"metrics": []}, "metrics is an empty list"),
        ({"start": "yesterday"}, "start 'yesterday' is neither an ISO 8601 time"),
        ({"start": "2025-06-01T13:00:00Z", "end": "2025-06-01T12:00:00Z"}, "is not after start"),
        ({"uuid": "GPU-zzz"}, "no GPU with uuid 'GPU-zzz'.*GPU-aaaa-0.*list_gpus"),
        ({"gpu_index": 0}, "needs a host"),
        ({"host": "dgx-a", "gpu_index": 5}, "no GPU stored for host 'dgx-a' GPU index 5"),
        ({"bucket": "5 fortnights"}, "bucket '5 fortnights' does not give a duration"),
        ({"bucket": "1m", "aggregates": ["median"]}, "unknown aggregate"),
        ({"aggregates": ["max"]}, "aggregates need a bucket"),
        ({"limit": 10001}, "limit 10001 is out of range"),
        ({"detail": "everything"}, "detail 'everything' is not one of"),
        ({"gpus": " "}, "gpus is empty"),
        ({"engine": "polars"}, "unknown engine 'polars'"),
    ],
)
def test_bad_input_names_the_value(fleet: Settings, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(BadInputError, match=message):
        query_telemetry(fleet, **kwargs)


def test_naive_and_offset_times_are_utc() -> None:
    lo, hi, window = parse_window("2025-06-01T12:00:00", "2025-06-01T16:00:00+03:00")
    assert lo == datetime(2025, 6, 1, 12) and hi == datetime(2025, 6, 1, 13)
    assert window.start == "2025-06-01T12:00:00Z" and window.relative_to is None
    with pytest.raises(BadInputError, match="is not after start"):
        parse_window("2025-06-01T12:00:00", "2025-06-01T15:00:00+03:00")  # the same instant
