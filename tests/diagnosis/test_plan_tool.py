"""analyze_query_plan through the in-process MCP client, the diagnosis://categories resource, and the CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from mcp import Client

from dgx_spark_mcp.cli import main
from dgx_spark_mcp.diagnosis.plans.findings import plan_rules

from ..conftest import REPO, server_command, structured

PLANS = REPO / "tests" / "fixtures" / "plans"
UDF_PLAN = PLANS / "formatted" / "spark355_python_udf__sql0.txt"


@pytest.mark.anyio
async def test_tool_reads_pasted_plan_text(client: Client) -> None:
    result = structured(await client.call_tool("analyze_query_plan", {"plan": UDF_PLAN.read_text(), "detail": "full"}))
    assert result["source"] == "text" and result["form"] == "formatted"
    assert [f["category"] for f in result["findings"]] == ["python_udf"]
    evidence = result["findings"][0]["evidence"][0]
    assert evidence["plan_node"] == 3 and evidence["lines"] == ["(3) BatchEvalPython"]
    assert result["summary"]["scans"][0]["format"] == "parquet" and not result["summary"]["accelerated"]
    assert "next_cursor" not in result and len(result["nodes"]) == result["summary"]["node_count"] == 6


@pytest.mark.anyio
async def test_tool_reads_a_file_under_the_allowed_roots_only(client: Client, tmp_path: Path) -> None:
    inside = tmp_path / "plan.json"
    shutil.copy(PLANS / "json" / "spark355_python_udf__sql0.sparkPlanInfo.json", inside)
    result = structured(await client.call_tool("analyze_query_plan", {"path": str(inside)}))
    assert result["source"] == "file" and result["file"] == str(inside) and result["form"] == "json"
    outside = await client.call_tool("analyze_query_plan", {"path": str(UDF_PLAN)})
    assert outside.is_error and "outside the allowed roots" in outside.content[0].text  # type: ignore[union-attr]


@pytest.mark.anyio
async def test_a_pasted_spark_plan_info_tree_is_read_as_text_or_as_the_object_the_sdk_decodes(
    client: Client, tmp_path: Path
) -> None:
    """The SDK json-decodes a string argument that looks like JSON, so pasted JSON reaches the tool as an object."""
    text = (PLANS / "json" / "spark355_python_udf__sql0.sparkPlanInfo.json").read_text()
    inside = tmp_path / "plan.json"
    inside.write_text(text)
    from_file = structured(await client.call_tool("analyze_query_plan", {"path": str(inside)}))
    pasted = structured(await client.call_tool("analyze_query_plan", {"plan": text}))
    as_object = structured(await client.call_tool("analyze_query_plan", {"plan": json.loads(text)}))
    assert pasted["form"] == as_object["form"] == "json" and pasted["source"] == "text"
    assert pasted["summary"] == as_object["summary"] == from_file["summary"]
    assert [f["category"] for f in pasted["findings"]] == ["python_udf"]
    event = structured(await client.call_tool("analyze_query_plan", {"plan": {"sparkPlanInfo": json.loads(text)}}))
    assert event["summary"] == pasted["summary"]


@pytest.mark.anyio
@pytest.mark.parametrize(("plan", "message"), [
    ([{"class": "org.apache.spark.sql.execution.ProjectExec", "num-children": 1}, 5], "not a Spark plan tree"),
    ('{"a":' * 600 + "1" + "}" * 600, "the plan is JSON nested more than 400 levels deep"),
    ("[" * 50_000 + "]" * 50_000, "the plan is JSON nested more than 400 levels deep"),
    ({}, "give exactly one of plan"),
])
async def test_json_plans_that_are_no_plan_tree_are_refused_saying_what_to_give(
    client: Client, plan: object, message: str
) -> None:
    result = await client.call_tool("analyze_query_plan", {"plan": plan})
    assert result.is_error and message in result.content[0].text  # type: ignore[union-attr]


@pytest.mark.anyio
async def test_tool_wants_exactly_one_input(client: Client) -> None:
    both = await client.call_tool("analyze_query_plan", {"plan": UDF_PLAN.read_text(), "sql": "SELECT 1"})
    assert both.is_error and "exactly one of plan" in both.content[0].text  # type: ignore[union-attr]
    schema_alone = await client.call_tool("analyze_query_plan", {"plan": UDF_PLAN.read_text(), "schema": "CREATE TABLE t (a INT)"})
    assert schema_alone.is_error and "schema is only used with sql" in schema_alone.content[0].text  # type: ignore[union-attr]


@pytest.mark.anyio
async def test_categories_resource_lists_every_plan_category(client: Client) -> None:
    contents = (await client.read_resource("diagnosis://categories")).contents[0]
    vocabulary = json.loads(contents.text)  # type: ignore[union-attr]
    plan = {c["name"] for c in vocabulary["categories"] if c["group"] == "plan"}
    assert plan | {"large_task_binary"} == {r.category for r in plan_rules().rules}  # a long IN list: a large task
    assert {"executor_oom", "airflow_task_timeout"} <= {c["name"] for c in vocabulary["categories"]}


@pytest.mark.anyio
async def test_cli_json_equals_the_tool_output(client: Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "plan.txt"
    shutil.copy(PLANS / "formatted" / "spark321_aqeshuffle__sql0.txt", path)
    from_tool = structured(await client.call_tool("analyze_query_plan", {"path": str(path)}))
    assert main(["plan", str(path), "--allowed-roots", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == from_tool


def test_cli_reads_stdin_and_renders_text(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(UDF_PLAN.read_text()))
    assert main(["plan", "-"]) == 0
    out = capsys.readouterr().out
    assert "python_udf (PYTHON_UDF)" in out and "(3) BatchEvalPython" in out and "1 warning(s)" in out


def test_cli_errors_exit_2_with_the_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", str(UDF_PLAN), "--allowed-roots", str(tmp_path)]) == 2
    assert "outside the allowed roots" in capsys.readouterr().err
    assert main(["plan", "--sql", "DROP TABLE t"]) == 2
    assert "only a query" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_sql_with_schema_file_in_a_fresh_process(tmp_path: Path, server_env: dict[str, str]) -> None:
    """The process's own Spark session: the JVM's output stays off stdout, which holds exactly the JSON."""
    cwd = tmp_path / "project"
    cwd.mkdir()
    schema = cwd / "schema.sql"
    schema.write_text("CREATE TABLE t (id INT, v STRING) USING parquet;\nCREATE TABLE u (id INT) USING parquet;\n")
    proc = subprocess.run(
        server_command("plan", "--sql", "SELECT * FROM t CROSS JOIN u", "--schema", str(schema), "--json"),
        capture_output=True, text=True, env=server_env, cwd=cwd, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert result["source"] == "sql" and "broadcast_nested_loop_join" in {f["category"] for f in result["findings"]}
    assert sorted(p.name for p in cwd.iterdir()) == ["schema.sql"]  # nothing written to the current directory
    assert (Path(server_env["DGX_SPARK_MCP_HOME"]) / "spark-explain" / "warehouse").is_dir()


def test_analysed_plans_are_kept_in_the_context_store(tmp_path: Path) -> None:
    import duckdb

    from dgx_spark_mcp.diagnosis.plans.analysis import analyze_query_plan
    from dgx_spark_mcp.settings import Settings
    from dgx_spark_mcp.store import store_path

    settings = Settings(home=tmp_path / "home", allowed_roots=[str(tmp_path)], log_level="WARNING")
    plan = (REPO / "tests" / "fixtures" / "plans" / "formatted" / "spark355_python_udf__sql0.txt").read_text()
    result = analyze_query_plan(plan, settings, path="udf-plan.txt")
    analyze_query_plan(plan, settings, path="udf-plan.txt")  # the same plan again replaces its rows
    with duckdb.connect(str(store_path(settings)), read_only=True) as con:
        (plans,) = con.execute("SELECT count(*) FROM query_plans").fetchone()  # type: ignore[misc]
        kept = [r[0] for r in con.execute("SELECT category FROM plan_findings ORDER BY category").fetchall()]
    assert plans == 1
    assert kept == sorted(f.category for f in result.findings) and "python_udf" in kept
