"""What diagnose_log was asked about: a file, a rolling event-log directory, or pasted text.

A path is checked (allowed roots, no devices, the size limit) and pasted text is bounded by
the same limit; the first lines are read to refuse binary data and to tell the log's kind;
the content is hashed for the context store's key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import BadInputError
from ...files import allowed_path, looks_binary, max_file_bytes
from ...settings import Settings
from .codecs import LogLines
from .logkind import LogKind, detect_kind

__all__ = ["HEAD_LINES", "LogInput", "open_input", "read_head", "refuse_binary", "resolve_kind", "store_key"]

HEAD_LINES = 300
"""Lines read to refuse binary data and to tell the kind."""


def read_head(blocks: Any) -> list[bytes]:
    """The first HEAD_LINES lines of the blocks, as bytes."""
    lines: list[bytes] = []
    for buf, start, end in blocks:
        # Split no further than needed: a block is 4 MiB, some 40,000 lines of which 300 are wanted.
        wanted = HEAD_LINES - len(lines)
        pieces = buf[start:end].split(b"\n", wanted)
        if len(pieces) > wanted:
            lines.extend(pieces[:wanted])  # the last piece is the rest of the block
            break
        lines.extend(pieces)
    return lines[:HEAD_LINES]


def refuse_binary(head: list[bytes], name: str) -> None:
    """Raise BadInputError when the head is binary data, not a text log."""
    sample = b"\n".join(head)[: 1 << 16]
    if looks_binary(sample):
        raise BadInputError(
            f"{name} is binary data, not a text log (NUL or control bytes in its first {len(sample)} bytes); give a "
            "Spark or Airflow log (plain, .gz or .zst), or a Spark event log"
        )


def resolve_kind(given: str | None, head: list[bytes]) -> tuple[LogKind, bool]:
    """(kind, detected): the kind given, or the one the head shows when none was given."""
    if given is None:
        return detect_kind([line.decode("utf-8", "replace") for line in head]), True
    try:
        return LogKind(given), False
    except ValueError:
        raise BadInputError(
            f"kind {given!r} is not known; use one of {', '.join(k.value for k in LogKind)} or omit it to detect the kind"
        ) from None


@dataclass
class LogInput:
    """What was asked about: a file (with its reader), a rolling event-log directory, or pasted bytes."""

    label: str
    path: Path | None = None
    reader: LogLines | None = None
    data: bytes | None = None


def open_input(source: str | Path, settings: Settings, text: str | None) -> LogInput:
    """The pasted text, or the path checked against the allowed roots and opened for reading."""
    if text is not None:
        data = text.encode("utf-8", "surrogateescape")
        if len(data) > max_file_bytes(settings):
            raise BadInputError(f"the pasted text is {len(data)} bytes, above the {settings.max_file_mib} MiB limit; "
                                "give the log's path, or set DGX_SPARK_MCP_MAX_FILE_MIB")
        return LogInput(label="<text>", data=data)
    path = allowed_path(source, settings, directory_ok=True)
    if path.is_dir():
        if not path.name.startswith("eventlog_v2_"):
            raise BadInputError(
                f"path {str(source)!r} is a directory; give a log file inside it (only a rolling eventlog_v2_<app-id> "
                "event-log directory is read as a whole)"
            )
        return LogInput(label=str(path), path=path)
    return LogInput(label=str(path), path=path, reader=LogLines(path))


def store_key(given: LogInput) -> str:
    """The content's key in the context store."""
    from .. import context_store

    if given.reader is not None:
        return context_store.content_hash(given.path)
    if given.data is not None:
        return context_store.content_hash(None, given.data)
    assert given.path is not None  # a rolling event-log directory: its files' names, sizes and times stand for it
    listing = sorted((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in given.path.iterdir() if f.is_file())
    return context_store.content_hash(None, repr((given.label, listing)).encode())


