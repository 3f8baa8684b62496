"""plot_telemetry (the CLI's `telemetry plot`, query_telemetry's chart): a real PNG from samples in a real store,
bounded points and GPUs, clear errors."""

from __future__ import annotations

import io
from datetime import datetime, timedelta

import pytest

from dgx_spark_mcp.errors import BadInputError
from dgx_spark_mcp.settings import Settings
from dgx_spark_mcp.telemetry.plot import MAX_GPUS, MAX_POINTS, parse_bucket, parse_time, plot_telemetry
from dgx_spark_mcp.telemetry.queries import query_telemetry
from dgx_spark_mcp.telemetry.store import TelemetryStore, _memory_connection

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
T0 = datetime(2025, 6, 1, 12, 0, 0)


def _store(settings: Settings, hosts: int, gpus_per_host: int, seconds: int, start: datetime = T0) -> None:
    """One sample per second per GPU of gpu_util (a ramp per GPU) and power, committed as one batch."""
    con = _memory_connection()
    con.execute(
        """CREATE TEMP TABLE rows AS
        SELECT ?::TIMESTAMP + to_seconds(s) AS ts,
               printf('GPU-%04d-%04d', h, g) AS uuid, printf('node%d', h) AS host, g::INTEGER AS gpu_index,
               'NVIDIA H100 80GB HBM3' AS model, m.metric,
               CASE WHEN m.metric = 'DCGM_FI_DEV_GPU_UTIL' THEN (s % 100)::DOUBLE ELSE 70.0 + g * 100 END AS value,
               NULL::VARCHAR AS pod, NULL::VARCHAR AS namespace, NULL::VARCHAR AS container
        FROM range(?) r(s), range(?) hh(h), range(?) gg(g),
             (VALUES ('DCGM_FI_DEV_GPU_UTIL'), ('DCGM_FI_DEV_POWER_USAGE')) m(metric)""",
        [start, seconds, hosts, gpus_per_host],
    )
    store = TelemetryStore(settings)
    with store.ingest_lock():
        store.commit(con, "rows")
    con.close()


def _png_size(png: bytes) -> tuple[int, int]:
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        image.verify()
    with Image.open(io.BytesIO(png)) as image:
        return image.size


def test_a_long_series_is_bucketed_into_a_real_png(settings: Settings) -> None:
    _store(settings, hosts=1, gpus_per_host=2, seconds=3 * 3600)
    plot = plot_telemetry(settings, ["gpu_util", "DCGM_FI_DEV_POWER_USAGE"])
    assert plot.png.startswith(PNG_SIGNATURE) and len(plot.png) > 10_000
    assert _png_size(plot.png) == (plot.width_px, plot.height_px) and plot.width_px == 1200
    assert plot.bucket_s is not None and plot.bucket_s >= 3 * 3600 / MAX_POINTS
    assert {s.label for s in plot.series} == {"node0:0", "node0:1"}
    assert all(0 < s.points <= MAX_POINTS for s in plot.series)
    power = {s.label: s for s in plot.series if s.metric == "DCGM_FI_DEV_POWER_USAGE"}
    assert power["node0:1"].mean == 170.0 and power["node0:0"].min == 70.0
    # A ramp 0..99 averaged over buckets of 10 s or more stays inside 0..99, its mean near 49.5.
    util = next(s for s in plot.series if s.metric == "DCGM_FI_DEV_GPU_UTIL")
    assert 0 <= util.min and util.max <= 99 and abs(util.mean - 49.5) < 1
    assert plot.start == T0 and plot.end == T0 + timedelta(seconds=3 * 3600 - 1)


def test_short_series_are_drawn_raw_and_a_given_bucket_is_kept(settings: Settings) -> None:
    _store(settings, hosts=1, gpus_per_host=1, seconds=600)
    raw = plot_telemetry(settings, ["gpu_util"])
    assert raw.bucket_s is None and raw.series[0].points == 600
    bucketed = plot_telemetry(settings, ["gpu_util"], bucket="1m")
    assert bucketed.bucket_s == 60 and bucketed.series[0].points == 10
    # Too small a bucket for the window is widened, and the caller is told.
    _store(settings, hosts=1, gpus_per_host=1, seconds=5000, start=T0 + timedelta(hours=1))
    widened = plot_telemetry(settings, ["gpu_util"], bucket="1s")
    assert widened.bucket_s == 5 and any("used 5 s" in note for note in widened.notes)


def test_gpus_are_chosen_by_host_index_uuids_and_window(settings: Settings) -> None:
    _store(settings, hosts=2, gpus_per_host=2, seconds=120)
    one = plot_telemetry(settings, ["power"], host="node1", gpu_index=1)
    assert [s.uuid for s in one.series] == ["GPU-0001-0001"] and one.series[0].label == "node1:1"
    host = plot_telemetry(settings, ["power"], host="node0")
    assert {s.label for s in host.series} == {"node0:0", "node0:1"}
    picked = plot_telemetry(settings, ["power"], uuids=["GPU-0000-0001", "GPU-0001-0000"])
    assert {s.label for s in picked.series} == {"node0:1", "node1:0"}
    window = plot_telemetry(settings, ["power"], host="node0", start="2025-06-01T12:00:30Z", end="2025-06-01T14:00:59+02:00")
    assert all(s.points == 30 for s in window.series)


def test_the_same_host_index_on_two_gpus_is_told_apart_by_uuid(settings: Settings, tmp_path) -> None:
    _store(settings, hosts=1, gpus_per_host=1, seconds=60)
    con = _memory_connection()
    con.execute(
        "CREATE TEMP TABLE rows AS SELECT ?::TIMESTAMP + to_seconds(s) AS ts, 'GPU-swapped' AS uuid, 'node0' AS host, "
        "0 AS gpu_index, 'x' AS model, 'DCGM_FI_DEV_POWER_USAGE' AS metric, 1.0 AS value, NULL AS pod, "
        "NULL AS namespace, NULL AS container FROM range(60) r(s)",
        [T0 + timedelta(minutes=5)],
    )
    store = TelemetryStore(settings)
    with store.ingest_lock():
        store.commit(con, "rows")
    plot = plot_telemetry(settings, ["power"])
    assert {s.label for s in plot.series} == {"GPU-0000-0000", "GPU-swapped"}


def test_an_empty_store_or_window_is_a_clear_error(settings: Settings) -> None:
    with pytest.raises(BadInputError, match="store is empty"):
        plot_telemetry(settings, ["gpu_util"])
    _store(settings, hosts=1, gpus_per_host=1, seconds=60)
    with pytest.raises(BadInputError, match=r"no samples for .*2026.*holds 120 samples of 1 GPU.*node0"):
        plot_telemetry(settings, ["gpu_util"], start="2026-01-01T00:00:00")
    with pytest.raises(BadInputError, match="no samples"):
        plot_telemetry(settings, ["gpu_util"], host="nowhere")


def test_unknown_metrics_and_bad_times_name_the_value(settings: Settings) -> None:
    _store(settings, hosts=1, gpus_per_host=1, seconds=60)
    with pytest.raises(BadInputError, match="unknown metric 'gpu_utilisation'.*gpu_util"):
        plot_telemetry(settings, ["gpu_utilisation"])
    with pytest.raises(BadInputError, match="metrics is empty"):
        plot_telemetry(settings, [" "])
    with pytest.raises(BadInputError, match="start 'yesterday'"):
        plot_telemetry(settings, ["gpu_util"], start="yesterday")
    with pytest.raises(BadInputError, match="not before end"):
        plot_telemetry(settings, ["gpu_util"], start="2025-06-01T13:00:00", end="2025-06-01T12:00:00")
    with pytest.raises(BadInputError, match="bucket '5 parsecs'"):
        plot_telemetry(settings, ["gpu_util"], bucket="5 parsecs")
    with pytest.raises(BadInputError, match="not both"):
        plot_telemetry(settings, ["gpu_util"], uuids=["GPU-0000-0000"], host="node0")


def test_too_many_gpus_asks_to_narrow(settings: Settings) -> None:
    _store(settings, hosts=3, gpus_per_host=6, seconds=10)
    assert 18 > MAX_GPUS
    with pytest.raises(BadInputError, match=r"18 GPUs .* at most 16: narrow it with host \(one of \['node0', 'node1', 'node2'\]"):
        plot_telemetry(settings, ["gpu_util"])
    assert len({s.uuid for s in plot_telemetry(settings, ["gpu_util"], host="node2").series}) == 6


def test_relative_and_iso_times_parse_to_utc() -> None:
    now = datetime(2025, 6, 1, 12, 0)
    assert parse_time("last 1h", "start", now) == datetime(2025, 6, 1, 11, 0)
    assert parse_time("last 90m", "start", now) == datetime(2025, 6, 1, 10, 30)
    assert parse_time("2025-06-01T14:00:00+02:00", "start", now) == datetime(2025, 6, 1, 12, 0)
    assert parse_time("2025-06-01 12:00", "end", now) == datetime(2025, 6, 1, 12, 0)
    assert parse_time("now", "end", now) == now and parse_time(None, "end", now) is None
    assert parse_bucket("5m") == 300 and parse_bucket("30") == 30 and parse_bucket(None) is None
    with pytest.raises(BadInputError, match="last forever"):
        parse_time("last forever", "start", now)


def test_a_chart_beside_a_query_draws_the_pages_gpus_and_says_what_it_left_out(settings: Settings) -> None:
    """query_telemetry(chart=True): at most 16 GPUs of the page, the key metrics when none are named."""
    _store(settings, hosts=3, gpus_per_host=6, seconds=30)
    answer = query_telemetry(settings, detail="summary", limit=18, chart=True)
    assert answer.png is not None and answer.png.startswith(PNG_SIGNATURE)
    assert answer.chart is not None and "for 16 GPU(s)" in answer.chart and "the first 16 of the page's 18 GPUs" in answer.chart
    assert "DCGM_FI_DEV_GPU_UTIL, DCGM_FI_DEV_POWER_USAGE" in answer.chart  # the key metrics stored here
    none = query_telemetry(settings, detail="summary", start="2020-01-01T00:00:00Z", end="2020-01-02T00:00:00Z", chart=True)
    assert none.png is None and none.chart is None  # nothing in the window: the answer says so, no chart


def test_a_chart_of_many_metrics_keeps_the_first_eight(settings: Settings) -> None:
    _store(settings, hosts=1, gpus_per_host=1, seconds=30)
    names = ["gpu_util", "power", "fb_used", "fb_free", "gpu_temp", "memory_temp", "sm_clock", "mem_clock", "enc_util"]
    answer = query_telemetry(settings, gpus="node0:0", metrics=names, detail="full", limit=5, chart=True)
    assert answer.chart is not None and "draws 8 of the 9 metrics: DCGM_FI_DEV_ENC_UTIL left out" in answer.chart
    assert answer.png is not None
