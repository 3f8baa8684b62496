"""Telemetry files as they arrive: which format a file holds, its compression, its first lines.

Detection reads at most the first 64 KiB (decompressed), so a bad file is refused before any of
it is parsed, with what was expected instead.
"""

from __future__ import annotations

import csv
import gzip
import io
from datetime import datetime
from pathlib import Path
from typing import Literal

from ..errors import BadInputError
from ..files import looks_binary
from .metrics import metrics
from .prometheus import PromParse, looks_like_prometheus, parse_exposition

__all__ = ["IngestFormat", "compression", "detect_format", "read_exposition"]

IngestFormat = Literal["dcgm_long", "dcgm_wide", "prometheus"]

_HEAD_BYTES = 64 * 1024
_LONG_REQUIRED = ("timestamp", "metric_name", "uuid", "value")
_WIDE_REQUIRED = ("timestamp", "uuid")


def detect_format(path: Path) -> tuple[IngestFormat, list[str]]:
    """The format of ``path`` and, for CSV, its header names; BadInputError for anything else."""
    lines = _head_lines(path)
    first = lines[0]
    if looks_like_prometheus(lines):
        return "prometheus", []
    names = [n.strip() for n in next(csv.reader([first]))]
    lowered = {n.lower() for n in names}
    if all(c in lowered for c in _LONG_REQUIRED):
        return "dcgm_long", names
    wide = metrics().by_wide_column()
    if all(c in lowered for c in _WIDE_REQUIRED) and any(n in wide for n in lowered):
        return "dcgm_wide", names
    raise BadInputError(
        f"{path} is not a telemetry file this server reads: its first line is {first[:160]!r}. Expected a DCGM "
        "long CSV (header timestamp,metric_name,gpu_id,device,uuid,modelName,Hostname,container,pod,namespace,"
        "value,labels_raw), a wide CSV (timestamp, uuid and metric columns such as gpu_utilization, power_draw) "
        "or Prometheus text from dcgm-exporter's /metrics"
    )


def compression(path: Path) -> str | None:
    suffix = path.suffix.lower()
    return {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd"}.get(suffix)


def _open_binary(path: Path):  # type: ignore[no-untyped-def]
    kind = compression(path)
    if kind == "gzip":
        return gzip.open(path, "rb")
    if kind == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(path.open("rb"), closefd=True)
    return path.open("rb")


def _open_text(path: Path):  # type: ignore[no-untyped-def]
    return io.TextIOWrapper(_open_binary(path), encoding="utf-8", errors="replace", newline=None)


def read_exposition(path: Path, mtime: datetime) -> PromParse:
    """The samples of a Prometheus text file; a compressed stream cut or corrupt past its head is bad input."""
    try:
        with _open_text(path) as handle:
            return parse_exposition(handle, mtime)
    except (OSError, EOFError) as exc:  # gzip: EOFError when cut, OSError (BadGzipFile) when corrupt
        raise _cut_stream(path, exc) from None
    except Exception as exc:  # zstandard.ZstdError has no common base with OSError
        if type(exc).__module__.startswith("zstandard"):
            raise _cut_stream(path, exc) from None
        raise


def _cut_stream(path: Path, exc: BaseException) -> BadInputError:
    return BadInputError(f"{path} stops or breaks partway through its {compression(path) or 'plain'} stream ({exc}); "
                         "the file was cut or corrupted: copy it again whole, or give it uncompressed")


def _empty_or_cut(path: Path) -> BadInputError:
    """Nothing decompressed from the head: an empty export, or a zstd stream cut inside its first block."""
    if compression(path) == "zstd":
        import zstandard

        with path.open("rb") as handle:
            head = handle.read(_HEAD_BYTES)
        decoder = zstandard.ZstdDecompressor().decompressobj()
        try:
            decoder.decompress(head)
            finished = decoder.eof
        except zstandard.ZstdError:
            finished = False
        if not finished:
            return BadInputError(f"{path} is a zstd stream cut before its first block ends, so nothing in it can be "
                                 "read; copy the file again whole, or give it uncompressed")
    return BadInputError(f"{path} is empty; give a DCGM CSV export or a saved dcgm-exporter /metrics page")


def _head_lines(path: Path) -> list[str]:
    try:
        with _open_binary(path) as handle:
            chunk = handle.read(_HEAD_BYTES)
    except (OSError, EOFError) as exc:  # a corrupt .gz, a .zst that is not zstd
        raise BadInputError(f"{path} cannot be read as a {compression(path) or 'plain'} file ({exc}); give an "
                            "uncompressed, .gz or .zst telemetry file") from None
    except Exception as exc:  # zstandard.ZstdError has no common base with OSError
        raise BadInputError(f"{path} cannot be decompressed ({exc}); give an uncompressed, .gz or .zst file") from None
    if not chunk.strip():
        raise _empty_or_cut(path) if not chunk else BadInputError(
            f"{path} is empty; give a DCGM CSV export or a saved dcgm-exporter /metrics page")
    if looks_binary(chunk):
        raise BadInputError(f"{path} is a binary file, not telemetry text; give a DCGM CSV export (plain, .gz or "
                            ".zst) or a saved dcgm-exporter /metrics page")
    try:
        text = chunk.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(chunk) - 4:  # not just a character cut at the end of the chunk
            raise BadInputError(f"{path} is not UTF-8 text (bad byte at offset {exc.start}); give a DCGM CSV "
                                "export or Prometheus text") from None
        text = chunk[: exc.start].decode("utf-8")
    lines = [line for line in text.lstrip("\ufeff").splitlines() if line.strip()]
    return lines[:50]
