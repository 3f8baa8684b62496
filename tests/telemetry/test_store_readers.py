"""Readers are cursors on one shared in-memory database: they must still behave as separate connections."""

from __future__ import annotations

from pathlib import Path

from dgx_spark_mcp.settings import Settings
from dgx_spark_mcp.telemetry.store import TelemetryStore, _memory_connection


def _rows(start_s: int) -> str:
    return (
        f"(SELECT TIMESTAMP '2026-03-02 08:00:00' + to_seconds(t) AS ts, 'GPU-1' AS uuid, 'node-a01' AS host, "
        "0 AS gpu_index, 'NVIDIA H100 80GB HBM3' AS model, 'DCGM_FI_DEV_GPU_UTIL' AS metric, t::DOUBLE AS value, "
        f"NULL AS pod, NULL AS namespace, NULL AS container FROM range({start_s}, {start_s + 10}) r(t))"
    )


def test_readers_share_no_temp_objects_or_session_settings(tmp_path: Path) -> None:
    store = TelemetryStore(Settings(home=tmp_path))
    with store.reader() as first:
        first.execute("CREATE TEMP TABLE _mine AS SELECT 1 AS x")
        first.execute("SET TimeZone = 'America/New_York'")
        with store.reader() as second:
            assert second.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = '_mine'").fetchone() == (0,)
            assert second.execute("SELECT current_setting('TimeZone')").fetchone() == ("UTC",)
    with store.reader() as third:  # a reader's temp objects go when it closes
        assert third.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = '_mine'").fetchone() == (0,)
        assert third.execute("SELECT current_setting('TimeZone')").fetchone() == ("UTC",)


def test_a_new_reader_sees_each_batch_committed_before_it(tmp_path: Path) -> None:
    store = TelemetryStore(Settings(home=tmp_path))
    con = _memory_connection()
    counts = []
    for start in (0, 100, 200):
        with store.ingest_lock():
            store.commit(con, _rows(start))
        with store.reader() as reader:  # footers are cached per file; a new batch is a new file
            counts.append(reader.execute("SELECT count(*), max(value) FROM samples").fetchone())
    assert counts == [(10, 9.0), (20, 109.0), (30, 209.0)]
