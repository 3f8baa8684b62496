"""The Parquet telemetry store: one row per sample key, atomic batches, readers that never wait."""

from __future__ import annotations

from pathlib import Path

from dgx_spark_mcp.settings import Settings
from dgx_spark_mcp.telemetry.store import TelemetryStore, _memory_connection


def _rows(start_s: int, count: int, gpus: int = 2, metric: str = "DCGM_FI_DEV_GPU_UTIL") -> str:
    return (
        f"(SELECT TIMESTAMP '2026-03-02 08:00:00' + to_seconds(t) AS ts, 'GPU-' || g AS uuid, 'node-a01' AS host, "
        f"g::INTEGER AS gpu_index, 'NVIDIA H100 80GB HBM3' AS model, '{metric}' AS metric, (t % 100)::DOUBLE AS value, "
        f"'' AS pod, '' AS namespace, '' AS container FROM range({start_s}, {start_s + count}) r(t), range({gpus}) q(g))"
    )


def _count(store: TelemetryStore) -> int:
    with store.reader() as con:
        return int(con.execute("SELECT count(*) FROM samples").fetchone()[0])


def test_an_empty_store_reads_as_empty_tables(tmp_path: Path) -> None:
    store = TelemetryStore(Settings(home=tmp_path))
    with store.reader() as con:
        assert con.execute("SELECT count(*) FROM samples").fetchone() == (0,)
        assert con.execute("SELECT count(*) FROM gpus").fetchone() == (0,)
        assert [c[0] for c in con.execute("DESCRIBE samples").fetchall()][:3] == ["ts", "uuid", "host"]


def test_each_sample_key_is_stored_once(tmp_path: Path) -> None:
    store = TelemetryStore(Settings(home=tmp_path))
    con = _memory_connection()
    with store.ingest_lock():
        first = store.commit(con, _rows(0, 100))
        again = store.commit(con, _rows(0, 100))
        overlap = store.commit(con, _rows(50, 100))  # half new
        repeated = store.commit(con, f"(SELECT * FROM {_rows(500, 10)} UNION ALL SELECT * FROM {_rows(500, 10)})")
    assert (first.stored, first.duplicates) == (200, 0)
    assert (again.batch, again.stored, again.duplicates) == (None, 0, 200)
    assert (overlap.stored, overlap.duplicates) == (100, 100)
    assert (repeated.stored, repeated.duplicates) == (20, 20)
    assert _count(store) == 320
    assert len(store.batches()) == 3


def test_a_batch_carries_its_gpu_summary_and_latest_values(tmp_path: Path) -> None:
    store = TelemetryStore(Settings(home=tmp_path))
    con = _memory_connection()
    with store.ingest_lock():
        store.commit(con, _rows(0, 60), driver={"GPU-1": "550.54.15"})
    with store.reader() as reader:
        gpus = reader.execute("SELECT uuid, host, gpu_index, driver, samples, last_seen::VARCHAR FROM gpus ORDER BY uuid").fetchall()
        latest = reader.execute("SELECT uuid, metric, ts::VARCHAR, value FROM latest ORDER BY uuid").fetchall()
    assert gpus == [("GPU-0", "node-a01", 0, None, 60, "2026-03-02 08:00:59"),
                    ("GPU-1", "node-a01", 1, "550.54.15", 60, "2026-03-02 08:00:59")]
    assert latest[0] == ("GPU-0", "DCGM_FI_DEV_GPU_UTIL", "2026-03-02 08:00:59", 59.0)


def test_rows_without_a_key_are_not_stored(tmp_path: Path) -> None:
    store = TelemetryStore(Settings(home=tmp_path))
    con = _memory_connection()
    keyless = _rows(0, 10).replace("'GPU-' || g AS uuid", "NULL::VARCHAR AS uuid")
    with store.ingest_lock():
        result = store.commit(con, keyless)
    assert (result.batch, result.rows_in, result.stored) == (None, 0, 0)
    assert store.batches() == []


def test_a_staging_directory_left_by_a_killed_ingest_is_never_read_and_is_removed(tmp_path: Path) -> None:
    store = TelemetryStore(Settings(home=tmp_path))
    con = _memory_connection()
    with store.ingest_lock():
        store.commit(con, _rows(0, 10))
    abandoned = store.staging_dir / "20260101T000000000000-dead"
    abandoned.mkdir(parents=True)
    con.execute(f"COPY (SELECT * FROM {_rows(100, 10)}) TO '{abandoned / 'part-0.parquet'}' (FORMAT parquet)")
    assert _count(store) == 20  # the abandoned rows are not visible
    with store.ingest_lock():
        pass
    assert not abandoned.exists()


def test_the_samples_directory_is_plain_parquet_with_summaries_hidden_from_spark_readers(tmp_path: Path) -> None:
    store = TelemetryStore(Settings(home=tmp_path))
    con = _memory_connection()
    with store.ingest_lock():
        store.commit(con, _rows(0, 10))
    (batch,) = store.batches()
    assert batch.name.startswith("batch=")
    assert sorted(p.name for p in batch.iterdir()) == ["_gpus.parquet", "_latest.parquet", "part-0.parquet"]
    # Readers that walk the directory (Spark, DuckDB's hive globbing) see only the part files as data.
    glob = f"{store.samples_dir}/*/part-*.parquet"
    assert con.execute(f"SELECT count(*) FROM read_parquet('{glob}')").fetchone() == (20,)
