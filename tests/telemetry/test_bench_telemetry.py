"""bench/telemetry.py and its data generator: the smoke run works end to end, the CSV is a real DCGM export."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

from telemetry_data import LONG_HEADER, WIDE_HEADER, generate, gpu_uuid  # noqa: E402

LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def test_the_long_csv_has_the_dcgm_export_layout(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    made = generate(path, gpus=10, timestamps=3, fmt="long")
    lines = path.read_text().splitlines()
    assert lines[0] == LONG_HEADER
    assert len(lines) == 1 + made["rows"] == 1 + 10 * 3 * 10
    # Every data field quoted, quotes inside labels_raw doubled.
    assert lines[1].startswith('"2026-03-02T00:00:00Z","DCGM_FI_DEV_GPU_UTIL","0","nvidia0","GPU-')
    assert 'DCGM_FI_DRIVER_VERSION=""550.54.15""' in lines[1]
    rows = list(csv.DictReader(lines))
    labels = dict(LABEL.findall(rows[0]["labels_raw"]))
    assert list(labels) == sorted(labels)  # byte-sorted keys, as exported
    assert labels["__name__"] == rows[0]["metric_name"] and labels["UUID"] == rows[0]["uuid"] == gpu_uuid(0)
    assert labels["instance"] == rows[0]["Hostname"] + ":9400"
    by_metric: dict[str, list[float]] = {}
    for row in rows:
        by_metric.setdefault(row["metric_name"], []).append(float(row["value"]))
    assert len(by_metric) == 10
    assert all(0 <= v <= 100 for v in by_metric["DCGM_FI_DEV_GPU_UTIL"])
    assert all(60 <= v <= 700 for v in by_metric["DCGM_FI_DEV_POWER_USAGE"])
    assert any(v != int(v) for v in by_metric["DCGM_FI_DEV_POWER_USAGE"])  # watts carry decimals
    assert all(0 <= v <= 81_559 for v in by_metric["DCGM_FI_DEV_FB_USED"])
    assert all(345 <= v <= 1980 for v in by_metric["DCGM_FI_DEV_SM_CLOCK"])
    assert len(set(by_metric["DCGM_FI_DEV_GPU_UTIL"])) > 3  # not a constant


def test_the_wide_csv_has_one_row_per_gpu_and_timestamp(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    generate(path, gpus=4, timestamps=5, fmt="wide")
    rows = list(csv.DictReader(path.read_text().splitlines()))
    assert ",".join(rows[0]) == WIDE_HEADER
    assert len(rows) == 20 and len({(r["timestamp"], r["uuid"]) for r in rows}) == 20
    for row in rows:
        assert int(row["memory_used_mb"]) + int(row["memory_free_mb"]) <= 81_559


def test_the_generator_is_deterministic(tmp_path: Path) -> None:
    generate(tmp_path / "a.csv", gpus=3, timestamps=4)
    generate(tmp_path / "b.csv", gpus=3, timestamps=4)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


@pytest.mark.slow
def test_the_quick_benchmark_prints_its_figures(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / "telemetry.py"), "--quick"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout)
    ingest, store, queries = figures["ingest"], figures["store"], figures["queries"]
    # The generated CSV is read whole: nothing rejected, every sample stored once.
    assert ingest["rows_read"] == ingest["rows_stored"] == ingest["csv_rows"] > 0
    for key in ("rows_per_s", "copy_rows_per_s", "ratio_vs_copy", "cpu_ratio_vs_copy", "pandas_rows_per_s",
                "ratio_vs_pandas", "target_ratio_vs_copy", "target_met"):
        assert key in ingest
    # The baseline, DuckDB's plain copy of the same file, read every row; the ratio is the two speeds'.
    assert ingest["copy_rows"] == ingest["csv_rows"]
    assert abs(ingest["ratio_vs_copy"] - ingest["rows_per_s"] / ingest["copy_rows_per_s"]) <= 0.01
    assert "plain COPY" in figures["headline"] and len(figures["headline"]) <= 300
    assert store["stored_rows"] >= 150_000 and store["batches"] == store["commits"] + 1
    for key in ("window_p50_ms", "report_p50_ms", "pandas_window_p50_ms", "ratio_vs_pandas", "target_met",
                "pandas_rows_loaded"):
        assert key in queries
    assert queries["window_points_median"] > 0
    assert list(tmp_path.iterdir()) == []  # temp dirs only
