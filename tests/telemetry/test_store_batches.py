"""The commit's shortcuts (telemetry/batches.py) against the slow way round: the same rows stored either way.

- Overlap with the store is decided from each batch's _gpus.parquet: a batch with none of the new GPUs in the
  new time range is never read; one that has them is read, and only its repeated keys are dropped.
- Repeats within a batch are found in the sorted file (ts must rise within each series), read back in chunks.
- The labels are sorted as ENUM codes: the file is sorted as the strings are, its columns are plain strings.
- _gpus.parquet and _latest.parquet come from one aggregate per label set, and say what the rows say.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dgx_spark_mcp.settings import Settings
from dgx_spark_mcp.telemetry import batches
from dgx_spark_mcp.telemetry.store import TelemetryStore, _memory_connection


def _rows(start_s: int, count: int, gpus: range = range(2), metrics: tuple[str, ...] = ("DCGM_FI_DEV_GPU_UTIL",),
          host: str = "node-a01") -> str:
    listed = ", ".join(f"('{m}')" for m in metrics)
    return (
        f"(SELECT TIMESTAMP '2026-03-02 08:00:00' + to_seconds(t) AS ts, 'GPU-' || g AS uuid, '{host}' AS host, "
        f"g::INTEGER AS gpu_index, 'NVIDIA H100 80GB HBM3' AS model, m AS metric, (t % 100)::DOUBLE AS value, "
        f"NULL AS pod, NULL AS namespace, NULL AS container "
        f"FROM range({start_s}, {start_s + count}) r(t), (SELECT unnest({list(gpus)}) AS g), (VALUES {listed}) v(m))"
    )


def _commit(store: TelemetryStore, relation: str, **kwargs):  # type: ignore[no-untyped-def]
    con = _memory_connection()
    try:
        with store.ingest_lock():
            return store.commit(con, relation, **kwargs)
    finally:
        con.close()


def _stored(store: TelemetryStore, sql: str = "SELECT count(*), count(DISTINCT (ts, uuid, metric)) FROM samples"):
    with store.reader() as con:
        return con.execute(sql).fetchall()


def test_a_batch_with_no_gpu_in_the_time_range_of_a_stored_one_reads_no_stored_batch(tmp_path: Path) -> None:
    store = TelemetryStore(Settings(home=tmp_path))
    first = _commit(store, _rows(0, 100, gpus=range(4)))
    other_gpus = _commit(store, _rows(0, 100, gpus=range(4, 8)))  # same times, other GPUs
    later = _commit(store, _rows(100, 100, gpus=range(8)))  # same GPUs, later times
    assert [r.compared_batches for r in (first, other_gpus, later)] == [0, 0, 0]
    assert [(r.stored, r.duplicates) for r in (first, other_gpus, later)] == [(400, 0), (400, 0), (800, 0)]
    # Seconds 150-249 of GPUs 6-9: only the third batch holds GPUs 6-7 after second 99; half its keys are new.
    overlap = _commit(store, _rows(150, 100, gpus=range(6, 10)))
    assert (overlap.compared_batches, overlap.stored, overlap.duplicates, overlap.repeated) == (1, 300, 100, 0)
    # The fourth batch stored GPUs 6-7 from second 200 only (the rest was there): it cannot hold seconds 0-199.
    again = _commit(store, _rows(0, 200, gpus=range(8)))
    assert (again.batch, again.compared_batches, again.stored, again.duplicates) == (None, 3, 0, 1600)
    assert _stored(store) == [(1900, 1900)]


def test_a_batch_without_its_gpu_summary_is_compared_in_full(tmp_path: Path) -> None:
    store = TelemetryStore(Settings(home=tmp_path))
    _commit(store, _rows(0, 50))
    (store.batches()[0] / "_gpus.parquet").unlink()  # as if lost: nothing says what the batch holds
    result = _commit(store, _rows(1000, 50))  # a time range it does not hold
    assert (result.compared_batches, result.stored, result.duplicates) == (1, 100, 0)
    assert _commit(store, _rows(0, 50)).duplicates == 100


@pytest.mark.parametrize("chunk", [7, 10, 1_000_000])
def test_repeats_are_found_in_the_sorted_file_across_read_back_chunks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    # 2 GPUs x 2 metrics x 10 s = 40 rows, so series are 10 rows long: chunks of 10 end exactly where a series
    # does, chunks of 7 cut through them.  The repeat is the last row of the last series, the one place a
    # chunked check can miss it.
    monkeypatch.setattr(batches, "_READ_BACK_ROWS", chunk)
    store = TelemetryStore(Settings(home=tmp_path / "a"))
    clean = _rows(0, 10, metrics=("DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_POWER_USAGE"))
    assert (_commit(store, clean).repeated, _stored(store)) == (0, [(40, 40)])
    store = TelemetryStore(Settings(home=tmp_path / "b"))
    last = f"(SELECT * FROM {clean} WHERE uuid = 'GPU-1' AND metric = 'DCGM_FI_DEV_POWER_USAGE' AND ts = " \
           "TIMESTAMP '2026-03-02 08:00:09')"
    result = _commit(store, f"(SELECT * FROM {clean} UNION ALL SELECT * FROM {last})")
    assert (result.rows_in, result.stored, result.duplicates, result.repeated) == (41, 40, 1, 1)
    assert _stored(store) == [(40, 40)]


def test_a_series_whose_first_row_repeats_the_previous_series_time_is_no_repeat(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # Every series runs over the same seconds: at each series start ts drops back, which is not a repeat.
    monkeypatch.setattr(batches, "_READ_BACK_ROWS", 3)
    store = TelemetryStore(Settings(home=tmp_path))
    result = _commit(store, _rows(0, 1, gpus=range(5), metrics=("A", "B", "C")))
    assert (result.stored, result.repeated) == (15, 0)


def test_labels_sort_as_strings_and_are_stored_as_plain_strings(tmp_path: Path) -> None:
    store = TelemetryStore(Settings(home=tmp_path))
    # Upper case sorts before lower case, 'GPU-10' before 'GPU-2': byte order, as VARCHAR compares.
    rows = (
        "(SELECT TIMESTAMP '2026-03-02 08:00:00' + to_seconds(t) AS ts, u AS uuid, 'h-' || u AS host, 0 AS gpu_index, "
        "'m' AS model, m AS metric, t::DOUBLE AS value, 'pod-' || (t % 3) AS pod, 'ns' AS namespace, NULL AS container "
        "FROM range(5) r(t), (VALUES ('GPU-2'), ('GPU-10'), ('gpu-1'), ('GPU-B')) a(u), (VALUES ('b'), ('B'), ('a')) b(m))"
    )
    con = _memory_connection()
    try:
        with store.ingest_lock():
            assert store.commit(con, rows).stored == 60
        assert con.execute("SELECT count(*) FROM duckdb_types() WHERE type_name LIKE '_labels_%'").fetchone() == (0,)
        (part,) = [b / "part-0.parquet" for b in store.batches()]
        stored = con.execute(f"SELECT uuid, metric, ts FROM read_parquet('{part}')").fetchall()
        assert stored == sorted(stored) and len(stored) == 60
        assert [u for u, _, _ in stored[::15]] == ["GPU-10", "GPU-2", "GPU-B", "gpu-1"]
        types = dict(con.execute(f"SELECT name, converted_type FROM parquet_schema('{part}') WHERE type = 'BYTE_ARRAY'")
                     .fetchall())
        assert types == {c: "UTF8" for c in ("uuid", "host", "model", "metric", "pod", "namespace", "container")}
        described = con.execute(f"DESCRIBE SELECT * FROM read_parquet('{part}', hive_partitioning = false)").fetchall()
        assert [(c[0], c[1]) for c in described] == [
            ("ts", "TIMESTAMP"), ("uuid", "VARCHAR"), ("host", "VARCHAR"), ("gpu_index", "INTEGER"),
            ("model", "VARCHAR"), ("metric", "VARCHAR"), ("value", "DOUBLE"), ("pod", "VARCHAR"),
            ("namespace", "VARCHAR"), ("container", "VARCHAR")]
        # Each row keeps its own labels (pod changes within a series).
        assert con.execute(f"SELECT count(DISTINCT pod) FROM read_parquet('{part}') WHERE uuid = 'GPU-2'").fetchone() == (3,)
    finally:
        con.close()


def test_the_summaries_say_what_the_rows_say_when_labels_change_and_values_go_blank(tmp_path: Path) -> None:
    store = TelemetryStore(Settings(home=tmp_path))
    # GPU-0 moves from node-a to node-b (index 0 -> 3) at second 50; its last five values are blanks (null).
    rows = (
        "(SELECT TIMESTAMP '2026-03-02 08:00:00' + to_seconds(t) AS ts, 'GPU-' || g AS uuid, "
        "CASE WHEN g = 0 AND t >= 50 THEN 'node-b' ELSE 'node-a' END AS host, "
        "CASE WHEN g = 0 AND t >= 50 THEN 3 ELSE g END::INTEGER AS gpu_index, 'NVIDIA H100 80GB HBM3' AS model, "
        "m AS metric, CASE WHEN t >= 95 THEN NULL ELSE t * 10 + g END::DOUBLE AS value, NULL AS pod, NULL AS namespace, "
        "NULL AS container FROM range(100) r(t), range(2) q(g), (VALUES ('A'), ('B')) v(m))"
    )
    _commit(store, rows, driver={"GPU-0": "550.54.15"})
    with store.reader() as con:
        gpus = con.execute("SELECT * FROM gpus ORDER BY uuid").fetchall()
        expected = con.execute(
            "SELECT s.uuid, arg_max(host, ts), arg_max(gpu_index, ts), arg_max(model, ts), "
            "CASE WHEN s.uuid = 'GPU-0' THEN '550.54.15' END, min(ts), max(ts), count(*) FROM samples s "
            "GROUP BY s.uuid ORDER BY s.uuid").fetchall()
        assert gpus == expected and gpus[0][1:3] == ("node-b", 3)
        latest = con.execute("SELECT * FROM latest ORDER BY uuid, metric").fetchall()
        assert latest == con.execute(
            "SELECT uuid, metric, max(ts), arg_max(value, ts) FROM samples GROUP BY ALL ORDER BY uuid, metric").fetchall()
        assert latest[0][2].second == 39 and latest[0][3] == 940.0  # the last time, the last value that is not blank
