"""Every Spark codec decodes to exactly what Spark's own reader returns, in bounded pieces."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dgx_spark_mcp.diagnosis.reading.codecs import (
    Codec,
    LogLines,
    _lzf_block,
    detect_codec,
)

from .eventlogs import CORPUS, PYSPARK

MANIFEST = json.loads((PYSPARK / "manifest.json").read_text())["files"]


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_each_codec_decodes_to_what_spark_itself_reads(name: str) -> None:
    expected = MANIFEST[name]
    lines = LogLines(PYSPARK / name)
    data = b"".join(lines.chunks())
    assert lines.stats.codec == Codec(expected["codec"])
    assert len(data) == expected["spark_decoded_bytes"]
    assert hashlib.sha256(data).hexdigest() == expected["spark_decoded_sha256"]


@pytest.mark.parametrize("name", ["app.lz4.inprogress"])
def test_an_in_progress_lz4_log_stops_at_its_last_whole_block(name: str) -> None:
    lines = LogLines(PYSPARK / name)
    list(lines)
    assert not lines.stats.complete and "inside a block" in (lines.stats.problem or "")
    assert lines.unterminated_last_line  # the cut fell inside an event line, as Spark's reader sees it too


def test_the_magic_bytes_win_over_a_wrong_suffix(tmp_path: Path) -> None:
    renamed = tmp_path / "events.zstd"
    shutil.copyfile(PYSPARK / "app.lz4", renamed)
    assert LogLines(renamed).stats.codec == Codec.LZ4
    plain = tmp_path / "plain.zstd"
    shutil.copyfile(CORPUS / "python_udf_eventlog", plain)
    assert LogLines(plain).stats.codec == Codec.PLAIN
    assert list(LogLines(plain)) == (CORPUS / "python_udf_eventlog").read_bytes().rstrip(b"\n").split(b"\n")


def test_the_suffix_decides_when_there_is_no_magic() -> None:
    assert detect_codec(Path("a.lzf.inprogress"), b"\x00\x01") == Codec.LZF
    assert detect_codec(Path("a.log"), b"\x00\x01") == Codec.PLAIN


def test_gzip_members_concatenated_read_as_one_stream(tmp_path: Path) -> None:
    source = (CORPUS / "java_udf_eventlog").read_bytes()
    half = source.index(b"\n", len(source) // 2) + 1
    path = tmp_path / "log.gz"
    path.write_bytes(gzip.compress(source[:half]) + gzip.compress(source[half:]))
    lines = LogLines(path)
    assert list(lines) == source.rstrip(b"\n").split(b"\n") and lines.stats.complete


@pytest.mark.parametrize(("name", "maker"), [("app.zstd", None), ("app.lz4", None), ("java_udf_eventlog", gzip.compress)])
def test_a_cut_compressed_file_gives_its_whole_lines_and_says_it_was_cut(tmp_path: Path, name: str, maker: object) -> None:
    source = (PYSPARK / name) if maker is None else CORPUS / name
    data = source.read_bytes() if maker is None else gzip.compress(source.read_bytes())
    cut = tmp_path / (name if maker is None else "cut.gz")
    cut.write_bytes(data[: int(len(data) * 0.6)])
    full = list(LogLines(source if maker is None else _gz(tmp_path, data)))
    lines = LogLines(cut)
    got = list(lines)
    assert not lines.stats.complete
    assert got[:-1] == full[: len(got) - 1]  # everything before the cut is intact
    assert full[len(got) - 1].startswith(got[-1])


def _gz(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "full.gz"
    path.write_bytes(data)
    return path


def test_lzf_back_references_may_overlap_their_own_output() -> None:
    # "ab" as a 2-byte literal run, then "copy 6 bytes from 2 back": the copy repeats "ab".
    block = bytes([1]) + b"ab" + bytes([(4 << 5) | 0, 1])
    assert _lzf_block(block, 8) == b"abababab"
    with pytest.raises(ValueError, match="header says 9"):
        _lzf_block(block, 9)
    with pytest.raises(ValueError, match="before the start"):
        _lzf_block(bytes([(1 << 5), 5]), 3)


class _Pieces(LogLines):
    """The line assembly fed with given pieces: the decoders hand out chunks of any size."""

    def __init__(self, pieces: list[bytes], max_line_bytes: int) -> None:
        self.pieces, self.max_line_bytes = pieces, max_line_bytes
        self.unterminated_last_line, self.oversized_lines = False, 0

    def chunks(self) -> Iterator[bytes]:
        yield from self.pieces


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=30),
       cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=12), final_newline=st.booleans())
def test_lines_come_out_whole_however_the_chunks_fall(lines: list[bytes], cuts: list[int], final_newline: bool) -> None:
    data = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    pieces = [data[a:b] for a, b in zip(points, points[1:], strict=False) if b > a]
    reader = _Pieces(pieces, max_line_bytes=1 << 20)
    expected = data.split(b"\n")
    if expected[-1] == b"":
        expected.pop()  # the split after the final newline (or of no data at all)
    assert list(reader) == expected
    assert reader.unterminated_last_line == (bool(data) and not data.endswith(b"\n"))


def test_a_line_over_the_limit_is_skipped_and_counted_keeping_line_numbers() -> None:
    long_line = b"x" * 5000
    reader = _Pieces([b"first\n" + long_line[:3000], long_line[3000:] + b"\nlast\n"], max_line_bytes=1000)
    assert list(reader) == [b"first", b"", b"last"] and reader.oversized_lines == 1
    reader = _Pieces([b"a\n", long_line[:2000], long_line[2000:4000], b"end\nb\n"], max_line_bytes=1000)
    assert list(reader) == [b"a", b"", b"b"] and reader.oversized_lines == 1


def _without_name_dependent_parts(result: object, name: str) -> object:
    """The analysis minus what depends on the file's name and codec (how it was read, 'in progress')."""
    data = result.model_dump(mode="json", exclude={"reading"})  # type: ignore[attr-defined]
    data["app"].pop("in_progress"), data["app"].pop("completeness")
    data["findings"] = [f for f in data["findings"] if f["rule_id"] != "eventlog.incomplete"]
    return json.loads(json.dumps(data).replace(name, "<file>"))


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_each_codec_gives_the_same_analysis_as_its_plain_and_gzip_equivalents(name: str, tmp_path: Path) -> None:
    from dgx_spark_mcp.diagnosis.eventlogs.analysis import analyze_event_log
    from dgx_spark_mcp.settings import Settings

    settings = Settings(home=tmp_path / "home", allowed_roots=[str(tmp_path), str(PYSPARK)], log_level="WARNING")
    data = b"".join(LogLines(PYSPARK / name).chunks())
    assert hashlib.sha256(data).hexdigest() == MANIFEST[name]["spark_decoded_sha256"]  # Spark's own plain text
    plain, gz = tmp_path / "plain_eventlog", tmp_path / "eventlog.gz"
    plain.write_bytes(data)
    gz.write_bytes(gzip.compress(data))
    compressed = analyze_event_log(PYSPARK / name, settings)
    assert compressed.reading.codecs == [MANIFEST[name]["codec"]] and compressed.totals.tasks > 0
    expected = _without_name_dependent_parts(compressed, Path(name).name)
    assert _without_name_dependent_parts(analyze_event_log(plain, settings), plain.name) == expected
    assert _without_name_dependent_parts(analyze_event_log(gz, settings), gz.name) == expected
