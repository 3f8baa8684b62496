"""The commit's fast path (no repeats in the batch) keeps the layout: part files sorted by (uuid, metric, ts)."""

from __future__ import annotations

from pathlib import Path

from dgx_spark_mcp.settings import Settings
from dgx_spark_mcp.telemetry.store import TelemetryStore, _memory_connection

# Rows in time-major order with uuids and metrics out of order, as a scrape export has them.
_ROWS = (
    "(SELECT TIMESTAMP '2026-03-02 08:00:00' + to_seconds(t) AS ts, 'GPU-' || (7 - g) AS uuid, 'node-a01' AS host, "
    "g::INTEGER AS gpu_index, 'NVIDIA H100 80GB HBM3' AS model, m AS metric, (t * g)::DOUBLE AS value, "
    "NULL AS pod, NULL AS namespace, NULL AS container "
    "FROM range(0, 300) r(t), range(8) q(g), (VALUES ('DCGM_FI_DEV_POWER_USAGE'), ('DCGM_FI_DEV_GPU_UTIL')) v(m))"
)


def _part_rows(store: TelemetryStore) -> list[tuple[str, str, object]]:
    con = _memory_connection()
    try:
        (part,) = [b / "part-0.parquet" for b in store.batches()]
        return con.execute(f"SELECT uuid, metric, ts FROM read_parquet('{part}')").fetchall()
    finally:
        con.close()


def test_a_batch_without_repeats_is_written_sorted(tmp_path: Path) -> None:
    store = TelemetryStore(Settings(home=tmp_path))
    con = _memory_connection()
    con.execute("SET preserve_insertion_order = false")  # as the ingest's connection has it
    with store.ingest_lock():
        result = store.commit(con, _ROWS)
    assert (result.stored, result.duplicates) == (4800, 0)
    rows = _part_rows(store)
    assert len(rows) == 4800 and rows == sorted(rows)


def test_a_batch_with_repeats_keeps_one_row_per_key_sorted(tmp_path: Path) -> None:
    store = TelemetryStore(Settings(home=tmp_path))
    con = _memory_connection()
    with store.ingest_lock():
        result = store.commit(con, f"(SELECT * FROM {_ROWS} UNION ALL SELECT * FROM {_ROWS} WHERE gpu_index = 3)")
    assert (result.rows_in, result.stored, result.duplicates) == (5400, 4800, 600)
    rows = _part_rows(store)
    assert rows == sorted(set(rows)) and len(rows) == 4800
