"""SQL + DDL → Spark's own plan through local PySpark, without executing anything; and what is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dgx_spark_mcp.diagnosis.plans import explain as plan_explain
from dgx_spark_mcp.diagnosis.plans.analysis import analyze_query_plan
from dgx_spark_mcp.diagnosis.plans.explain import check_ddl, check_query, explain_sql
from dgx_spark_mcp.errors import BadInputError, CouldNotDoError
from dgx_spark_mcp.settings import Settings

from .plan_queries import DDL, HEALTHY, register_udfs


@pytest.mark.parametrize(("sql", "message"), [
    ("DROP TABLE events", "starts with 'DROP'"),
    ("INSERT INTO events SELECT 1, 'a', 'b'", "starts with 'INSERT'"),
    ("WITH x AS (SELECT 1 AS id) INSERT INTO t SELECT * FROM x", "contains 'INSERT'"),
    ("SELECT 1; DROP TABLE events", "2 statements"),
    ("CREATE TABLE t (id INT)", "starts with 'CREATE'"),
    ("  -- only a comment\n", "empty"),
])
def test_anything_but_one_query_is_refused(sql: str, message: str) -> None:
    with pytest.raises(BadInputError, match=message):
        check_query(sql)


@pytest.mark.parametrize("sql", [
    "SELECT * FROM json.`/etc/secret.json`",
    "SELECT * FROM parquet . `file:///data/x.parquet` p JOIN t USING (id)",
    "SELECT * FROM `csv`.`C:\\data\\x.csv`",
])
def test_a_file_path_table_is_refused_it_would_read_the_file(sql: str) -> None:
    with pytest.raises(BadInputError, match="reads a file by path.*declare the table in the schema"):
        check_query(sql)


def test_a_view_over_a_file_path_is_refused_in_the_schema() -> None:
    with pytest.raises(BadInputError, match="schema statement for v reads a file by path"):
        check_ddl("CREATE VIEW v AS SELECT * FROM json.`/home/u/.aws/credentials.json`")


@pytest.mark.slow
def test_spark_itself_refuses_file_tables_during_an_explain(udfs: Any, settings: Settings, tmp_path: Path) -> None:
    """Defence in depth: were a path table to slip past the check, the session reads no file."""
    secret = tmp_path / "outside.json"
    secret.write_text('{"secret_key_hunter2": 1}\n')
    udfs.conf.set("spark.sql.runSQLOnFiles", "true")
    with pytest.raises(BadInputError) as refused:
        plan_explain._explain_local(f"SELECT * FROM json.`{secret}`", [], settings)  # check_query bypassed
    assert "hunter2" not in str(refused.value)
    assert udfs.conf.get("spark.sql.runSQLOnFiles") == "true"  # the session's own setting is given back


def test_keywords_and_semicolons_inside_literals_and_comments_do_not_count() -> None:
    assert check_query("SELECT 'drop; insert' AS x, `update` FROM t -- ; DROP TABLE t\n;") == (
        "SELECT 'drop; insert' AS x, `update` FROM t")


@pytest.mark.parametrize(("ddl", "message"), [
    ("DROP TABLE events", "not CREATE TABLE or CREATE VIEW"),
    ("CREATE TABLE t AS SELECT * FROM events", "would run a query"),
    ("CREATE TABLE t (id INT) USING parquet LOCATION '/data/t'", "LOCATION/OPTIONS"),
    ("CREATE TABLE t (id INT); INSERT INTO t VALUES (1)", "not CREATE TABLE"),
])
def test_schema_may_only_declare_tables_and_views(ddl: str, message: str) -> None:
    with pytest.raises(BadInputError, match=message):
        check_ddl(ddl)


def test_schema_statements_are_split_and_named() -> None:
    assert [(k, n) for k, n, _ in check_ddl(DDL + "; CREATE OR REPLACE TEMP VIEW v AS SELECT * FROM users")] == [
        ("TABLE", "events"), ("TABLE", "users"), ("VIEW", "v")]


def test_connect_url_must_be_sc_and_takes_no_schema(settings: Settings) -> None:
    with pytest.raises(BadInputError, match="not a Spark Connect URL"):
        explain_sql("SELECT 1", settings, connect_url="http://localhost:15002")
    with pytest.raises(BadInputError, match="cannot be used with connect_url"):
        explain_sql("SELECT 1", settings, schema=DDL, connect_url="sc://localhost:15002")


def test_no_java_is_a_clear_could_not_do(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from pyspark.sql import SparkSession

    from dgx_spark_mcp import spark_local

    monkeypatch.setattr(SparkSession, "getActiveSession", classmethod(lambda cls: None))
    monkeypatch.setattr(plan_explain, "_SESSION", None)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(spark_local.shutil, "which", lambda name: None)
    with pytest.raises(CouldNotDoError, match="Java is not installed"):
        explain_sql("SELECT 1", settings)


@pytest.fixture
def udfs(spark: Any) -> Iterator[Any]:
    register_udfs(spark)
    yield spark


@pytest.mark.slow
def test_sql_and_ddl_give_spark_s_own_plan_and_leave_no_tables(udfs: Any, settings: Settings) -> None:
    databases = {db.name for db in udfs.catalog.listDatabases()}
    current = udfs.catalog.currentDatabase()
    result = analyze_query_plan(None, settings, sql=HEALTHY, schema=DDL)
    assert result.source == "sql" and result.form == "formatted"
    assert result.explained_plan is not None and result.explained_plan.startswith("== Physical Plan ==")
    assert [f for f in result.findings if f.severity != "info"] == []
    assert result.summary.joins_by_type == {"BroadcastHashJoin Inner build right": 1}
    events = next(s for s in result.summary.scans if s.table and s.table.endswith(".events"))
    assert events.partitioned and events.partition_filters and "GreaterThan(id,5)" in (events.pushed_filters or [])
    assert any("isFinalPlan=false" in note for note in result.notes)
    assert {db.name for db in udfs.catalog.listDatabases()} == databases and udfs.catalog.currentDatabase() == current
    assert not (Path.cwd() / "spark-warehouse").exists() and not (Path.cwd() / "metastore_db").exists()


@pytest.mark.slow
def test_nothing_is_executed_a_raising_udf_still_explains(udfs: Any, settings: Settings) -> None:
    over_table = analyze_query_plan(None, settings, sql="SELECT boom(v) FROM events", schema=DDL)
    over_rows = analyze_query_plan(None, settings, sql="SELECT boom(id) FROM range(5)")
    for result in (over_table, over_rows):
        assert "python_udf" in {f.category for f in result.findings}


@pytest.mark.slow
def test_qualified_table_names_get_their_database_for_the_run(udfs: Any, settings: Settings) -> None:
    result = analyze_query_plan(None, settings, sql="SELECT * FROM sales.orders o WHERE o.day = '2024-01-01'",
                                schema="CREATE TABLE sales.orders (id INT, day STRING) USING parquet PARTITIONED BY (day)")
    assert [s.table for s in result.summary.scans] == ["spark_catalog.sales.orders"]
    assert not udfs.catalog.databaseExists("sales")


@pytest.mark.slow
def test_an_unknown_table_is_the_callers_to_fix(udfs: Any, settings: Settings) -> None:
    with pytest.raises(BadInputError, match="Spark could not plan the SQL.*declare the tables"):
        explain_sql("SELECT * FROM no_such_table", settings)


def test_connect_without_its_client_libraries_is_a_clear_could_not_do(settings: Settings,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    real = plan_explain.importlib.util.find_spec
    monkeypatch.setattr(plan_explain.importlib.util, "find_spec", lambda name: None if name == "pandas" else real(name))
    with pytest.raises(CouldNotDoError, match="needs pandas.*dgx-spark-mcp\\[connect\\]"):
        explain_sql("SELECT 1", settings, connect_url="sc://127.0.0.1:15002")
