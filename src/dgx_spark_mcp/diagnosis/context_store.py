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
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from ..settings import Settings
from ..store import Migration, connect, transaction, utc_naive
from .findings.model import DiagnosisFinding

__all__ = ["MIGRATIONS", "FileSignature", "content_hash", "file_signature", "hash_for_signature", "load_result",
           "options_key", "save_plan", "save_result"]

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
                findings: list[DiagnosisFinding], signature: FileSignature | None = None) -> None:
    now = utc_naive(datetime.now(UTC))
    airflow = [f for f in findings if f.category.startswith("airflow_")]
    spark = [f for f in findings if not f.category.startswith("airflow_")]
    marks = ", ".join(["?"] * 13)
    with connect(settings, MIGRATIONS) as con, transaction(con):
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
