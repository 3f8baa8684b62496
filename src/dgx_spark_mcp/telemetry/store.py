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
stored, under ``ingest.lock``, so two processes ingesting the same file store it once.  Only the
batches whose ``_gpus.parquet`` has one of the new batch's GPUs within its time range are read
for that (:mod:`.batches` writes a batch).  Timestamps are UTC, stored as TIMESTAMP without a zone
(Spark reads them as TIMESTAMP_NTZ).
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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import CouldNotDoError
from ..settings import Settings

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

    from .batches import Summary

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


@dataclass(frozen=True)
class CommitResult:
    batch: str | None
    """The committed batch id, or None when every row was already stored."""
    rows_in: int
    stored: int
    duplicates: int
    compared_batches: int = 0
    """Stored batches read to find samples already stored: those holding one of these GPUs in this time range."""
    repeated: int = 0
    """Of ``duplicates``, the samples that repeated a key of the same batch (the rest were stored already)."""


def _empty(columns: dict[str, str]) -> str:
    return "SELECT " + ", ".join(f"NULL::{t} AS {c}" for c, t in columns.items()) + " WHERE false"


def sql_path(path: Path) -> str:
    """``path`` as a SQL string literal."""
    return "'" + str(path).replace("'", "''") + "'"


def sql_list(paths: Sequence[Path | str]) -> str:
    """``paths`` as a SQL list of string literals."""
    return "[" + ", ".join(sql_path(Path(p)) for p in paths) + "]"


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
        listed = ", ".join(sql_path(f) for f in files)
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

    def commit(self, con: DuckDBPyConnection, relation: str, *, driver: dict[str, str] | None = None,
               summary: Summary | None = None, phase: Callable[[str], None] | None = None) -> CommitResult:
        """Store the rows of ``relation`` (a subquery, or the name of a temp table used in place, with at least
        :data:`SAMPLE_COLUMNS`) as one batch, sorted by (uuid, metric, ts) (see :mod:`.batches`).

        Must be called inside :meth:`ingest_lock`.  Rows whose (ts, uuid, metric) is stored already, or
        repeats within ``relation``, are dropped.  Returns how many were stored.  ``driver`` maps a GPU
        uuid to its driver version, when the source says it.  ``summary``: the caller's
        :func:`.batches.summarise` of ``relation`` (a table whose every row has its key), made
        outside the lock; ``phase`` is told what the commit is doing.
        """
        from .batches import summarise, write_batch  # batches imports this module

        if summary is None:
            if relation.isidentifier():
                # A table of the caller's: used in place (copying 10 M rows costs about a second), keyless rows deleted.
                con.execute(f"DELETE FROM {relation} WHERE ts IS NULL OR uuid IS NULL OR metric IS NULL")
                table = relation
            else:
                con.execute(
                    f"CREATE OR REPLACE TEMP TABLE _incoming AS SELECT {', '.join(SAMPLE_COLUMNS)} FROM {relation} "
                    "WHERE ts IS NOT NULL AND uuid IS NOT NULL AND metric IS NOT NULL"
                )
                table = "_incoming"
            summary = summarise(con, table)
        elif summary.table != relation:
            raise ValueError(f"the summary given is of {summary.table}, not of {relation}")
        return write_batch(self, con, summary, driver or {}, phase or (lambda what: None))


def _memory_connection() -> DuckDBPyConnection:
    import duckdb

    # No extension is ever installed or loaded behind our back (httpfs would open the network).
    con = duckdb.connect(":memory:", config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    con.execute("SET TimeZone = 'UTC'")
    return con


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
    con.execute(f"SET temp_directory = {sql_path(SPILL_DIR)}")
    con.execute(f"SET allowed_directories = {sql_list([*directories, SPILL_DIR])}")
    if files:
        con.execute(f"SET allowed_paths = {sql_list(files)}")
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
