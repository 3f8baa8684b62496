"""The telemetry store: a Parquet dataset in the data directory, queried with DuckDB or Spark.

Layout (``settings.home / "telemetry"``)::

    samples/batch=<id>/part-0.parquet   the samples of one ingest, sorted by (uuid, metric, ts)
    samples/batch=<id>/_gpus.parquet    one row per GPU of that batch (host, index, model, driver,
                                        first/last seen, sample count)
    samples/batch=<id>/_latest.parquet  the last value of each (uuid, metric) in that batch
    _staging/<id>/                      a batch being written (never read)
    ingest.lock                         held by the one process committing a batch

Why Parquet files rather than a table in ``store.duckdb``: DuckDB lets one process open a
database file at a time, so a long ingest would lock every other server process out of its
queries.  Files written once and committed by an atomic directory rename need no lock to read:
a reader sees a batch completely or not at all, and an ingest killed midway leaves only a
``_staging`` directory nobody reads (removed by the next ingest).  Spark reads the same
``samples/`` directory unchanged (``spark.read.parquet``; files starting with ``_`` are skipped,
and ``batch`` becomes a partition column).

Each sample is stored once: a batch keeps one row per (ts, uuid, metric) and drops those already
stored, under ``ingest.lock``, so two processes ingesting the same file store it once.
Timestamps are UTC, stored as TIMESTAMP without a zone (Spark reads them as TIMESTAMP_NTZ).
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid as uuidlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import CouldNotDoError
from ..settings import Settings

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

__all__ = [
    "SAMPLE_COLUMNS",
    "CommitResult",
    "TelemetryStore",
    "confined_connection",
]

log = logging.getLogger(__name__)

SAMPLE_COLUMNS: dict[str, str] = {
    "ts": "TIMESTAMP",
    "uuid": "VARCHAR",
    "host": "VARCHAR",
    "gpu_index": "INTEGER",
    "model": "VARCHAR",
    "metric": "VARCHAR",
    "value": "DOUBLE",
    "pod": "VARCHAR",
    "namespace": "VARCHAR",
    "container": "VARCHAR",
}
"""The columns of every sample, in order: what an importer's relation must provide."""

GPU_COLUMNS: dict[str, str] = {
    "uuid": "VARCHAR",
    "host": "VARCHAR",
    "gpu_index": "INTEGER",
    "model": "VARCHAR",
    "driver": "VARCHAR",
    "first_seen": "TIMESTAMP",
    "last_seen": "TIMESTAMP",
    "samples": "BIGINT",
}
LATEST_COLUMNS: dict[str, str] = {"uuid": "VARCHAR", "metric": "VARCHAR", "ts": "TIMESTAMP", "value": "DOUBLE"}

INGEST_LOCK_WAIT_S = 600.0
"""How long a commit waits for another process's ingest to finish before giving up."""
_ROW_GROUP = 122_880


@dataclass(frozen=True)
class CommitResult:
    batch: str | None
    """The committed batch id, or None when every row was already stored."""
    rows_in: int
    stored: int
    duplicates: int


def _empty(columns: dict[str, str]) -> str:
    return "SELECT " + ", ".join(f"NULL::{t} AS {c}" for c, t in columns.items()) + " WHERE false"


def _sql_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class TelemetryStore:
    """The Parquet dataset of one data directory."""

    def __init__(self, settings: Settings) -> None:
        self.root = settings.home / "telemetry"
        self.samples_dir = self.root / "samples"
        self.staging_dir = self.root / "_staging"

    # ---- reading -------------------------------------------------------------------------

    def batches(self) -> list[Path]:
        if not self.samples_dir.is_dir():
            return []
        return sorted(p for p in self.samples_dir.iterdir() if p.is_dir() and p.name.startswith("batch="))

    def _files(self, name: str) -> list[Path]:
        return [b / name for b in self.batches() if (b / name).is_file()]

    def source(self, table: str) -> str:
        """A SQL relation over the committed files of ``table`` (samples, gpus, latest), empty when there are none.

        The file list is taken now, so a batch committed during a query is either wholly in or out.
        """
        name, columns = {
            "samples": ("part-0.parquet", SAMPLE_COLUMNS),
            "gpus": ("_gpus.parquet", GPU_COLUMNS),
            "latest": ("_latest.parquet", LATEST_COLUMNS),
        }[table]
        files = self._files(name)
        if not files:
            return f"({_empty(columns)})"
        listed = ", ".join(_sql_path(f) for f in files)
        return f"read_parquet([{listed}], hive_partitioning = false)"

    @contextmanager
    def reader(self) -> Iterator[DuckDBPyConnection]:
        """An in-memory DuckDB connection with views ``samples``, ``gpus`` and ``latest`` over the committed
        files.  No lock: readers never wait for an ingest.

        The connection is a cursor on one in-memory database shared by the process (see
        :func:`_reader_connection`): use TEMP objects and session settings only, never a global ``SET``.
        """
        con = _reader_connection(self.root)
        try:
            for table in ("samples", "gpus", "latest"):
                con.execute(f"CREATE TEMP VIEW {table} AS SELECT * FROM {self.source(table)}")
            yield con
        finally:
            con.close()

    # ---- writing -------------------------------------------------------------------------

    def connection(self, files: Sequence[Path] = ()) -> DuckDBPyConnection:
        """A connection for an ingest: it may read ``files`` (the source) and this store, and write only here."""
        self.root.mkdir(parents=True, exist_ok=True)
        return confined_connection([self.root], files)

    @contextmanager
    def ingest_lock(self, wait_s: float = INGEST_LOCK_WAIT_S) -> Iterator[None]:
        """Held while a batch is deduplicated and committed: one committer at a time, across processes."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / "ingest.lock").open("a+") as handle:
            deadline = time.monotonic() + wait_s
            delay = 0.02
            while True:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                    if time.monotonic() >= deadline:
                        raise CouldNotDoError(
                            f"another process has been ingesting telemetry into {self.root} for over {wait_s:.0f} s; "
                            "wait for it to finish and try again"
                        ) from None
                    time.sleep(delay)
                    delay = min(delay * 2, 0.5)
            try:
                self._remove_abandoned_staging()
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _remove_abandoned_staging(self) -> None:
        # Only the lock holder writes staging directories, so any found now belong to a killed ingest.
        if self.staging_dir.is_dir():
            for leftover in self.staging_dir.iterdir():
                log.info("removing %s, left by an ingest that did not finish", leftover)
                shutil.rmtree(leftover, ignore_errors=True)

    def commit(self, con: DuckDBPyConnection, relation: str, *, driver: dict[str, str] | None = None) -> CommitResult:
        """Store the rows of ``relation`` (a subquery, or the name of a temp table used in place, with at least
        :data:`SAMPLE_COLUMNS`) as one batch.

        Must be called inside :meth:`ingest_lock`.  Rows whose (ts, uuid, metric) is stored already, or
        repeats within ``relation``, are dropped.  Returns how many were stored.  ``driver`` maps a GPU
        uuid to its driver version, when the source says it.
        """
        batch = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f") + "-" + uuidlib.uuid4().hex[:8]
        columns = ", ".join(SAMPLE_COLUMNS)
        if relation.isidentifier():
            # A table of the caller's: used in place (copying 10 M rows costs about a second), keyless rows deleted.
            con.execute(f"DELETE FROM {relation} WHERE ts IS NULL OR uuid IS NULL OR metric IS NULL")
            incoming = relation
        else:
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE _incoming AS SELECT {columns} FROM {relation} "
                "WHERE ts IS NOT NULL AND uuid IS NOT NULL AND metric IS NOT NULL"
            )
            incoming = "_incoming"
        rows_in = _count(con, incoming)
        if rows_in == 0:
            return CommitResult(batch=None, rows_in=0, stored=0, duplicates=0)
        # Each (uuid, metric) series gets a dense integer rank in (uuid, metric) order.  Sorting and
        # hashing on (rank, ts) instead of (uuid, metric, ts) strings costs about half the CPU of a
        # 10 M-row commit (bench/telemetry.py), and orders the rows exactly the same way.
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _series AS SELECT uuid, metric, "
            "(row_number() OVER (ORDER BY uuid, metric))::BIGINT AS series "
            f"FROM (SELECT DISTINCT uuid, metric FROM {incoming})"
        )
        # (series << 64) + epoch_us(ts) is one HUGEINT per key, distinct exactly when the keys are
        # (epoch_us fits in 64 bits signed).  An export rarely repeats a key, so a count of distinct keys
        # (one hash aggregate) replaces the windowed dedupe, which is only run when it finds repeats.
        keyed = f"{incoming} i JOIN _series USING (uuid, metric)"
        distinct = con.execute(
            f"SELECT count(DISTINCT (series::HUGEINT << 64) + epoch_us(i.ts)) FROM {keyed}"
        ).fetchone()
        fresh = incoming
        if not distinct or int(distinct[0]) != rows_in:
            # One row per key within the batch; which of the repeats is kept is not specified.
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE _fresh AS SELECT {columns} FROM {incoming} "
                "QUALIFY row_number() OVER (PARTITION BY ts, uuid, metric) = 1"
            )
            fresh = "_fresh"
        lo, hi = con.execute(f"SELECT min(ts), max(ts) FROM {fresh}").fetchone() or (None, None)
        stored_before = self.source("samples")
        overlap = con.execute(
            f"SELECT count(*) FROM {stored_before} WHERE ts BETWEEN ? AND ?", [lo, hi]
        ).fetchone()
        if overlap and overlap[0]:
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE _new AS SELECT f.* FROM {fresh} f ANTI JOIN "
                f"(SELECT ts, uuid, metric FROM {stored_before} WHERE ts BETWEEN ? AND ?) s USING (ts, uuid, metric)",
                [lo, hi],
            )
            fresh = "_new"
        stored = _count(con, fresh)
        if stored == 0:
            return CommitResult(batch=None, rows_in=rows_in, stored=0, duplicates=rows_in)
        self._write_batch(con, fresh, batch, driver or {})
        return CommitResult(batch=batch, rows_in=rows_in, stored=stored, duplicates=rows_in - stored)

    def _write_batch(self, con: DuckDBPyConnection, fresh: str, batch: str, driver: dict[str, str]) -> None:
        staging = self.staging_dir / batch
        staging.mkdir(parents=True)
        columns = ", ".join(f"f.{c}" for c in SAMPLE_COLUMNS)
        con.execute(
            f"COPY (SELECT {columns} FROM {fresh} f JOIN _series USING (uuid, metric) ORDER BY series, f.ts) "
            f"TO {_sql_path(staging / 'part-0.parquet')} "
            f"(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {_ROW_GROUP})"
        )
        con.execute("CREATE OR REPLACE TEMP TABLE _driver (uuid VARCHAR, driver VARCHAR)")
        if driver:
            con.executemany("INSERT INTO _driver VALUES (?, ?)", list(driver.items()))
        con.execute(
            "COPY (SELECT f.uuid, arg_max(f.host, f.ts) AS host, arg_max(f.gpu_index, f.ts) AS gpu_index, "
            "arg_max(f.model, f.ts) AS model, any_value(d.driver) AS driver, min(f.ts) AS first_seen, "
            f"max(f.ts) AS last_seen, count(*) AS samples FROM {fresh} f LEFT JOIN _driver d USING (uuid) "
            f"GROUP BY f.uuid ORDER BY f.uuid) TO {_sql_path(staging / '_gpus.parquet')} (FORMAT parquet)"
        )
        con.execute(
            f"COPY (SELECT uuid, metric, max(ts) AS ts, arg_max(value, ts) AS value FROM {fresh} "
            f"GROUP BY uuid, metric ORDER BY uuid, metric) TO {_sql_path(staging / '_latest.parquet')} (FORMAT parquet)"
        )
        for written in staging.iterdir():
            with written.open("rb") as handle:
                os.fsync(handle.fileno())
        _fsync_dir(staging)
        self.samples_dir.mkdir(parents=True, exist_ok=True)
        os.rename(staging, self.samples_dir / f"batch={batch}")  # the commit: atomic on one filesystem
        _fsync_dir(self.samples_dir)


def _count(con: DuckDBPyConnection, table: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


def _memory_connection() -> DuckDBPyConnection:
    import duckdb

    # No extension is ever installed or loaded behind our back (httpfs would open the network).
    con = duckdb.connect(":memory:", config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    con.execute("SET TimeZone = 'UTC'")
    return con


def _sql_list(paths: Sequence[Path | str]) -> str:
    return "[" + ", ".join(_sql_path(Path(p)) for p in paths) + "]"


SPILL_DIR = Path(tempfile.gettempdir()) / "dgx-spark-mcp-duckdb"
"""Where in-memory connections spill (DuckDB's default, ./.tmp, would write into the current directory)."""


def confined_connection(directories: Sequence[Path], files: Sequence[Path] = ()) -> DuckDBPyConnection:
    """An in-memory connection that can read and write only ``directories`` (and their contents) and ``files``.

    Every DuckDB connection a tool uses on telemetry is one of these: whatever SQL runs on it (and the
    SQL is built here, never taken from a caller) cannot open /etc/passwd, ATTACH another database,
    COPY out of the store, or load an extension.  Once external access is off, DuckDB refuses to turn
    it back on or to widen the lists while the database runs.
    """
    con = _memory_connection()
    con.execute(f"SET temp_directory = {_sql_path(SPILL_DIR)}")
    con.execute(f"SET allowed_directories = {_sql_list([*directories, SPILL_DIR])}")
    if files:
        con.execute(f"SET allowed_paths = {_sql_list(files)}")
    con.execute("SET enable_external_access = false")
    return con


_shared_lock = threading.Lock()
_shared: dict[tuple[int, Path], DuckDBPyConnection] = {}


def _reader_connection(root: Path) -> DuckDBPyConnection:
    """A connection for reading: a cursor on one in-memory database kept for the life of the process.

    Why: opening an in-memory database costs about 13 ms (bench/telemetry.py), most of a one-GPU
    window query; a cursor costs microseconds.  Cursors share no TEMP views or tables (those live per
    connection and go with it), and TimeZone is a per-connection setting, set on each.  The shared
    database caches Parquet footers, which is safe because a committed batch file never changes (a new
    batch is a new directory).  A forked child gets its own database.  One database per store root,
    confined to it (:func:`confined_connection`).
    """
    key = (os.getpid(), root)
    with _shared_lock:
        if key not in _shared:
            base = confined_connection([root])
            base.execute("SET GLOBAL parquet_metadata_cache = true")
            _shared[key] = base
        con = _shared[key].cursor()
    con.execute("SET TimeZone = 'UTC'")
    return con
