"""Diagnoses kept in the DuckDB store, keyed by the content hash of the file (or pasted text).

Asking again about the same file is answered from the store instead of re-reading a log that
may be gigabytes; the same tables let other tools (``ask``) cite what was found before:

- ``diagnosis_results``: the whole result as JSON, per content hash and request options;
- ``spark_errors``: one row per Spark finding (category, rule, occurrences, lines);
- ``airflow_failures``: the same for Airflow findings;
- ``query_plans`` and ``plan_findings``: analysed query plans (keyed by the plan text's hash) and
  their findings;
- ``file_signatures``: the content hash last computed for a file, by its path, size, modification
  time (ns) and inode, so a file asked about again unchanged is answered before it is read at all
  (hashing a gigabyte is a pass over it); any change to those four reads and hashes it anew.

A diagnosis opens the store once to look (:func:`stored_result`, and not at all while there is no store
file) and once to keep its result (:func:`save_result`): each open and close of DuckDB costs about 30 ms
of CPU and a checkpoint.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

from ..settings import Settings
from ..store import Migration, connect, store_exists, transaction, utc_naive
from .findings.model import DiagnosisFinding

__all__ = ["MIGRATIONS", "FileSignature", "StreamHash", "content_hash", "file_signature", "hash_for_signature",
           "load_result", "options_key", "save_plan", "save_result", "store_exists", "stored_result"]

log = logging.getLogger(__name__)

_FINDING_COLUMNS = (
    "content_hash VARCHAR NOT NULL, options VARCHAR NOT NULL, source VARCHAR, rule_id VARCHAR NOT NULL, "
    "category VARCHAR NOT NULL, severity VARCHAR NOT NULL, title VARCHAR, root_cause VARCHAR, occurrences INTEGER, "
    "first_line INTEGER, last_line INTEGER, template VARCHAR, saved_at_utc TIMESTAMP NOT NULL"
)
MIGRATIONS = (
    Migration(
        id="diagnosis_001_context",
        statements=(
            "CREATE TABLE IF NOT EXISTS diagnosis_results (content_hash VARCHAR NOT NULL, options VARCHAR NOT NULL, "
            "source VARCHAR, kind VARCHAR NOT NULL, result_json VARCHAR NOT NULL, saved_at_utc TIMESTAMP NOT NULL, "
            "PRIMARY KEY (content_hash, options))",
            f"CREATE TABLE IF NOT EXISTS spark_errors ({_FINDING_COLUMNS})",
            f"CREATE TABLE IF NOT EXISTS airflow_failures ({_FINDING_COLUMNS})",
        ),
    ),
    Migration(
        id="diagnosis_002_plans",
        statements=(
            "CREATE TABLE IF NOT EXISTS query_plans (content_hash VARCHAR PRIMARY KEY, source VARCHAR, "
            "form VARCHAR NOT NULL, headline VARCHAR, result_json VARCHAR NOT NULL, saved_at_utc TIMESTAMP NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS plan_findings ({_FINDING_COLUMNS})",
        ),
    ),
    Migration(
        id="diagnosis_003_file_signatures",
        statements=(
            "CREATE TABLE IF NOT EXISTS file_signatures (path VARCHAR PRIMARY KEY, size BIGINT NOT NULL, "
            "mtime_ns BIGINT NOT NULL, inode BIGINT NOT NULL, content_hash VARCHAR NOT NULL, saved_at_utc TIMESTAMP NOT NULL)",
        ),
    ),
)
_HASH_READ = 1 << 22

FileSignature = tuple[str, int, int, int]
"""(resolved path, size, st_mtime_ns, inode) of a file."""


def file_signature(path: Path) -> FileSignature:
    st = path.stat()
    return (str(path), st.st_size, st.st_mtime_ns, st.st_ino)


def hash_for_signature(settings: Settings, signature: FileSignature) -> str | None:
    """The content hash recorded for a file with exactly this signature, or None."""
    with connect(settings, MIGRATIONS) as con:
        row = con.execute(
            "SELECT content_hash FROM file_signatures WHERE path = ? AND size = ? AND mtime_ns = ? AND inode = ?",
            list(signature),
        ).fetchone()
    return None if row is None else str(row[0])


def content_hash(path: Path | None, text: bytes | None = None) -> str:
    """BLAKE3 of the file's bytes as stored (compressed files by their compressed bytes), or of the text.

    BLAKE3 rather than SHA-256: 6.9 GB/s against 1.8 here, so hashing a big log beside its scan
    never holds up the answer.
    """
    from blake3 import blake3

    digest = blake3()
    if text is not None:
        digest.update(text)
    elif path is not None:
        with path.open("rb") as f:
            while chunk := f.read(_HASH_READ):
                digest.update(chunk)  # blake3 releases the GIL on big updates
    return digest.hexdigest()


class StreamHash:
    """:func:`content_hash` of bytes handed over in order as something else reads them (a plain log's
    scan), so the file is not read a second time for its key.  A thread hashes them (blake3 releases the
    GIL) beside the reader; at most ``depth`` pieces wait for it."""

    def __init__(self, depth: int = 4) -> None:
        from blake3 import blake3

        self._digest = blake3()
        self._pieces: queue.Queue[bytes | None] = queue.Queue(maxsize=depth)
        self._thread = threading.Thread(target=self._run, name="content-hash", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (piece := self._pieces.get()) is not None:
            self._digest.update(piece)

    def update(self, piece: bytes) -> None:
        self._pieces.put(piece)

    def hexdigest(self) -> str:
        """The hash of every piece handed over; no more may follow."""
        self._pieces.put(None)
        self._thread.join()
        return str(self._digest.hexdigest())


def stored_result(settings: Settings, options: str, signature: FileSignature | None,
                  key_for: Callable[[], str] | None) -> tuple[str | None, str | None]:
    """(stored result JSON, content hash) in one open of the store: the result recorded for a file with exactly
    this signature; else, when ``key_for`` is given, the one for the content hash it computes (only then, so an
    unchanged file is not even hashed).  The hash is None when it was not computed."""
    with connect(settings, MIGRATIONS) as con:
        if signature is not None:
            row = con.execute(
                "SELECT r.result_json FROM file_signatures s JOIN diagnosis_results r ON r.content_hash = s.content_hash "
                "WHERE s.path = ? AND s.size = ? AND s.mtime_ns = ? AND s.inode = ? AND r.options = ?",
                [*signature, options],
            ).fetchone()
            if row is not None:
                return str(row[0]), None
        if key_for is None:
            return None, None
        key = key_for()
        row = con.execute(
            "SELECT result_json FROM diagnosis_results WHERE content_hash = ? AND options = ?", [key, options]
        ).fetchone()
    return (None if row is None else str(row[0])), key


def load_result(settings: Settings, key: str, options: str) -> str | None:
    """The stored result JSON for this content and these options, or None."""
    with connect(settings, MIGRATIONS) as con:
        row = con.execute(
            "SELECT result_json FROM diagnosis_results WHERE content_hash = ? AND options = ?", [key, options]
        ).fetchone()
    return None if row is None else str(row[0])


def _rows(key: str, options: str, source: str, findings: Iterable[DiagnosisFinding], now: datetime) -> list[list[object]]:
    rows = []
    for f in findings:
        cause = next((e for e in f.evidence if e.role == "cause"), f.evidence[0] if f.evidence else None)
        rows.append([
            key, options, source, f.rule_id, f.category, f.severity, f.title, f.root_cause,
            cause.occurrences if cause else None, cause.first_line if cause else None,
            cause.last_line if cause else None, cause.template if cause else None, now,
        ])
    return rows


def save_result(settings: Settings, key: str, options: str, source: str, kind: str, result_json: str,
                findings: list[DiagnosisFinding], signature: FileSignature | None = None,
                check_first: bool = False) -> str | None:
    """Keep a result and its findings (the same content and options again replace their rows).

    ``check_first``: a result already kept for this content and options is returned instead, and nothing
    is written (the content was hashed beside its scan, so it was not looked up before)."""
    now = utc_naive(datetime.now(UTC))
    airflow = [f for f in findings if f.category.startswith("airflow_")]
    spark = [f for f in findings if not f.category.startswith("airflow_")]
    marks = ", ".join(["?"] * 13)
    with connect(settings, MIGRATIONS) as con:
        if check_first:
            row = con.execute(
                "SELECT result_json FROM diagnosis_results WHERE content_hash = ? AND options = ?", [key, options]
            ).fetchone()
            if row is not None:
                return str(row[0])
        with transaction(con):
            con.execute("DELETE FROM diagnosis_results WHERE content_hash = ? AND options = ?", [key, options])
            con.execute("DELETE FROM spark_errors WHERE content_hash = ? AND options = ?", [key, options])
            con.execute("DELETE FROM airflow_failures WHERE content_hash = ? AND options = ?", [key, options])
            con.execute("INSERT INTO diagnosis_results VALUES (?, ?, ?, ?, ?, ?)", [key, options, source, kind, result_json, now])
            if spark:
                con.executemany(f"INSERT INTO spark_errors VALUES ({marks})", _rows(key, options, source, spark, now))
            if airflow:
                con.executemany(f"INSERT INTO airflow_failures VALUES ({marks})", _rows(key, options, source, airflow, now))
            if signature is not None:
                con.execute("DELETE FROM file_signatures WHERE path = ?", [signature[0]])
                con.execute("INSERT INTO file_signatures VALUES (?, ?, ?, ?, ?, ?)", [*signature, key, now])
    log.debug("stored diagnosis of %s (%s findings)", source, len(findings))
    return None


def save_plan(settings: Settings, key: str, source: str | None, form: str, headline: str, result_json: str,
              findings: list[DiagnosisFinding]) -> None:
    """Keep an analysed plan and its findings (the same plan again replaces its rows)."""
    now = utc_naive(datetime.now(UTC))
    marks = ", ".join(["?"] * 13)
    with connect(settings, MIGRATIONS) as con, transaction(con):
        con.execute("DELETE FROM query_plans WHERE content_hash = ?", [key])
        con.execute("DELETE FROM plan_findings WHERE content_hash = ?", [key])
        con.execute("INSERT INTO query_plans VALUES (?, ?, ?, ?, ?, ?)", [key, source, form, headline, result_json, now])
        if findings:
            con.executemany(f"INSERT INTO plan_findings VALUES ({marks})", _rows(key, "", source or "", findings, now))


def options_key(**options: object) -> str:
    return json.dumps(options, sort_keys=True, default=str)
