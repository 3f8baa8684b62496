"""list_gpus, list_hosts and query_telemetry over a store filled through TelemetryStore.commit."""

from __future__ import annotations

from datetime import datetime

import pytest

from dgx_spark_mcp.errors import BadInputError
from dgx_spark_mcp.settings import Settings
from dgx_spark_mcp.telemetry.queries import list_gpus, list_hosts, parse_window, query_telemetry
from dgx_spark_mcp.telemetry.store import TelemetryStore, _memory_connection

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


def test_list_gpus_gives_identity_span_and_latest_values(fleet: Settings) -> None:
    gpus = list_gpus(fleet).gpus
    assert [(g.host, g.index, g.uuid) for g in gpus] == [
        ("dgx-a", 0, "GPU-aaaa-0"), ("dgx-a", 1, "GPU-aaaa-1"), ("gb10", 0, "GPU-bbbb-0")]
    busy = gpus[1]
    assert busy.driver == "550.54.15" and gpus[0].driver is None
    assert busy.first_seen == "2025-06-01T12:00:00Z" and busy.last_seen == "2025-06-01T12:29:50Z"
    assert busy.samples == 180 * 9 and gpus[0].samples == 120 * 8
    latest = {v.alias: v for v in busy.latest}
    assert latest["gpu_util"].value == 99 and latest["gpu_util"].unit == "%" and latest["gpu_util"].ts == "2025-06-01T12:29:50Z"
    assert latest["fb_used"].unit == "MiB"
    assert [g.uuid for g in list_gpus(fleet, host="gb10").gpus] == ["GPU-bbbb-0"]
    with pytest.raises(BadInputError, match="dgx-a, gb10"):
        list_gpus(fleet, host="nope")


def test_list_hosts(fleet: Settings) -> None:
    hosts = list_hosts(fleet).hosts
    assert [(h.host, h.gpus, h.models) for h in hosts] == [
        ("dgx-a", 2, ["NVIDIA H100 80GB HBM3"]), ("gb10", 1, ["NVIDIA GB10"])]
    assert hosts[0].first_seen == "2025-06-01T12:00:00Z" and hosts[0].last_seen == "2025-06-01T12:29:50Z"


def test_empty_store_says_so(settings: Settings) -> None:
    assert list_gpus(settings).gpus == [] and "empty" in (list_gpus(settings).note or "")
    # Every GPU of an empty store is an empty answer that says why (found by bench/load.py: an agent querying
    # before the first ingest got an error); a GPU named in an empty store is still an error.
    nothing = query_telemetry(settings, metrics=["gpu_util"], bucket="1m")
    assert nothing.points == [] and nothing.gpus == [] and "empty" in (nothing.note or "")
    with pytest.raises(BadInputError, match="empty"):
        query_telemetry(settings, uuid="GPU-0")


def test_raw_samples_of_one_gpu_in_a_window(fleet: Settings) -> None:
    series = query_telemetry(fleet, host="dgx-a", gpu_index=1, metrics=["gpu_util", "DCGM_FI_DEV_POWER_USAGE"],
                             start="2025-06-01T14:00:00+02:00", end="2025-06-01T12:01:00Z")
    assert series.gpus == ["GPU-aaaa-1"] and series.window.start == "2025-06-01T12:00:00Z"
    assert [(m.alias, m.unit) for m in series.metrics] == [("gpu_util", "%"), ("power", "W")]
    assert len(series.points) == 12 and not series.truncated and series.next_cursor is None
    assert [(p.ts, p.metric, p.value) for p in series.points[:2]] == [
        ("2025-06-01T12:00:00Z", "DCGM_FI_DEV_GPU_UTIL", 90.0), ("2025-06-01T12:00:00Z", "DCGM_FI_DEV_POWER_USAGE", 650.0)]
    assert series.points[-1].ts == "2025-06-01T12:00:50Z"  # end is exclusive


def test_buckets_with_aggregates(fleet: Settings) -> None:
    series = query_telemetry(fleet, uuid="GPU-aaaa-1", metrics=["gpu_util"], bucket="1m", aggregates=["avg", "min", "max", "p95"])
    assert len(series.points) == 30 and series.bucket_seconds == 60
    first = series.points[0]
    # i = 0..5 -> 90..95
    assert (first.ts, first.avg, first.min, first.max, first.samples) == ("2025-06-01T12:00:00Z", 92.5, 90.0, 95.0, 6)
    assert first.p95 == pytest.approx(94.75)
    assert first.value is None


def test_pages_with_a_cursor_cover_every_row_once(fleet: Settings) -> None:
    everything = query_telemetry(fleet, metrics=["gpu_util"], start="2025-06-01T12:00:00Z", end="2025-06-01T12:05:00Z")
    pages, cursor = [], None
    while True:
        page = query_telemetry(fleet, metrics=["gpu_util"], start="2025-06-01T12:00:00Z", end="2025-06-01T12:05:00Z",
                               limit=7, cursor=cursor)
        pages += page.points
        if not page.truncated:
            break
        cursor = page.next_cursor
    assert pages == everything.points and len(pages) == 90
    with pytest.raises(BadInputError, match="other arguments"):
        query_telemetry(fleet, metrics=["power"], limit=7, cursor=cursor)
    with pytest.raises(BadInputError, match="not one this tool returned"):
        query_telemetry(fleet, metrics=["power"], cursor="garbage")


def test_relative_window_is_counted_from_now_and_reported(fleet: Settings) -> None:
    series = query_telemetry(fleet, uuid="GPU-bbbb-0", metrics=["power"], start="last 1h", now=datetime(2025, 6, 1, 12, 30))
    assert series.window.model_dump() == {"start": "2025-06-01T11:30:00Z", "end": "2025-06-01T12:30:00Z",
                                          "relative_to": "2025-06-01T12:30:00Z"}
    assert len(series.points) == 180
    assert query_telemetry(fleet, uuid="GPU-bbbb-0", start="last 30m").points == []  # real now: long after the data


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metrics": ["gpu_utilization_pct"]}, "unknown metric 'gpu_utilization_pct'"),
        ({"start": "yesterday"}, "start 'yesterday' is neither an ISO 8601 time"),
        ({"start": "2025-06-01T13:00:00Z", "end": "2025-06-01T12:00:00Z"}, "is not after start"),
        ({"uuid": "GPU-zzz"}, "no GPU with uuid 'GPU-zzz'.*GPU-aaaa-0.*list_gpus"),
        ({"gpu_index": 0}, "needs a host"),
        ({"host": "dgx-a", "gpu_index": 5}, "no GPU stored for host 'dgx-a' GPU index 5"),
        ({"bucket": "5 fortnights"}, "bucket '5 fortnights' does not give a duration"),
        ({"bucket": "1m", "aggregates": ["median"]}, "unknown aggregate"),
        ({"aggregates": ["max"]}, "aggregates need a bucket"),
        ({"limit": 10001}, "limit 10001 is out of range"),
        ({"engine": "polars"}, "unknown engine 'polars'"),
    ],
)
def test_bad_input_names_the_value(fleet: Settings, kwargs: dict, message: str) -> None:
    with pytest.raises(BadInputError, match=message):
        query_telemetry(fleet, **kwargs)


def test_naive_and_offset_times_are_utc() -> None:
    lo, hi, window = parse_window("2025-06-01T12:00:00", "2025-06-01T16:00:00+03:00")
    assert lo == datetime(2025, 6, 1, 12) and hi == datetime(2025, 6, 1, 13)
    assert window.start == "2025-06-01T12:00:00Z" and window.relative_to is None
    with pytest.raises(BadInputError, match="is not after start"):
        parse_window("2025-06-01T12:00:00", "2025-06-01T15:00:00+03:00")  # the same instant
