"""The embedded DuckDB store in the data directory (``settings.home / "store.duckdb"``).

Several server processes share one data directory (two IDEs at once), and DuckDB lets only
one process open a database file at a time: a second process gets an IO error "Could not
set lock on file".  So nobody keeps the store open.  :func:`connect` hands out a short-lived
connection, closed when the ``with`` block ends, and when the file is locked it retries with
backoff for a bounded time before giving up with a :class:`CouldNotDoError` that says what to
do.  Within one process DuckDB shares a single database instance between connections, so
threads never lock each other out.

Tables are created by migrations: each feature declares its own (:class:`Migration`, with an
id that is never reused or edited once released) and passes them to :func:`connect`, which
applies the ones the file has not seen, together in one transaction, and records them in
``store_migrations``.  Applying them again is a no-op.

DuckDB is imported only when a store is opened, so starting the server does not load it.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import CouldNotDoError, DgxSparkError
from .settings import Settings

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

__all__ = ["LOCK_WAIT_S", "STORE_FILE", "Migration", "connect", "store_exists", "store_path", "transaction", "utc_naive"]

log = logging.getLogger(__name__)

STORE_FILE = "store.duckdb"
LOCK_WAIT_S = 5.0
"""How long :func:`connect` waits for another process to release the file, in seconds."""

_FIRST_BACKOFF_S = 0.02
_MAX_BACKOFF_S = 0.5
_LOCK_MESSAGE = "Could not set lock on file"
_migration_lock = threading.Lock()
_open_lock = threading.Lock()
"""Threads of one process share one DuckDB database instance, and opening a connection while another
thread closes one races inside DuckDB ("Unique file handle conflict"): opens and closes take turns."""
_write_lock = threading.RLock()
"""Transactions of one process take turns: two threads rewriting the same rows (delete then insert of
one content hash) otherwise conflict ("Duplicate key", "Conflict on tuple deletion").  Found by
bench/load.py: 55 of 7,540 diagnose_log calls failed under 50 concurrent clients without it."""


_CONFINED = {"enable_external_access": False, "autoinstall_known_extensions": False, "autoload_known_extensions": False}
"""The store's SQL is ours, but should any value ever reach it as SQL, it still cannot read or write a file
other than the store, ATTACH another database or load an extension (httpfs would open the network).
(Read-only opens are not used: DuckDB refuses two configurations of one file in a process, and the
same process writes the store.)"""


@dataclass(frozen=True)
class Migration:
    """One schema step: an id unique across the whole store, and the statements it runs."""

    id: str
    statements: tuple[str, ...]


def utc_naive(moment: datetime) -> datetime:
    """``moment`` in UTC without a zone: the store keeps TIMESTAMP columns in UTC, because reading
    TIMESTAMPTZ back into Python makes DuckDB import pytz, which is not a dependency."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def store_path(settings: Settings) -> Path:
    return settings.home / STORE_FILE


def store_exists(settings: Settings) -> bool:
    """Whether the store file is there: without it nothing was kept, and a lookup need not open DuckDB."""
    return store_path(settings).is_file()


def _holder(message: str) -> str:
    match = re.search(r"PID (\d+)", message)
    return f"process {match.group(1)}" if match else "another process"


def _open(path: Path, lock_wait_s: float) -> DuckDBPyConnection:
    import duckdb

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CouldNotDoError(
            f"cannot create the data directory {path.parent} ({exc.strerror}); set DGX_SPARK_MCP_HOME to a writable directory"
        ) from exc
    deadline = time.monotonic() + lock_wait_s
    backoff = _FIRST_BACKOFF_S
    attempts = 0
    while True:
        attempts += 1
        try:
            return duckdb.connect(str(path), config=_CONFINED)
        except duckdb.IOException as exc:
            if _LOCK_MESSAGE not in str(exc):
                raise _unusable(path, exc) from exc
            left = deadline - time.monotonic()
            if left <= 0:
                raise CouldNotDoError(
                    f"the store {path} is held by {_holder(str(exc))} and stayed locked for {lock_wait_s:g} s "
                    f"({attempts} attempts); DuckDB lets one process open it at a time. Retry when that process "
                    "(another dgx-spark-mcp server or command) has finished, or give this one its own data "
                    "directory with DGX_SPARK_MCP_HOME"
                ) from exc
            # Jitter keeps two waiting processes from retrying in step.
            time.sleep(min(left, backoff * random.uniform(0.5, 1.0)))
            backoff = min(backoff * 2, _MAX_BACKOFF_S)
        except duckdb.Error as exc:
            raise _unusable(path, exc) from exc


def _unusable(path: Path, exc: Exception) -> CouldNotDoError:
    return CouldNotDoError(
        f"the store {path} cannot be opened ({exc}); if it is damaged or was written by a newer DuckDB, "
        "move it aside (a fresh store is created on the next use) or set DGX_SPARK_MCP_HOME to another directory"
    )


@contextmanager
def transaction(con: DuckDBPyConnection) -> Iterator[DuckDBPyConnection]:
    """All statements in the block, or none of them; one transaction at a time in this process."""
    with _write_lock:
        con.begin()
        try:
            yield con
        except BaseException:
            con.rollback()
            raise
        con.commit()


def _migrate(con: DuckDBPyConnection, path: Path, migrations: Sequence[Migration]) -> None:
    # Checked on every connection (one small query) rather than cached per process, so a store
    # moved aside while the server runs is rebuilt instead of failing on a missing table.
    # One transaction, the ledger's creation included: each commit that writes is a sync of the
    # write-ahead log, and a new store takes every migration at once (a sync per migration was
    # most of a first diagnosis's time in the store).  Nothing to apply: nothing is written.
    with _migration_lock, transaction(con):  # threads of this process share one database instance
        con.execute("CREATE TABLE IF NOT EXISTS store_migrations (id VARCHAR PRIMARY KEY, applied_at_utc TIMESTAMP NOT NULL)")
        done = {row[0] for row in con.execute("SELECT id FROM store_migrations").fetchall()}
        pending = [m for m in migrations if m.id not in done]
        for migration in pending:
            for statement in migration.statements:
                con.execute(statement)
            con.execute("INSERT INTO store_migrations VALUES (?, ?)", [migration.id, utc_naive(datetime.now(UTC))])
    for migration in pending:
        log.info("store %s: applied migration %s", path, migration.id)


@contextmanager
def connect(
    settings: Settings, migrations: Sequence[Migration] = (), *, lock_wait_s: float = LOCK_WAIT_S
) -> Iterator[DuckDBPyConnection]:
    """A connection to the store with ``migrations`` applied; closed when the block ends.

    Any DuckDB error inside the block becomes a :class:`CouldNotDoError` naming the store.
    """
    import duckdb

    path = store_path(settings)
    with _open_lock:
        con = _open(path, lock_wait_s)
    try:
        _migrate(con, path, migrations)
        yield con
    except DgxSparkError:
        raise
    except duckdb.Error as exc:
        raise CouldNotDoError(f"the store {path} failed: {exc}") from exc
    finally:
        with _open_lock:
            con.close()
