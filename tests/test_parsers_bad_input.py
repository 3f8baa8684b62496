"""Every parser fed empty, binary, truncated, malformed and huge input: an answer that says what it could not
read, or a BadInputError that names the input and says what to give instead — never another exception.

One section per parser: the event-log reader (plain and compressed), the plan parser (EXPLAIN text and
JSON), the config sources (conf, spark-submit, PySpark source, notebook, JSON), telemetry ingest (long
CSV, wide CSV, Prometheus text) and the Prometheus exposition parser.  Size limits are set small here
rather than writing gigabytes.  Cases other test files already hold are not repeated: an empty or
non-event file (tests/diagnosis/test_eventlog.py), a codec cut mid-stream (test_codecs.py), the file
attacks at the MCP surface (test_security_files.py), an empty/PNG/latin-1/broken-gzip telemetry file
(tests/telemetry/test_ingest_formats.py), unparsable plans and configs (test_plan_parser.py,
test_config_sources.py).
"""

from __future__ import annotations

import gzip
import random
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import zstandard

from dgx_spark_mcp.diagnosis.eventlogs.analysis import analyze_event_log
from dgx_spark_mcp.diagnosis.plans import analysis as plan_analysis
from dgx_spark_mcp.diagnosis.plans.analysis import analyze_query_plan
from dgx_spark_mcp.errors import BadInputError
from dgx_spark_mcp.optimizers import checker, config_sources
from dgx_spark_mcp.optimizers.checker import check_config, read_config_file
from dgx_spark_mcp.optimizers.config_sources import ConfigFormat, parse_config
from dgx_spark_mcp.settings import Settings
from dgx_spark_mcp.telemetry.ingest import ingest
from dgx_spark_mcp.telemetry.prometheus import parse_exposition
from dgx_spark_mcp.telemetry.store import TelemetryStore

FIXTURES = Path(__file__).parent / "fixtures"
EVENT_LOG = FIXTURES / "eventlogs" / "corpus" / "python_udf_eventlog"
FORMATTED_PLAN = FIXTURES / "plans" / "formatted" / "spark355_python_udf__sql0.txt"
JSON_PLAN = FIXTURES / "plans" / "json" / "spark355_python_udf__sql0.sparkPlanInfo.json"
TELEMETRY = FIXTURES / "telemetry"
BLOB = random.Random(7).randbytes(4096)  # what a binary file looks like: NULs and control bytes throughout


def _zstd(data: bytes) -> bytes:
    return zstandard.ZstdCompressor().compress(data)


def _write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


# --- event-log reader ---------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "data", "problem"), [
    ("app.zstd", BLOB, "as zstd: zstd frame data is corrupt"),
    ("app.lz4", BLOB, "as lz4: lz4 block header is corrupt"),
    ("app.snappy", b"\x82SNAPPY\x00" + BLOB, "as snappy: the snappy stream ends inside a chunk"),
    ("app.lzf", BLOB, "as lzf: lzf chunk header is corrupt"),
    ("app.gz", BLOB, "as gzip: gzip member data is corrupt"),
    ("cut_in_first_block.zstd", _zstd(EVENT_LOG.read_bytes())[:200], "the last zstd frame is unfinished"),
])
def test_an_event_log_that_is_not_its_codec_names_the_codec_and_what_broke(
    tmp_path: Path, settings: Settings, name: str, data: bytes, problem: str
) -> None:
    with pytest.raises(BadInputError, match="holds no Spark events") as caught:
        analyze_event_log(_write(tmp_path, name, data), settings)
    assert name in str(caught.value) and problem in str(caught.value)
    assert "Give a Spark event log" in str(caught.value)


@pytest.mark.parametrize("name", ["binary.zstd", "binary.gz"])
def test_binary_data_inside_a_compressed_event_log_is_refused_naming_the_first_bad_line(
    tmp_path: Path, settings: Settings, name: str
) -> None:
    data = _zstd(BLOB) if name.endswith(".zstd") else gzip.compress(BLOB)
    with pytest.raises(BadInputError, match=rf"{name}' holds no Spark events .*{name} line 1: not a Spark event"):
        analyze_event_log(_write(tmp_path, name, data), settings)


def test_binary_lines_among_real_events_are_skipped_and_counted(tmp_path: Path, settings: Settings) -> None:
    data = b"\x00" * 300 + b"\n" + EVENT_LOG.read_bytes() + BLOB[:500].replace(b"\n", b" ") + b"\n"
    result = analyze_event_log(_write(tmp_path, "mixed_eventlog", data), settings)
    assert result.app.app_id and result.reading.malformed_lines == 2
    assert result.reading.malformed_examples[0].startswith("mixed_eventlog line 1: not a Spark event")


def test_a_zstd_event_log_cut_mid_stream_gives_partial_results_that_say_so(tmp_path: Path, settings: Settings) -> None:
    lines = EVENT_LOG.read_bytes().split(b"\n")
    # Spark's zstd writer ends a frame at each flush: one frame per line, the cut inside the last frames.
    frames = b"".join(_zstd(line + b"\n") for line in lines if line)
    result = analyze_event_log(_write(tmp_path, "cut.zstd", frames[: len(frames) - 2000]), settings)
    assert not result.reading.stream_complete and not result.app.complete
    assert "truncated" in result.app.completeness and result.totals.tasks > 0


def test_an_event_log_above_the_file_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    small = Settings(home=tmp_path / "home", allowed_roots=[str(tmp_path)], max_file_mib=1)
    data = EVENT_LOG.read_bytes() * (1024**2 // EVENT_LOG.stat().st_size + 1)
    with pytest.raises(BadInputError, match=r"huge_eventlog' is 1\.\d MiB, above the 1 MiB limit"):
        analyze_event_log(_write(tmp_path, "huge_eventlog", data), small)
    rolling = tmp_path / "eventlog_v2_app-1"
    rolling.mkdir()
    _write(rolling, "events_1_app-1", EVENT_LOG.read_bytes())
    _write(rolling, "events_2_app-1", data)  # one part above the limit: the whole log is refused
    with pytest.raises(BadInputError, match="events_2_app-1' is 1.* above the 1 MiB limit"):
        analyze_event_log(rolling, small)


# --- plan parser: EXPLAIN text and JSON ---------------------------------------------------------


def test_pasted_plan_text_that_is_binary_is_refused_as_binary(settings: Settings) -> None:
    with pytest.raises(BadInputError, match="the plan text is binary data.*paste EXPLAIN output"):
        analyze_query_plan(BLOB.decode("latin-1"), settings)


def test_pasted_plan_text_above_the_plan_limit_is_refused(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plan_analysis, "MAX_PLAN_BYTES", 1024**2)
    with pytest.raises(BadInputError, match=r"the plan text is 2\.\d MiB, above the 1 MiB a plan can be"):
        analyze_query_plan(FORMATTED_PLAN.read_text() * (2 * 1024**2 // FORMATTED_PLAN.stat().st_size + 1), settings)


def test_a_plan_file_above_the_plan_limit_is_refused(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plan_analysis, "MAX_PLAN_BYTES", 1024**2)
    path = _write(tmp_path, "huge_plan.txt", FORMATTED_PLAN.read_bytes() * (1024**2 // 1000))
    with pytest.raises(BadInputError, match="huge_plan.txt' holds more than 1 MiB of plan text; give one plan"):
        analyze_query_plan(None, settings, path=str(path))


@pytest.mark.parametrize(("name", "data", "message"), [
    ("empty.txt", b"", "empty.txt' holds no text; give a file with EXPLAIN output"),
    ("blank.gz", gzip.compress(b"\n \n"), "blank.gz' holds no text"),
    ("cut_first_block.zstd", _zstd(FORMATTED_PLAN.read_bytes())[:40], r"holds no text \(zstd: the last zstd frame"),
    ("binary.gz", gzip.compress(BLOB), "binary.gz' is a binary file, not a plan"),
    ("cut.json", JSON_PLAN.read_bytes()[:3000], "cut.json: the plan starts like JSON but is not valid JSON"),
    ("prose.txt", b"Dear team, the job was slow again.\n", "prose.txt: the text does not look like a Spark plan"),
])
def test_a_plan_file_that_holds_no_plan_is_refused_naming_the_file(
    tmp_path: Path, settings: Settings, name: str, data: bytes, message: str
) -> None:
    with pytest.raises(BadInputError, match=message):
        analyze_query_plan(None, settings, path=str(_write(tmp_path, name, data)))


def test_explain_text_cut_mid_line_gives_the_nodes_before_the_cut(settings: Settings) -> None:
    text = FORMATTED_PLAN.read_text().rstrip()
    in_details = analyze_query_plan(text[:-12], settings)  # inside the last node's details
    assert in_details.form == "formatted" and in_details.summary.node_count == 6
    in_tree = analyze_query_plan(text[: text.index("\n\n") - 7], settings)  # inside the last tree line
    assert 0 < in_tree.summary.node_count <= 6


def test_a_gzip_plan_file_cut_mid_stream_is_read_with_a_note_that_it_was_cut(tmp_path: Path, settings: Settings) -> None:
    data = gzip.compress(FORMATTED_PLAN.read_bytes() + random.Random(1).randbytes(50_000).hex().encode())
    result = analyze_query_plan(None, settings, path=str(_write(tmp_path, "cut_plan.gz", data[: len(data) // 2])))
    assert result.form == "formatted" and any("the file was cut" in note for note in result.notes)


# --- config sources: conf, spark-submit, PySpark source, notebook, JSON -------------------------


@pytest.mark.parametrize(("fmt", "filename"), [
    (ConfigFormat.CONF, None), (ConfigFormat.SUBMIT, None), (ConfigFormat.SOURCE, "job.py"),
    (ConfigFormat.SOURCE, "job.ipynb"), (ConfigFormat.JSON, None), (ConfigFormat.AUTO, None),
])
def test_pasted_binary_config_text_is_refused_in_every_format(fmt: ConfigFormat, filename: str | None) -> None:
    with pytest.raises(BadInputError, match="is binary data, not a configuration"):
        parse_config("spark.executor.memory 4g\n" + BLOB.decode("latin-1"), fmt, filename)


def test_pasted_config_text_above_the_config_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config_sources, "MAX_CONFIG_BYTES", 1024**2)
    with pytest.raises(BadInputError, match=r"the config text is 2\.0 MiB, above the 1 MiB"):
        check_config("spark.executor.memory 4g\n" * (2 * 1024**2 // 25), ConfigFormat.AUTO, None)


def test_a_config_file_above_the_config_limit_is_refused(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checker, "MAX_CONFIG_BYTES", 1024**2)
    path = _write(tmp_path, "spark-defaults.conf", b"spark.executor.memory 4g\n" * (2 * 1024**2 // 25))
    with pytest.raises(BadInputError, match=r"spark-defaults.conf' is 2\.0 MiB, above the 1 MiB"):
        read_config_file(str(path), settings)


@pytest.mark.parametrize(("text", "fmt", "filename"), [
    ("", ConfigFormat.CONF, None),
    ("", ConfigFormat.SOURCE, "job.py"),
    ("{}", ConfigFormat.JSON, None),
    ("# only a comment\n", ConfigFormat.AUTO, "spark-defaults.conf"),
])
def test_an_empty_config_is_a_result_that_says_nothing_was_found(text: str, fmt: ConfigFormat, filename: str | None) -> None:
    parsed = parse_config(text, fmt, filename)
    assert parsed.entries == [] and "no Spark configuration found" in parsed.notes[-1]


def test_empty_spark_submit_text_is_refused_saying_what_to_give() -> None:
    with pytest.raises(BadInputError, match="no spark-submit command found.*give the command line"):
        parse_config("", ConfigFormat.SUBMIT)


@pytest.mark.parametrize(("text", "fmt", "filename", "key", "value"), [
    ("spark.executor.memory 8g\nspark.executor.cores \\", ConfigFormat.CONF, None, "spark.executor.cores", ""),
    ("spark-submit --executor-memory 8g --conf", ConfigFormat.SUBMIT, None, "spark.executor.memory", "8g"),
    ('spark.conf.set("spark.executor.memory", "8g")\nspark.conf.set("spark.sql.shuffle.partitions", ',
     ConfigFormat.SOURCE, "job.py", "spark.executor.memory", "8g"),
])
def test_config_text_cut_mid_line_keeps_the_keys_before_the_cut(
    text: str, fmt: ConfigFormat, filename: str | None, key: str, value: str
) -> None:
    parsed = parse_config(text, fmt, filename)
    assert parsed.winners()[key].value == value


@pytest.mark.parametrize(("text", "message"), [
    ('{"cells": [{"cell_type": "code", "source": "spark.conf.set(', r"the .ipynb file is not JSON \(line 1, column"),
    ("", "the .ipynb file is not JSON"),
])
def test_a_truncated_or_empty_notebook_is_refused_as_no_notebook(text: str, message: str) -> None:
    with pytest.raises(BadInputError, match=message + ".*give the notebook file as Jupyter saved it"):
        parse_config(text, ConfigFormat.AUTO, "job.ipynb")


def test_truncated_json_config_text_names_the_position() -> None:
    with pytest.raises(BadInputError, match=r"not valid JSON \(line 1, column 33"):
        parse_config('{"spark.executor.memory": "8g", "spa', ConfigFormat.JSON)


# --- telemetry ingest: long CSV, wide CSV, Prometheus text ----------------------------------------

FORMATS = [("dcgm_long.csv", "dcgm_long"), ("dcgm_wide.csv", "dcgm_wide"), ("dcgm_exporter.prom", "prometheus")]


def _telemetry(name: str, rows: int = 1) -> bytes:
    header, body = (TELEMETRY / name).read_bytes().split(b"\n", 1)
    return header + b"\n" + body * rows


@pytest.mark.parametrize(("name", "fmt"), FORMATS)
def test_telemetry_cut_mid_line_stores_the_lines_before_the_cut(
    tmp_path: Path, settings: Settings, name: str, fmt: str
) -> None:
    whole = ingest(str(_write(tmp_path, "whole_" + name, _telemetry(name))), settings)
    data = _telemetry(name)
    last = data.rstrip(b"\n").rindex(b"\n")
    cut = ingest(str(_write(tmp_path, "cut_" + name, data[: last + 12])), Settings(
        home=tmp_path / "other", allowed_roots=[str(tmp_path)]))
    assert cut.format == whole.format == fmt
    assert 0 < cut.rows_stored < whole.rows_stored or cut.rejected  # the piece is a reject, not a crash


@pytest.mark.parametrize(("name", "fmt"), FORMATS)
def test_a_gzip_export_cut_after_its_head_is_refused_as_cut(
    tmp_path: Path, settings: Settings, name: str, fmt: str
) -> None:
    data = gzip.compress(_telemetry(name, rows=3000))
    path = _write(tmp_path, f"cut_{name}.gz", data[: len(data) * 3 // 4])
    with pytest.raises(BadInputError, match=rf"cut_{name}.gz .*cut or corrupt.*copy (the file|it) again whole"):
        ingest(str(path), settings)
    assert TelemetryStore(settings).batches() == []


@pytest.mark.parametrize(("name", "data", "message"), [
    ("cut_first_block.csv.zst", _zstd(_telemetry("dcgm_long.csv", rows=200))[:300], "zstd stream cut before its first"),
    ("empty_frame.csv.zst", _zstd(b""), "is empty; give a DCGM CSV export"),
    ("binary.csv.gz", gzip.compress(BLOB), "is a binary file, not telemetry text"),
    ("binary.prom.zst", _zstd(BLOB), "is a binary file, not telemetry text"),
    ("binary_tail.prom", _telemetry("dcgm_exporter.prom")[:400] + BLOB, "is a binary file, not telemetry text"),
])
def test_compressed_or_binary_telemetry_that_holds_no_text_is_refused(
    tmp_path: Path, settings: Settings, name: str, data: bytes, message: str
) -> None:
    with pytest.raises(BadInputError, match=message) as caught:
        ingest(str(_write(tmp_path, name, data)), settings)
    assert name in str(caught.value)


@pytest.mark.parametrize(("name", "fmt"), FORMATS)
def test_telemetry_above_the_file_limit_is_refused_before_it_is_read(tmp_path: Path, name: str, fmt: str) -> None:
    small = Settings(home=tmp_path / "home", allowed_roots=[str(tmp_path)], max_file_mib=1)
    data = _telemetry(name, rows=3 * 1024**2 // 2 // len(_telemetry(name)))
    with pytest.raises(BadInputError, match=r"huge_.*' is 1\.\d MiB, above the 1 MiB limit"):
        ingest(str(_write(tmp_path, "huge_" + name, data)), small)


@pytest.mark.parametrize(("name", "fmt"), FORMATS)
def test_binary_rows_after_a_good_head_are_counted_as_rejects(
    tmp_path: Path, settings: Settings, name: str, fmt: str
) -> None:
    data = _telemetry(name, rows=400) + BLOB * 5  # the head (64 KiB) is text: the rest is read row by row
    result = ingest(str(_write(tmp_path, "tail_" + name, data)), settings)
    assert result.format == fmt and result.rows_stored > 0
    assert {"malformed CSV line", "not a Prometheus sample line"} & set(result.rejected)


def test_a_malformed_exposition_is_a_result_that_counts_what_it_skipped(tmp_path: Path, settings: Settings) -> None:
    text = (TELEMETRY / "dcgm_exporter.prom").read_text().replace("{", "(")
    result = ingest(str(_write(tmp_path, "malformed.prom", text.encode())), settings)
    assert result.rows_stored == 0 and result.rejected["not a Prometheus sample line"] > 0
    assert "the source holds no samples" in result.notes


# --- Prometheus exposition parser ---------------------------------------------------------------

SCRAPED = datetime(2026, 3, 2, 8, 15, tzinfo=UTC)


def test_the_exposition_parser_reads_nothing_from_empty_or_comment_only_text() -> None:
    for lines in ([], [""], ["# HELP DCGM_FI_DEV_GPU_UTIL GPU utilization.", "# TYPE DCGM_FI_DEV_GPU_UTIL gauge"]):
        parsed = parse_exposition(lines, SCRAPED)
        assert parsed.rows == [] and parsed.skipped == {}


def test_the_exposition_parser_counts_binary_and_cut_lines_as_no_sample() -> None:
    good = 'DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-1",Hostname="h"} 87'
    lines = [good, BLOB.decode("latin-1"), good[:25], 'DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-1"']
    parsed = parse_exposition([*lines[:1], *lines[1].splitlines(), *lines[2:]], SCRAPED)
    assert [r.uuid for r in parsed.rows] == ["GPU-1"]
    assert parsed.skipped.get("not a Prometheus sample line", 0) >= 2


def test_the_exposition_parser_marks_an_impossible_timestamp_unparsable() -> None:
    parsed = parse_exposition(['DCGM_FI_DEV_GPU_UTIL{UUID="GPU-1"} 87 99999999999999999999999'], SCRAPED)
    assert parsed.rows[0].timestamp.startswith("unparsable: ")


@pytest.mark.parametrize("line", [
    "DCGM_FI_DEV_GPU_UTIL{" + 'a="b",' * 100_000 + 'UUID="GPU-1"} 87',
    "DCGM_FI_DEV_GPU_UTIL{" + " }" * 200_000,
    "DCGM_FI_DEV_GPU_UTIL{" + '"\\' * 200_000,
])
def test_the_exposition_parser_reads_a_huge_line_in_linear_time(line: str) -> None:
    started = time.perf_counter()
    parsed = parse_exposition([line], SCRAPED)
    assert len(parsed.rows) + sum(parsed.skipped.values()) == 1
    assert time.perf_counter() - started < 5  # a backtracking regex would take minutes on these

