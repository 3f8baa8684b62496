"""DuckDB connections the tools use cannot reach past their own files: no file outside the store,
no ATTACH, no COPY out, no extension (httpfs would open the network), and no way to switch that back on."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from dgx_spark_mcp import store
from dgx_spark_mcp.settings import Settings
from dgx_spark_mcp.telemetry.store import TelemetryStore, confined_connection

ESCAPES = [
    "SELECT * FROM read_csv('{outside}')",
    "SELECT * FROM read_text('/etc/passwd')",
    "COPY (SELECT 42) TO '{outside_dir}/written.csv'",
    "ATTACH '{outside_dir}/other.duckdb' AS other",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "SET allowed_directories = ['/']",
]


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    secret = tmp_path / "outside" / "secret.csv"
    secret.parent.mkdir()
    secret.write_text("key\nhunter2\n")
    return secret


def _attempts(outside: Path) -> list[str]:
    return [q.format(outside=outside, outside_dir=outside.parent) for q in ESCAPES]


def _refused(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    with pytest.raises(duckdb.Error) as refused:
        con.execute(sql).fetchall()
    assert "hunter2" not in str(refused.value)


def test_the_context_store_cannot_read_write_attach_or_load(settings: Settings, outside: Path) -> None:
    with store.connect(settings) as con:
        for sql in _attempts(outside):
            _refused(con, sql)
        con.execute("CREATE TABLE IF NOT EXISTS still_usable (a INT)")  # its own file still works
    assert not (outside.parent / "written.csv").exists() and not (outside.parent / "other.duckdb").exists()


def test_telemetry_connections_reach_their_store_and_source_only(settings: Settings, outside: Path,
                                                                 tmp_path: Path) -> None:
    source = tmp_path / "export.csv"
    source.write_text("a\n1\n")
    telemetry = TelemetryStore(settings)
    con = telemetry.connection(files=[source])
    try:
        assert con.execute(f"SELECT * FROM read_csv('{source}')").fetchall() == [(1,)]
        con.execute(f"COPY (SELECT 1 AS a) TO '{telemetry.root}/probe.csv'")  # its own directory: allowed
        for sql in _attempts(outside):
            _refused(con, sql)
    finally:
        con.close()
    with telemetry.reader() as reader:
        for sql in _attempts(outside) + [f"SELECT * FROM read_csv('{source}')"]:
            _refused(reader, sql)


def test_a_confined_connection_keeps_its_limits_for_every_cursor(outside: Path, tmp_path: Path) -> None:
    con = confined_connection([tmp_path / "mine"])
    try:
        _refused(con.cursor(), f"SELECT * FROM read_csv('{outside}')")
    finally:
        con.close()
