"""The MCP surface through the SDK's in-process client: every tool, resource and prompt."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from dgx_spark_mcp.server import build_server
from dgx_spark_mcp.settings import Settings

from .conftest import structured

pytestmark = pytest.mark.anyio

TOOLS = {
    "detect_hardware", "list_hardware_profiles", "check_gpu_availability", "optimize_spark_config",
    "check_spark_config", "estimate_resources", "analyze_event_log", "diagnose_log", "analyze_query_plan",
    "ingest_telemetry", "sample_gpus", "list_gpus", "query_telemetry", "telemetry_report", "ask", "engine_status",
    "list_spark_apps", "compare_spark_apps", "spark_app_status", "list_dag_runs", "diagnose_dag_run",
}
LIVE = {"list_spark_apps", "compare_spark_apps", "spark_app_status", "list_dag_runs", "diagnose_dag_run"}
"""Tools whose answer comes from servers outside this process: open world, not idempotent."""
OPEN_WORLD = {"ingest_telemetry", "analyze_event_log", "diagnose_log"}
"""Tools that may reach outside (a scrape URL; a History Server with app=), on the same input the same answer."""
WRITERS = {"ingest_telemetry", "sample_gpus"}
"""Tools that add to the telemetry store: not read-only, never destructive."""


async def test_every_tool_has_description_described_args_output_schema_and_annotations(client: Client) -> None:
    tools = {t.name: t for t in (await client.list_tools()).tools}
    assert TOOLS == set(tools)
    for tool in tools.values():
        assert tool.description and len(tool.description) > 40, tool.name
        assert tool.output_schema and tool.output_schema.get("type") == "object", tool.name
        assert tool.annotations is not None, tool.name
        assert tool.annotations.read_only_hint is (tool.name not in WRITERS), tool.name
        assert tool.annotations.destructive_hint is not True, tool.name
        assert tool.annotations.open_world_hint is (tool.name in LIVE | OPEN_WORLD), tool.name
        assert tool.title, tool.name
        for arg, schema in tool.input_schema.get("properties", {}).items():
            assert schema.get("description"), f"{tool.name}.{arg} has no description"


async def test_detect_hardware_here_is_an_honest_no_gpu_snapshot(client: Client) -> None:
    snap = structured(await client.call_tool("detect_hardware", {}))
    assert snap["source"] == "host" and snap["gpu_stack"]["available"] is False
    assert "libnvidia-ml" in snap["gpu_stack"]["reason"]
    assert snap["host"]["cpu_logical_cores"] >= 1


async def test_detect_hardware_on_a_recorded_dgx_h100(settings: Settings, machine: Any) -> None:
    async with Client(build_server(settings, nvml=machine("dgx-h100"))) as c:
        snap = structured(await c.call_tool("detect_hardware", {"detail": "full"}))
        brief = structured(await c.call_tool("detect_hardware", {}))
    assert snap["source"] == "nvml" and len(snap["gpus"]) == 8 and len(snap["topology"]) == 28
    assert snap["gpus"][7]["mig_enabled"] is True
    assert snap["gpu_stack"]["driver_version"] == "550.90.07"
    # The summary: the same GPUs with what decides where a job runs, the 28 pairs said in one line, and what it left out.
    assert [g["uuid"] for g in brief["gpus"]] == [g["uuid"] for g in snap["gpus"]] and "topology" not in brief
    assert sum(int(line.split()[0]) for line in brief["topology_summary"]) == 28
    assert all(" pairs" in line and "NVLink through NVSwitch, P2P read ok" in line for line in brief["topology_summary"])
    assert brief["gpus"][0]["memory"] == snap["gpus"][0]["memory"] and "pci_bus_id" not in brief["gpus"][0]
    assert "detail='full'" in brief["more"]


async def test_detect_hardware_for_a_profile(client: Client) -> None:
    snap = structured(await client.call_tool("detect_hardware", {"profile": "dgx-spark"}))
    assert snap["source"] == "profile" and snap["gpus"][0]["name"] == "NVIDIA GB10"


async def test_unknown_profile_is_an_error_result_the_agent_can_read(client: Client) -> None:
    result = await client.call_tool("detect_hardware", {"profile": "dgx-t4"})
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert "unknown hardware profile 'dgx-t4'" in text and "dgx-h100" in text


async def test_list_hardware_profiles_carries_sources(client: Client) -> None:
    briefs = structured(await client.call_tool("list_hardware_profiles", {}))["profiles"]
    h100 = next(p for p in briefs if p["name"] == "dgx-h100")
    assert h100["gpus"].startswith("8 x NVIDIA H100 80GB HBM3, 80 GiB") and h100["memory_gib"] > 1000
    profiles = structured(await client.call_tool("list_hardware_profiles", {"detail": "full"}))["specs"]
    assert [p["name"] for p in profiles] == [b["name"] for b in briefs]
    spark = next(p for p in profiles if p["name"] == "dgx-spark")
    assert spark["cpu"]["cores"] == {"value": 20, "source": spark["cpu"]["cores"]["source"]}
    assert spark["gpu"]["memory_bandwidth_gb_s"]["source"]


async def test_check_gpu_availability_on_a_recorded_machine(settings: Settings, machine: Any) -> None:
    async with Client(build_server(settings, nvml=machine("dgx-h100"))) as c:
        result = structured(await c.call_tool("check_gpu_availability", {"min_free_memory_gib": 20}))
    assert result["free_gpus"] == [0, 1, 2, 4, 6]


async def test_out_of_range_argument_is_rejected_naming_the_field(client: Client) -> None:
    result = await client.call_tool("check_gpu_availability", {"max_utilization_pct": 150})
    assert result.is_error
    assert "max_utilization_pct" in result.content[0].text  # type: ignore[union-attr]


async def test_resources_and_templates(client: Client) -> None:
    resources = {str(r.uri) for r in (await client.list_resources()).resources}
    assert "hardware://snapshot" in resources
    templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
    assert "hardware://profiles/{name}" in templates
    snapshot = json.loads((await client.read_resource("hardware://snapshot")).contents[0].text)  # type: ignore[union-attr]
    assert snapshot["source"] == "host"
    profile = json.loads((await client.read_resource("hardware://profiles/dgx-b200")).contents[0].text)  # type: ignore[union-attr]
    assert profile["gpu"]["count"]["value"] == 8


async def test_unknown_profile_resource_is_not_found(settings: Settings) -> None:
    async with Client(build_server(settings)) as c:
        with pytest.raises(MCPError) as err:
            await c.read_resource("hardware://profiles/nope")
    assert err.value.error.code == -32602
    assert "unknown hardware profile 'nope'" in err.value.error.message


async def test_gpu_health_check_prompt(client: Client) -> None:
    prompts = {p.name: p for p in (await client.list_prompts()).prompts}
    assert prompts["gpu_health_check"].description
    got = await client.get_prompt("gpu_health_check", {"min_free_memory_gib": "8"})
    assert "min_free_memory_gib=8" in got.messages[0].content.text  # type: ignore[union-attr]


async def test_tune_spark_job_prompt_follows_the_evidence_it_has(client: Client) -> None:
    with_log = await client.get_prompt("tune_spark_job", {"event_log": "/data/app-1.zstd", "hardware": "dgx-h100"})
    text = with_log.messages[0].content.text  # type: ignore[union-attr]
    assert "analyze_event_log with path='/data/app-1.zstd'" in text and "hardware='dgx-h100'" in text
    without = await client.get_prompt("tune_spark_job", {"data_size": "2TB"})
    text = without.messages[0].content.text  # type: ignore[union-attr]
    assert "estimate_resources with data_size='2TB'" in text and "analyze_event_log" not in text


async def test_diagnose_spark_failure_prompt_names_the_tools_in_order(client: Client) -> None:
    got = await client.get_prompt("diagnose_spark_failure", {"log": "/logs/driver.log", "plan": "/plans/q1.txt",
                                                             "hardware": "dgx-h100"})
    text = got.messages[0].content.text  # type: ignore[union-attr]
    assert "diagnose_log with path='/logs/driver.log', hardware='dgx-h100'" in text
    assert text.index("diagnose_log") < text.index("analyze_query_plan with path='/plans/q1.txt'") < text.index("check_spark_config")
    without_plan = await client.get_prompt("diagnose_spark_failure", {"log": "/logs/driver.log"})
    assert "ask for its EXPLAIN output" in without_plan.messages[0].content.text  # type: ignore[union-attr]


async def test_completion_offers_profile_names_and_rule_ids(client: Client) -> None:
    from mcp.types import PromptReference, ResourceTemplateReference

    profiles = await client.complete(ResourceTemplateReference(type="ref/resource", uri="hardware://profiles/{name}"),
                                     {"name": "name", "value": "dgx-h"})
    assert profiles.completion.values and all(v.startswith("dgx-h") for v in profiles.completion.values)
    assert "dgx-h100" in profiles.completion.values
    rules = await client.complete(ResourceTemplateReference(type="ref/resource", uri="spark://rules/{rule_id}"),
                                  {"name": "rule_id", "value": ""})
    assert len(rules.completion.values) >= 30
    hardware = await client.complete(PromptReference(type="ref/prompt", name="tune_spark_job"),
                                     {"name": "hardware", "value": "dgx-sp"})
    assert hardware.completion.values == ["dgx-spark"]
    nothing = await client.complete(PromptReference(type="ref/prompt", name="tune_spark_job"),
                                    {"name": "data_size", "value": "5"})
    assert nothing.completion.values == []
