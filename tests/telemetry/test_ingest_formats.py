"""Each telemetry format read into the real store (DuckDB over Parquet), with its values, labels and rejects."""

from __future__ import annotations

import gzip
import os
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from dgx_spark_mcp.errors import BadInputError
from dgx_spark_mcp.settings import Settings
from dgx_spark_mcp.telemetry.ingest import detect_format, ingest
from dgx_spark_mcp.telemetry.store import TelemetryStore

from .bigcsv import write_long_csv
from .conftest import FIXTURES

U1 = "GPU-00000000-0000-0000-0000-000000000001"
U2 = "GPU-00000000-0000-0000-0000-000000000002"


def rows(settings: Settings, sql: str = "SELECT * FROM samples ORDER BY uuid, metric, ts") -> list[dict[str, Any]]:
    with TelemetryStore(settings).reader() as con:
        cursor = con.execute(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


def sample(settings: Settings, uuid: str, metric: str) -> dict[str, Any]:
    found = [r for r in rows(settings) if r["uuid"] == uuid and r["metric"] == metric]
    assert len(found) == 1, found
    return found[0]


def test_long_csv_values_units_labels_and_driver(settings: Settings, fixture_file) -> None:  # type: ignore[no-untyped-def]
    path = fixture_file("dcgm_long.csv")
    seen: list[tuple[float, float | None, str]] = []
    result = ingest(str(path), settings, progress=lambda d, t, m: seen.append((d, t, m)))
    assert result.format == "dcgm_long"
    assert (result.rows_read, result.rows_stored, result.duplicates, result.blanks) == (3, 3, 0, 0)
    assert result.rejected == {} and result.gpus == 2 and result.hosts == ["node-a01", "node-a02"]
    assert result.metrics == ["DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_POWER_USAGE"]
    assert (result.first_ts, result.last_ts) == ("2026-03-02T08:15:00Z", "2026-03-02T08:15:01Z")
    assert result.batch is not None and result.source == str(path.resolve())
    power = sample(settings, U2, "DCGM_FI_DEV_POWER_USAGE")
    assert power["value"] == 412.375  # W, as DCGM wrote it
    assert power["ts"] == datetime(2026, 3, 2, 8, 15, 1) and power["host"] == "node-a02" and power["gpu_index"] == 1
    assert power["model"] == "NVIDIA H100 80GB HBM3" and power["pod"] is None and power["namespace"] is None
    assert sample(settings, U1, "DCGM_FI_DEV_FB_USED")["value"] == 61234  # MiB
    drivers = {r["uuid"]: r["driver"] for r in rows(settings, "SELECT * FROM gpus")}
    assert drivers == {U1: "550.54.15", U2: "535.104.05"}
    messages = [m for _, _, m in seen]
    assert {"parsed", "checked", "committed"} <= set(messages)
    assert [d for d, _, _ in seen] == sorted(d for d, _, _ in seen) and seen[-1][:2] == (100.0, 100.0)


def test_blanks_become_null_and_bad_rows_are_counted_by_reason(settings: Settings, fixture_file) -> None:  # type: ignore[no-untyped-def]
    result = ingest(str(fixture_file("dcgm_long_messy.csv")), settings)
    assert result.rows_read == 10
    assert result.rejected == {"no GPU uuid": 1, "unparsable value": 1, "unparsable timestamp": 1}
    # INT64 blank (MEMORY_TEMP), string blank (ENC_UTIL), INT32 blank on a clock (SM_CLOCK).
    assert result.blanks == 3 and result.rows_stored == 7
    for metric in ("DCGM_FI_DEV_MEMORY_TEMP", "DCGM_FI_DEV_ENC_UTIL", "DCGM_FI_DEV_SM_CLOCK"):
        assert sample(settings, U1, metric)["value"] is None
    # An energy counter may pass 2^31 mJ: the INT32 blank range is no sentinel there.
    assert sample(settings, U2, "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION")["value"] == 2147483640
    assert not any(r["metric"] == "DCGM_FI_DEV_GPU_TEMP" for r in rows(settings))


def test_wide_csv_maps_columns_to_metrics(settings: Settings, fixture_file) -> None:  # type: ignore[no-untyped-def]
    result = ingest(str(fixture_file("dcgm_wide.csv")), settings)
    assert result.format == "dcgm_wide"
    assert (result.rows_read, result.rows_stored, result.gpus) == (24, 24, 3)  # 3 rows x 8 metric columns
    assert result.hosts == ["node-a01", "node-b07"] and len(result.metrics) == 8
    a100 = "GPU-00000000-0000-0000-0000-000000000009"
    assert sample(settings, a100, "DCGM_FI_DEV_POWER_USAGE")["value"] == 188.4
    assert sample(settings, a100, "DCGM_FI_DEV_MEM_COPY_UTIL")["value"] == 18  # memory_utilization is bandwidth
    assert sample(settings, a100, "DCGM_FI_DEV_FB_FREE")["value"] == 50868
    assert sample(settings, a100, "DCGM_FI_DEV_MEM_CLOCK")["model"] == "NVIDIA A100-SXM4-80GB"


def test_wide_csv_by_header_name_with_model_name_and_naive_utc_timestamps(settings: Settings, fixture_file) -> None:  # type: ignore[no-untyped-def]
    result = ingest(str(fixture_file("dcgm_wide_model_name.csv")), settings)
    assert result.format == "dcgm_wide" and result.rows_read == 18  # 3 rows x 6 metric columns
    assert result.rejected == {"no GPU uuid": 6, "no value": 1} and result.rows_stored == 11
    assert (result.first_ts, result.last_ts) == ("2024-01-01T12:00:01Z", "2024-01-01T12:00:02Z")
    assert any("rack" in note for note in result.notes)
    l4 = "GPU-00000000-0000-0000-0000-000000000011"
    temps = [r for r in rows(settings) if r["metric"] == "DCGM_FI_DEV_GPU_TEMP"]
    assert [(r["ts"], r["value"]) for r in temps] == [(datetime(2024, 1, 1, 12, 0, 1), 41), (datetime(2024, 1, 1, 12, 0, 2), 42)]
    assert all(r["uuid"] == l4 and r["model"] == "NVIDIA L4" and r["host"] == "node-c01" for r in temps)
    assert [r["value"] for r in rows(settings) if r["metric"] == "DCGM_FI_DEV_POWER_USAGE"] == [30.5, 31.25]


def test_prometheus_text_file(settings: Settings, fixture_file) -> None:  # type: ignore[no-untyped-def]
    path = fixture_file("dcgm_exporter.prom")
    os.utime(path, (1772441100, 1772441100))  # 2026-03-02T08:45:00Z
    result = ingest(str(path), settings)
    assert result.format == "prometheus"
    assert result.rows_read == 7 and result.rows_stored == 6
    assert result.rejected == {"no GPU uuid": 1, "not a DCGM metric": 2}
    assert result.blanks == 1 and result.gpus == 2
    util2 = sample(settings, U2, "DCGM_FI_DEV_GPU_UTIL")
    assert util2["value"] == 3 and util2["ts"] == datetime(2026, 3, 2, 8, 45)
    assert (util2["pod"], util2["namespace"], util2["container"]) == ("trainer-0", "ml", "pytorch")
    assert sample(settings, U2, "DCGM_FI_DEV_POWER_USAGE")["value"] == 71.8  # extra label, other order
    assert sample(settings, U1, "DCGM_FI_DEV_MEMORY_TEMP")["value"] is None
    assert sample(settings, U1, "DCGM_FI_DEV_FB_USED")["ts"] == datetime(2026, 3, 2, 8, 15)  # its own ms timestamp
    assert {r["driver"] for r in rows(settings, "SELECT * FROM gpus")} == {"550.54.15"}


def test_reingest_stores_nothing_new(settings: Settings, fixture_file) -> None:  # type: ignore[no-untyped-def]
    path = fixture_file("dcgm_wide.csv")
    first = ingest(str(path), settings)
    again = ingest(str(path), settings)
    assert first.rows_stored == 24
    assert (again.rows_stored, again.duplicates, again.batch) == (0, again.rows_read, None)
    assert len(TelemetryStore(settings).batches()) == 1 and len(rows(settings)) == 24


def test_overlapping_files_store_each_sample_once(settings: Settings, tmp_path: Path) -> None:
    # 16 GPUs x 4 metrics = 64 samples a second: seconds 0-99 and 50-149 share 50 seconds.
    a = write_long_csv(tmp_path / "a.csv", 6400)
    b = write_long_csv(tmp_path / "b.csv", 6400, start_second=50)
    first, second = ingest(str(a), settings), ingest(str(b), settings)
    assert first.rows_stored == 6400
    assert (second.rows_stored, second.duplicates) == (3200, 3200)
    counted = rows(settings, "SELECT count(*) AS n, count(DISTINCT (ts, uuid, metric)) AS k FROM samples")[0]
    assert counted == {"n": 9600, "k": 9600}


def test_compressed_inputs(settings: Settings, fixture_file, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import zstandard

    plain = fixture_file("dcgm_long.csv")
    with plain.open("rb") as src, gzip.open(tmp_path / "long.csv.gz", "wb") as dst:
        shutil.copyfileobj(src, dst)
    assert ingest(str(tmp_path / "long.csv.gz"), settings).rows_stored == 3
    wide = fixture_file("dcgm_wide.csv")
    (tmp_path / "wide.csv.zst").write_bytes(zstandard.ZstdCompressor().compress(wide.read_bytes()))
    result = ingest(str(tmp_path / "wide.csv.zst"), settings)
    # The long file stored GPU_UTIL and FB_USED of U1 at 08:15:00 already.
    assert result.format == "dcgm_wide" and (result.rows_stored, result.duplicates) == (22, 2)


def test_header_quoted_or_not_and_any_case(tmp_path: Path) -> None:
    quoted = tmp_path / "q.csv"
    quoted.write_text('"Timestamp","Metric_Name","UUID","Value"\n"2026-03-02T08:15:00Z","DCGM_FI_DEV_GPU_UTIL","GPU-1","5"\n')
    assert detect_format(quoted) == ("dcgm_long", ["Timestamp", "Metric_Name", "UUID", "Value"])


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("empty.csv", b"", "is empty"),
        ("blank.csv", b"\n\n  \n", "is empty"),
        ("image.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary file"),
        ("latin1.csv", b"timestamp,caf\xe9\n" + b"x" * 100, "not UTF-8"),
        ("other.csv", b"id,name,price\n1,apple,3\n", "not a telemetry file"),
        ("broken.csv.gz", b"\x1f\x8b\x08\x00 not gzip at all", "cannot be"),
    ],
)
def test_bad_inputs_are_refused_and_nothing_is_stored(settings: Settings, tmp_path: Path, name: str, content: bytes, expected: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(BadInputError, match=expected) as caught:
        ingest(str(path), settings)
    assert name in str(caught.value)
    assert TelemetryStore(settings).batches() == []


def test_a_directory_a_missing_file_and_a_path_outside_the_roots(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="is a directory"):
        ingest(str(tmp_path), settings)
    with pytest.raises(BadInputError, match="does not exist"):
        ingest(str(tmp_path / "nope.csv"), settings)
    with pytest.raises(BadInputError, match="outside the allowed roots"):
        ingest("/etc/hostname", settings)
    with pytest.raises(BadInputError, match="source is empty"):
        ingest("  ", settings)
    assert TelemetryStore(settings).batches() == []


def test_a_header_without_rows_stores_nothing(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text("timestamp,metric_name,gpu_id,device,uuid,modelName,Hostname,container,pod,namespace,value,labels_raw\n")
    result = ingest(str(path), settings)
    assert (result.rows_read, result.rows_stored, result.batch) == (0, 0, None)
    assert "no samples" in " ".join(result.notes)


def test_malformed_lines_are_counted_and_the_rest_stored(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "cut.csv"
    good = '"2026-03-02T08:15:0{s}Z","DCGM_FI_DEV_GPU_UTIL","0","nvidia0","GPU-1","m","h","","","","87","x"'
    path.write_text(
        "timestamp,metric_name,gpu_id,device,uuid,modelName,Hostname,container,pod,namespace,value,labels_raw\n"
        + good.format(s=0) + "\n"
        + good.format(s=1) + ',"extra","fields"\n'
        + '"2026-03-02T08:15:02Z","DCGM_FI_DEV_GPU_UTIL","0"\n'
        + good.format(s=3) + "\n"
    )
    result = ingest(str(path), settings)
    # Too few fields: no sample.  Fields beyond the header are ignored (read tolerantly), the sample kept.
    assert result.rejected == {"malformed CSV line": 1}
    assert (result.rows_read, result.rows_stored) == (3, 3)
    assert [r["ts"].second for r in rows(settings)] == [0, 1, 3]


@pytest.mark.parametrize("name", ["dcgm_long.csv", "dcgm_wide.csv"])
def test_a_trailing_comma_on_every_line_is_an_unnamed_column_ignored_with_a_note(
    settings: Settings, tmp_path: Path, name: str
) -> None:
    """Spreadsheet exports end every line with a comma: the header then names a column ''."""
    plain = ingest(str(shutil.copyfile(FIXTURES / name, tmp_path / name)), settings)
    trailing = tmp_path / f"trailing_{name}"
    trailing.write_text("".join(line + ",\n" for line in (FIXTURES / name).read_text().splitlines()))
    result = ingest(str(trailing), settings)
    assert (result.format, result.rows_read, result.rejected) == (plain.format, plain.rows_read, plain.rejected)
    assert result.duplicates == plain.rows_stored  # the same samples as the file without the commas
    columns = len((FIXTURES / name).read_text().splitlines()[0].split(",")) + 1
    assert f"column(s) {columns} have no name in the header" in " ".join(result.notes)


def test_a_repeated_column_is_ignored_unless_the_format_reads_it(settings: Settings, tmp_path: Path) -> None:
    header = "timestamp,metric_name,gpu_id,device,uuid,modelName,Hostname,container,pod,namespace,value,labels_raw"
    body = "".join(line + "\n" for line in (FIXTURES / "dcgm_long.csv").read_text().splitlines()[1:])
    extra = tmp_path / "repeated_device.csv"
    extra.write_text(header.replace("gpu_id,device", "device,device") + "\n" + body)
    result = ingest(str(extra), settings)
    assert result.rows_stored == 3 and "repeated column name(s) 'device' (column 4)" in " ".join(result.notes)
    ambiguous = tmp_path / "repeated_uuid.csv"
    ambiguous.write_text(header.replace("device,uuid", "UUID,uuid") + "\n" + body)
    with pytest.raises(BadInputError, match=r"names column 'uuid' twice \(columns 4 and 5\).*rename or remove one"):
        ingest(str(ambiguous), settings)
    wide = tmp_path / "repeated_metric.csv"
    wide.write_text((FIXTURES / "dcgm_wide.csv").read_text().replace("temperature,power_draw", "temperature,temperature", 1))
    with pytest.raises(BadInputError, match="repeated_metric.csv names column 'temperature' twice"):
        ingest(str(wide), settings)


def _long_line(ts: str, uuid: str, driver: str) -> str:
    labels = f'DCGM_FI_DRIVER_VERSION=""{driver}"",UUID=""{uuid}""'
    return f'"{ts}","DCGM_FI_DEV_GPU_UTIL","0","nvidia0","{uuid}","NVIDIA H100 80GB HBM3","node-a","","","","50","{labels}"\n'


def test_driver_versions_come_from_a_head_that_grows_until_every_gpu_has_one(
        settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dgx_spark_mcp.telemetry import csv_exports

    monkeypatch.setattr(csv_exports, "DRIVER_HEAD_ROWS", (2, 4))
    header = "timestamp,metric_name,gpu_id,device,uuid,modelName,Hostname,container,pod,namespace,value,labels_raw\n"
    gpus = [f"GPU-0000000{i}-0000-0000-0000-000000000000" for i in range(4)]
    # GPU 2 first appears on row 3 (found by the second, longer head); GPU 3 only on row 6 (past every head).
    order = [0, 1, 2, 0, 1, 3]
    path = tmp_path / "late.csv"
    path.write_text(header + "".join(_long_line(f"2026-03-02T08:0{n}:00Z", gpus[g], f"55{g}.1") for n, g in enumerate(order)))
    result = ingest(str(path), settings)
    drivers = {r["uuid"]: r["driver"] for r in rows(settings, "SELECT * FROM gpus")}
    assert drivers == {gpus[0]: "550.1", gpus[1]: "551.1", gpus[2]: "552.1", gpus[3]: None}
    assert any("first 4 rows: 1 GPU(s)" in note for note in result.notes)
