"""The DuckDB store: idempotent migrations, transactions, and a file shared by several processes."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from dgx_spark_mcp.errors import CouldNotDoError
from dgx_spark_mcp.optimizers.history import PastRun, list_runs, record_run
from dgx_spark_mcp.settings import Settings
from dgx_spark_mcp.store import Migration, connect, store_path, transaction

NOTES = Migration(id="test/001-notes", statements=("CREATE TABLE notes (id INTEGER PRIMARY KEY, body VARCHAR NOT NULL)",))
NOTES_TAGS = Migration(id="test/002-tags", statements=("ALTER TABLE notes ADD COLUMN tag VARCHAR",))


def _count(settings: Settings, sql: str) -> int:
    with connect(settings) as con:
        row = con.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


def test_the_store_lives_in_the_data_dir_which_is_created(settings: Settings) -> None:
    assert not settings.home.exists()
    with connect(settings) as con:
        con.execute("SELECT 1")
    assert store_path(settings) == settings.home / "store.duckdb" and store_path(settings).is_file()


def test_migrations_run_once_however_often_they_are_given(settings: Settings) -> None:
    # NOTES has no IF NOT EXISTS: running it a second time would fail, so passing proves it ran once.
    for _ in range(3):
        with connect(settings, [NOTES]) as con:
            con.execute("INSERT INTO notes VALUES (?, 'x')", [_count(settings, "SELECT count(*) FROM notes")])
    assert _count(settings, "SELECT count(*) FROM notes") == 3
    assert _count(settings, "SELECT count(*) FROM store_migrations WHERE id = 'test/001-notes'") == 1


def test_a_later_migration_is_applied_on_the_next_connection(settings: Settings) -> None:
    with connect(settings, [NOTES]):
        pass
    with connect(settings, [NOTES, NOTES_TAGS]) as con:
        con.execute("INSERT INTO notes VALUES (1, 'x', 'tagged')")
    assert _count(settings, "SELECT count(*) FROM notes WHERE tag = 'tagged'") == 1


def test_a_failing_migration_leaves_no_trace(settings: Settings) -> None:
    broken = Migration(id="test/001-broken", statements=("CREATE TABLE half (a INTEGER)", "CREATE TABLE half (a INTEGER)"))
    with pytest.raises(CouldNotDoError, match="store"):
        with connect(settings, [broken]):
            pass
    assert _count(settings, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'half'") == 0
    assert _count(settings, "SELECT count(*) FROM store_migrations") == 0


def test_a_transaction_is_all_or_nothing(settings: Settings) -> None:
    with connect(settings, [NOTES]) as con:
        con.execute("INSERT INTO notes VALUES (1, 'kept')")
        with pytest.raises(Exception), transaction(con):
            con.execute("INSERT INTO notes VALUES (2, 'rolled back')")
            con.execute("INSERT INTO notes VALUES (1, 'duplicate key')")
    assert _count(settings, "SELECT count(*) FROM notes") == 1


def test_duckdb_errors_inside_the_block_become_could_not_do(settings: Settings) -> None:
    with pytest.raises(CouldNotDoError, match=r"store\.duckdb failed: .*no_such_table"):
        with connect(settings) as con:
            con.execute("SELECT * FROM no_such_table")


def test_a_damaged_store_file_says_to_move_it_aside(settings: Settings) -> None:
    settings.home.mkdir(parents=True)
    store_path(settings).write_bytes(b"this is not a database" * 1000)
    with pytest.raises(CouldNotDoError, match="move it aside"):
        with connect(settings):
            pass


def test_an_unusable_data_dir_names_the_setting(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    settings = Settings(home=blocker / "home", allowed_roots=[str(tmp_path)], log_level="WARNING")
    with pytest.raises(CouldNotDoError, match="DGX_SPARK_MCP_HOME"):
        with connect(settings):
            pass


HOLDER = """
import sys, time
from pathlib import Path
from dgx_spark_mcp.settings import Settings
from dgx_spark_mcp.store import connect
settings = Settings(home=Path(sys.argv[1]), allowed_roots=[sys.argv[1]])
with connect(settings) as con:
    con.execute("SELECT 1")
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


@contextmanager
def _held_by_another_process(settings: Settings, seconds: float) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the store open (as a second server would) for ``seconds``."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(settings.home), str(seconds)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        assert proc.stdout is not None
        proc.stdout.close()


def _run(app_id: str) -> PastRun:
    return PastRun(app_id=app_id, source_sha256="c" * 64, input_bytes=10**9, duration_ms=1000, executors=1, executor_cores=4)


@pytest.mark.slow
@pytest.mark.parametrize("operation", ["record", "read"])
def test_a_writer_or_reader_waits_for_another_process_and_then_succeeds(settings: Settings, operation: str) -> None:
    with _held_by_another_process(settings, seconds=1.0):
        start = time.monotonic()
        if operation == "record":
            assert record_run(settings, _run("app-waited"))  # retried until the holder let go
        else:
            assert list_runs(settings) == []
        waited = time.monotonic() - start
    # The file is locked for 1 s after 'locked' is read, so an operation that did not wait would be done at once.
    assert waited > 0.5
    assert [r.app_id for r in list_runs(settings)] == (["app-waited"] if operation == "record" else [])


@pytest.mark.slow
def test_a_persistent_lock_is_a_clear_error_not_a_duckdb_exception(settings: Settings) -> None:
    with _held_by_another_process(settings, seconds=30) as holder:
        with pytest.raises(CouldNotDoError) as err:
            with connect(settings, lock_wait_s=0.5):
                pass
    message = str(err.value)
    assert f"held by process {holder.pid}" in message and "stayed locked for 0.5 s" in message
    assert "DGX_SPARK_MCP_HOME" in message
