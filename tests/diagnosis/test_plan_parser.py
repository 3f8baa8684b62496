"""The plan parser on the corpus plans and on plans local PySpark prints in every EXPLAIN mode."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dgx_spark_mcp.diagnosis.plans.findings import find_plan_issues
from dgx_spark_mcp.diagnosis.plans.parser import (
    ParsedPlan,
    parse_plan,
    split_accelerator,
)
from dgx_spark_mcp.errors import BadInputError

from ..conftest import REPO
from .plan_queries import CATEGORY_QUERIES, DDL, HEALTHY, register_udfs, runtime_conf

PLANS = REPO / "tests" / "fixtures" / "plans"
CORPUS_PLANS = sorted(p for p in PLANS.rglob("*") if p.is_file() and p.name != "README.md")


def _consistent(plan: ParsedPlan) -> None:
    """Every parent/child link points both ways, ids are unique, and depth grows by one per level."""
    index = {n.id: n for n in plan.nodes}
    assert len(index) == len(plan.nodes)
    for node in plan.nodes:
        for child in node.children:
            assert index[child].parent == node.id
        if node.parent is not None:
            assert node.id in index[node.parent].children
            assert node.depth > index[node.parent].depth


@pytest.mark.parametrize("path", CORPUS_PLANS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_corpus_plan_parses_into_a_consistent_tree(path: Path) -> None:
    plan = parse_plan(path.read_text(encoding="utf-8"))
    assert plan.form == path.parent.name  # formatted/, extended/, json/
    assert plan.nodes and plan.unparsed_lines == 0
    _consistent(plan)
    assert all(not n.name.startswith(("*", "+", ":")) for n in plan.nodes)


def test_aqe_final_plan_is_kept_and_initial_plan_dropped() -> None:
    plan = parse_plan((PLANS / "formatted" / "spark321_aqeshuffle__sql0.txt").read_text())
    assert plan.adaptive and plan.final_plan is True
    ids = {n.id for n in plan.nodes}
    assert ids == set(range(1, 21)) | {34}  # 21..33 belong to the Initial Plan AQE replaced
    exchanges = {n.id: n.exchange for n in plan.nodes if n.exchange}
    assert exchanges[4] is not None and (exchanges[4].partitioning, exchanges[4].partitions, exchanges[4].keys) == (
        "hash", 200, "a#12")
    assert exchanges[18] is not None and exchanges[18].partitioning == "single" and exchanges[18].partitions == 1
    by_id = {n.id: n for n in plan.nodes}
    assert by_id[15].join is not None and by_id[15].join.join_type == "Inner"
    assert by_id[20].codegen_id == 6 and by_id[6].details["Arguments"] == "coalesced"


def test_spark2_codegen_stars_joins_and_scans() -> None:
    plan = parse_plan((PLANS / "extended" / "spark223__sql2.txt").read_text())
    names = [n.name for n in plan.nodes]
    assert names[:3] == ["CollectLimit", "BroadcastHashJoin", "Project"]
    join = plan.nodes[1].join
    assert join is not None and (join.join_type, join.build_side) == ("Inner", "right")
    scans = [n.scan for n in plan.nodes if n.scan]
    assert len(scans) == 2 and all(s.format == "csv" and s.pushed_filters == ["IsNotNull(salary)"] for s in scans)
    assert scans[0].read_schema == "struct<name:string,id:string,gender:string,salary:string>"
    assert scans[0].partition_filters == [] and scans[0].partitioned is None  # a plain csv path: cannot tell


def test_json_and_formatted_forms_of_one_execution_agree() -> None:
    formatted = parse_plan((PLANS / "formatted" / "spark355_python_udf__sql0.txt").read_text())
    as_json = parse_plan((PLANS / "json" / "spark355_python_udf__sql0.sparkPlanInfo.json").read_text())
    assert [n.operator for n in as_json.nodes] == [n.operator if n.operator != "Scan" else "FileScan"
                                                  for n in formatted.nodes[::1]]
    assert [n.depth for n in as_json.nodes] == [n.depth for n in formatted.nodes]
    for plan in (formatted, as_json):
        assert {f.category for f in find_plan_issues(plan)} == {"python_udf"}
    scan = as_json.nodes[-1].scan
    assert scan is not None and scan.format == "parquet" and scan.read_schema == "struct<id:int,value:int>"
    assert as_json.nodes[2].codegen_id == 2  # WholeStageCodegen (2) folded into its operators


def test_dsv2_batch_scan_reads_its_details() -> None:
    plan = parse_plan((PLANS / "formatted" / "spark311_dsv2__sql4.txt").read_text())
    scan = next(n for n in plan.nodes if n.scan)
    assert scan.name == "BatchScan" and scan.scan is not None and scan.scan.format == "orc"
    assert scan.scan.location is not None and scan.scan.location.startswith("InMemoryFileIndex[")


@pytest.mark.parametrize(("name", "operator", "accelerator"), [
    ("GpuBroadcastNestedLoopJoin", "BroadcastNestedLoopJoin", "gpu"),
    ("PhotonBroadcastNestedLoopJoin", "BroadcastNestedLoopJoin", "photon"),
    ("CometHashAggregate", "HashAggregate", "comet"),
    ("FilterExecTransformer", "Filter", "gluten"),
    ("ProjectExecTransformer", "Project", "gluten"),
    ("Generate", "Generate", None),
    ("Gpu", "Gpu", None),
])
def test_accelerator_prefixes_and_suffixes(name: str, operator: str, accelerator: str | None) -> None:
    assert split_accelerator(name) == (operator, accelerator)


def test_rapids_explain_lines_become_fallback_notes() -> None:
    text = ("GpuColumnarToRow false\n+- GpuFilter (id#1 > 5)\n   +- GpuRowToColumnar targetsize(1)\n"
            "      +- *(1) Scan ExistingRDD[id#1]\n"
            "!Exec <ProjectExec> cannot run on GPU because not all expressions can be replaced\n"
            "  @Expression <AttributeReference> id#1 could run on GPU\n")
    plan = parse_plan(text)
    assert [n.name for n in plan.nodes] == ["GpuColumnarToRow", "GpuFilter", "GpuRowToColumnar", "Scan"]
    assert plan.fallback_notes[0].startswith("!Exec <ProjectExec>") and len(plan.fallback_notes) == 2


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty"),
    ("hello world, this is not a plan", "does not look like a Spark plan"),
    ("{not json", "not valid JSON"),
    ('{"event": "x"}', "not a Spark plan tree"),
    ("Found 0 WholeStageCodegen subtrees.", "EXPLAIN FORMATTED"),
    ("[" * 50_000 + "]" * 50_000, "nested more than 400 levels deep"),
    ('{"a":' * 5_000 + "1" + "}" * 5_000, "nested more than 400 levels deep"),
])
def test_what_is_not_a_plan_is_refused_saying_what_to_give(text: str, message: str) -> None:
    with pytest.raises(BadInputError, match=message):
        parse_plan(text)


# --- plans printed by local PySpark -------------------------------------------------------

@pytest.fixture(scope="module")
def plan_tables(spark: Any) -> Iterator[Any]:
    previous = spark.catalog.currentDatabase()
    spark.sql("CREATE DATABASE IF NOT EXISTS plan_parser_tests")
    spark.sql("USE plan_parser_tests")
    for statement in DDL.split(";"):
        spark.sql(statement.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS"))
    register_udfs(spark)
    yield spark
    spark.sql(f"USE {previous}")
    spark.sql("DROP DATABASE plan_parser_tests CASCADE")


def _explain(spark: Any, mode: str, query: str) -> str:
    return str(spark.sql(f"EXPLAIN {mode} {query}").collect()[0][0])


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["", "EXTENDED", "FORMATTED", "COST"])
@pytest.mark.parametrize("category", sorted(CATEGORY_QUERIES))
def test_local_spark_plans_show_their_category_in_every_mode(plan_tables: Any, category: str, mode: str) -> None:
    query, confs = CATEGORY_QUERIES[category]
    with runtime_conf(plan_tables, confs):
        plan = parse_plan(_explain(plan_tables, mode, query))
    _consistent(plan)
    assert plan.form == {"": "simple", "EXTENDED": "extended", "FORMATTED": "formatted", "COST": "extended"}[mode]
    assert category in {f.category for f in find_plan_issues(plan)}


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["", "EXTENDED", "FORMATTED", "COST", "CODEGEN"])
def test_local_spark_healthy_plan_has_no_warnings_in_any_mode(plan_tables: Any, mode: str) -> None:
    # AQE plans are code-generated only when they run: codegen mode shows stages without AQE
    with runtime_conf(plan_tables, {"spark.sql.adaptive.enabled": "false"} if mode == "CODEGEN" else {}):
        plan = parse_plan(_explain(plan_tables, mode, HEALTHY))
    _consistent(plan)
    assert [f for f in find_plan_issues(plan) if f.severity != "info"] == []
    if mode != "CODEGEN":  # codegen mode shows only the code-generated stages
        joins = [n.join for n in plan.nodes if n.join]
        assert [(j.join_type, j.build_side) for j in joins] == [("Inner", "right")]
        scans = {n.scan.table.rsplit(".", 1)[-1]: n.scan for n in plan.nodes if n.scan and n.scan.table}
        assert scans["events"].partitioned and scans["events"].partition_filters
        assert "GreaterThan(id,5)" in (scans["events"].pushed_filters or [])
    else:
        assert plan.form == "codegen" and plan.nodes


@pytest.mark.slow
def test_cost_mode_estimates_are_read(plan_tables: Any) -> None:
    plan = parse_plan(_explain(plan_tables, "COST", HEALTHY))
    assert plan.estimates and all(e.size_bytes is not None and e.size_bytes >= 0 for e in plan.estimates)
    assert plan.estimates[0].operator == "Aggregate"


def test_partition_columns_are_the_output_columns_not_read_from_files() -> None:
    simple = parse_plan(
        "== Physical Plan ==\n*(1) ColumnarToRow\n+- FileScan parquet [id#3L,day#4] Batched: true, DataFilters: [], "
        "Format: Parquet, Location: InMemoryFileIndex(1 paths)[file:/data/by_day], PartitionFilters: [], "
        "PushedFilters: [], ReadSchema: struct<id:bigint>"
    )
    scan = simple.nodes[1].scan
    assert scan is not None and scan.partitioned and scan.partition_columns == ["day"] and scan.table is None
    # the 432-column DSv2 scan's details are cut short: no guess from a partial column list
    dsv2 = parse_plan((PLANS / "formatted" / "spark311_dsv2__sql4.txt").read_text())
    batch = next(n.scan for n in dsv2.nodes if n.scan)
    assert batch is not None and batch.partitioned is None and batch.partition_columns == []


def test_an_sql_execution_start_event_is_read_through_its_spark_plan_info() -> None:
    tree = json.loads((PLANS / "json" / "spark355_python_udf__sql0.sparkPlanInfo.json").read_text())
    event = {"Event": "org.apache.spark.sql.execution.ui.SparkListenerSQLExecutionStart", "executionId": 0,
             "sparkPlanInfo": tree}
    plan = parse_plan(json.dumps(event))
    assert plan.form == "json" and [n.operator for n in plan.nodes][3] == "BatchEvalPython"


def test_json_nodes_of_odd_shapes_are_read_as_far_as_they_can_be() -> None:
    """children that is no list, metadata values that are objects: what Spark never writes, read without a crash."""
    plan = parse_plan(json.dumps({"nodeName": "Project", "simpleString": "Project [a#1]", "children": 5,
                                  "metadata": {"Nested": {"deep": [[1]]}, "Plain": 3}}))
    assert [n.name for n in plan.nodes] == ["Project"] and plan.nodes[0].details == {"Nested": '{"deep": [[1]]}', "Plain": "3"}
    decoded = parse_plan({"nodeName": "Filter", "children": [{"nodeName": "Scan parquet", "children": "x"}, 7]})
    assert [n.operator for n in decoded.nodes] == ["Filter", "Scan"] and decoded.form == "json"
