"""An export in any row order is stored the same, sorted by (uuid, metric, ts); its repeats and overlaps counted.

The ingest sorts every batch (cheaply: see telemetry/batches.py) rather than trusting the order of the file,
and finds repeated keys in the sorted result: these tests give it the same samples time-major (as
dcgm-exporter writes them), series-major (already in the store's order) and shuffled (times out of order
within each series), with and without repeats.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from dgx_spark_mcp.settings import Settings
from dgx_spark_mcp.telemetry.ingest import ingest
from dgx_spark_mcp.telemetry.store import TelemetryStore

from .bigcsv import write_long_csv

HEADER = "timestamp,metric_name,gpu_id,device,uuid,modelName,Hostname,container,pod,namespace,value,labels_raw"


def _reordered(source: Path, target: Path, order: str) -> Path:
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"COPY (SELECT * FROM read_csv('{source}', all_varchar = true) ORDER BY {order}) TO '{target}' "
                    "(HEADER, FORCE_QUOTE *)")
    finally:
        con.close()
    return target


def _part_rows(settings: Settings) -> list[tuple[Any, ...]]:
    """Every stored row in file order, batch after batch."""
    con = duckdb.connect(":memory:")
    try:
        rows: list[tuple[Any, ...]] = []
        for batch in TelemetryStore(settings).batches():
            rows += con.execute(
                f"SELECT uuid, metric, ts, host, gpu_index, value FROM read_parquet('{batch / 'part-0.parquet'}')"
            ).fetchall()
        return rows
    finally:
        con.close()


@pytest.mark.parametrize("order", ["time-major", "series-major", "shuffled"])
def test_any_row_order_is_stored_sorted_and_the_same(tmp_path: Path, order: str) -> None:
    made = write_long_csv(tmp_path / "made.csv", 6400)  # metrics fastest, then 16 GPUs, then 100 seconds
    path = {
        "time-major": lambda: made,
        "series-major": lambda: _reordered(made, tmp_path / "series.csv", "uuid, metric_name, timestamp"),
        "shuffled": lambda: _reordered(made, tmp_path / "shuffled.csv", "hash(timestamp, uuid, metric_name)"),
    }[order]()
    settings = Settings(home=tmp_path / "home", allowed_roots=[tmp_path])
    result = ingest(str(path), settings)
    assert (result.rows_read, result.rows_stored, result.duplicates, result.rejected) == (6400, 6400, 0, {})
    stored = _part_rows(settings)
    assert [r[:3] for r in stored] == sorted(r[:3] for r in stored) and len(stored) == 6400
    reference = Settings(home=tmp_path / "reference", allowed_roots=[tmp_path])
    ingest(str(made), reference)
    assert stored == _part_rows(reference)


def test_repeats_within_a_file_and_overlap_with_the_store_are_counted_apart(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", allowed_roots=[tmp_path])
    first = write_long_csv(tmp_path / "first.csv", 6400)  # seconds 0-99
    ingest(str(first), settings)
    # Seconds 50-149, with seconds 140-149 written twice (another value the second time), shuffled.
    later = write_long_csv(tmp_path / "later.csv", 6400, start_second=50)
    twice = tmp_path / "twice.csv"
    con = duckdb.connect(":memory:")
    try:
        con.execute(
            f"COPY (SELECT * FROM (SELECT * FROM read_csv('{later}', all_varchar = true) UNION ALL "
            f"SELECT * REPLACE ('7' AS value) FROM read_csv('{later}', all_varchar = true) "
            "WHERE timestamp >= '2026-03-02T00:02:20Z') ORDER BY hash(timestamp, uuid, metric_name, value)) "
            f"TO '{twice}' (HEADER, FORCE_QUOTE *)"
        )
    finally:
        con.close()
    result = ingest(str(twice), settings)
    # 6400 + 640 read; 3200 already stored (seconds 50-99), 640 repeated, 3200 new.
    assert (result.rows_read, result.rows_stored, result.duplicates) == (7040, 3200, 3840)
    notes = " ".join(result.notes)
    assert "3200 samples were already stored" in notes and "640 samples repeated" in notes
    with TelemetryStore(settings).reader() as reader:
        assert reader.execute("SELECT count(*), count(DISTINCT (ts, uuid, metric)) FROM samples").fetchone() == (9600, 9600)
    stored = _part_rows(settings)
    assert [r[:3] for r in stored[6400:]] == sorted(r[:3] for r in stored[6400:])


def test_times_with_offsets_spaces_and_infinities(settings: Settings, tmp_path: Path) -> None:
    def line(ts: str, uuid: str, metric: str, value: str) -> str:
        return f'"{ts}","{metric}","0","nvidia0","{uuid}","NVIDIA H100 80GB HBM3","node-a","","","","{value}",""\n'

    path = tmp_path / "odd.csv"
    path.write_text(
        HEADER + "\n"
        + line("2026-03-02T10:15:00+02:00", "GPU-1", "DCGM_FI_DEV_GPU_UTIL", "1")  # 08:15 UTC
        + line("2026-03-02 08:15:01", " GPU-1 ", "DCGM_FI_DEV_GPU_UTIL ", " 2 ")  # naive: UTC; spaces trimmed
        + line("2026-03-02T08:15:02.250Z", "GPU-1", "DCGM_FI_DEV_GPU_UTIL", "3")
        + line("infinity", "GPU-1", "DCGM_FI_DEV_GPU_UTIL", "4")  # no time a sample was taken at
        + line("2026-03-02T08:15:03Z", "GPU-1", "DCGM_FI_DEV_GPU_UTIL", "-inf")
    )
    result = ingest(str(path), settings)
    assert result.rejected == {"unparsable timestamp": 1, "unparsable value": 1} and result.rows_stored == 3
    with TelemetryStore(settings).reader() as con:
        stored = con.execute("SELECT uuid, metric, strftime(ts, '%H:%M:%S.%g'), value FROM samples ORDER BY ts").fetchall()
    assert stored == [("GPU-1", "DCGM_FI_DEV_GPU_UTIL", "08:15:00.000", 1.0),
                      ("GPU-1", "DCGM_FI_DEV_GPU_UTIL", "08:15:01.000", 2.0),
                      ("GPU-1", "DCGM_FI_DEV_GPU_UTIL", "08:15:02.250", 3.0)]


def test_progress_is_reported_in_order_through_the_write(settings: Settings, tmp_path: Path) -> None:
    path = write_long_csv(tmp_path / "p.csv", 640)
    runs: list[list[tuple[float, float | None, str]]] = [[], []]
    for seen in runs:
        ingest(str(path), settings, progress=lambda done, total, message, seen=seen: seen.append((done, total, message)))
    for seen in runs:
        assert [d for d, _, _ in seen] == sorted(d for d, _, _ in seen) and seen[-1][:2] == (100.0, 100.0)
    first, again = ({m for _, _, m in seen} for seen in runs)
    assert "writing" in first and "comparing with the stored samples" not in first
    assert "comparing with the stored samples" in again and "writing" not in again  # all stored already
