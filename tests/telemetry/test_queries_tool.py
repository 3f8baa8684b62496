"""The telemetry tools and the telemetry://gpus resource through the in-process MCP client: what an agent reads."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from dgx_spark_mcp.server import build_server
from dgx_spark_mcp.settings import Settings

from ..conftest import structured
from .bigcsv import write_long_csv
from .test_queries import fill_store

pytestmark = pytest.mark.anyio

SUMMARY_BUDGET = 2_500
"""The most a default answer may cost an agent (o200k_base tokens), whatever the store holds."""


def tokens(result: Any) -> int:
    """As bench/agent_tokens.py counts: the larger of the text blocks and the structured content."""
    import warnings

    with warnings.catch_warnings():  # bpe_openai reads its tables with importlib.resources' deprecated open_binary
        warnings.simplefilter("ignore", DeprecationWarning)
        import bpe_openai

        encoding = bpe_openai.get_encoding("o200k_base")
    text = "\n".join(b.text for b in result.content if b.type == "text")
    data = json.dumps(result.structured_content, separators=(",", ":"), ensure_ascii=False)
    return max(len(encoding.encode(text)), len(encoding.encode(data)))


@pytest.fixture
async def tclient(settings: Settings) -> AsyncIterator[Client]:
    fill_store(settings)
    async with Client(build_server(settings), raise_exceptions=True) as c:
        yield c


async def test_the_tools_are_listed_read_only_and_the_merged_ones_are_gone(tclient: Client) -> None:
    tools = {t.name: t for t in (await tclient.list_tools()).tools}
    for name in ("list_gpus", "query_telemetry", "telemetry_report"):
        assert tools[name].annotations is not None and tools[name].annotations.read_only_hint
        assert "spark_master" not in tools[name].input_schema["properties"]
    assert "list_hosts" not in tools and "plot_telemetry" not in tools


async def test_list_gpus_by_gpu_and_by_host_with_pages(tclient: Client) -> None:
    gpus = structured(await tclient.call_tool("list_gpus", {"limit": 2}))
    assert [g["uuid"] for g in gpus["gpus"]] == ["GPU-aaaa-0", "GPU-aaaa-1"] and gpus["total"] == 3
    rest = structured(await tclient.call_tool("list_gpus", {"limit": 2, "cursor": gpus["next_cursor"]}))
    assert [g["uuid"] for g in rest["gpus"]] == ["GPU-bbbb-0"] and "next_cursor" not in rest
    hosts = structured(await tclient.call_tool("list_gpus", {"by": "host"}))
    assert [h["host"] for h in hosts["hosts"]] == ["dgx-a", "gb10"] and "gpus" not in hosts
    wrong = await tclient.call_tool("list_gpus", {"by": "host", "cursor": gpus["next_cursor"]})
    assert wrong.is_error and "other arguments" in wrong.content[0].text  # type: ignore[union-attr]


async def test_query_summary_full_and_buckets(tclient: Client) -> None:
    summary = structured(await tclient.call_tool("query_telemetry", {"gpus": "gb10:0", "metrics": ["power"]}))
    assert summary["detail"] == "summary" and summary["stats"][0]["stats"]["power"] == [180, 95, 95, 95, 95]
    series = structured(await tclient.call_tool("query_telemetry", {
        "gpus": "gb10:0", "metrics": ["power"], "bucket": "10m", "aggregates": ["max"], "detail": "full"}))
    assert series["columns"] == ["ts", "max", "samples"]
    assert series["series"] == [{"uuid": "GPU-bbbb-0", "metric": "power", "rows": [
        ["2025-06-01T12:00:00Z", 95, 60], ["2025-06-01T12:10:00Z", 95, 60], ["2025-06-01T12:20:00Z", 95, 60]]}]


async def test_the_chart_comes_as_a_png_beside_the_summary(tclient: Client) -> None:
    result = await tclient.call_tool("query_telemetry", {"gpus": "dgx-a", "metrics": ["gpu_util", "power"], "chart": True})
    assert not result.is_error, result.content
    assert [c.type for c in result.content] == ["text", "image"]
    image = result.content[1]
    png = base64.b64decode(image.data)  # type: ignore[union-attr]
    assert image.mime_type == "image/png" and png.startswith(b"\x89PNG\r\n\x1a\n")  # type: ignore[union-attr]
    data = structured(result)
    assert json.loads(result.content[0].text) == data  # type: ignore[union-attr]
    assert data["chart"].startswith("PNG 1200x") and "DCGM_FI_DEV_GPU_UTIL, DCGM_FI_DEV_POWER_USAGE for 2 GPU(s)" in data["chart"]
    assert [g["uuid"] for g in data["stats"]] == ["GPU-aaaa-0", "GPU-aaaa-1"]
    nothing = structured(await tclient.call_tool("query_telemetry", {"start": "2020-01-01T00:00:00Z",
                                                                      "end": "2020-01-02T00:00:00Z", "chart": True}))
    assert "chart" not in nothing and "widen start/end" in nothing["note"]


async def test_report_summary_full_pages_and_overrides(tclient: Client) -> None:
    report = structured(await tclient.call_tool("telemetry_report", {"group_by": "host"}))
    assert [t["group"] for t in report["top"]] == ["dgx-a", "gb10"] and report["totals"]["xid_errors"] == {"79": 1}
    assert "groups" not in report and report["flags"]["xid"]["count"] == 1
    page = structured(await tclient.call_tool("telemetry_report", {"detail": "full", "limit": 1}))
    assert [g["group"] for g in page["groups"]] == ["GPU-aaaa-0"] and page["groups_total"] == 3
    free = structured(await tclient.call_tool("telemetry_report", {"overrides": {"gpu_hour_usd": 0,
                                                                                 "memory_overage_usd_per_gb_hour": 0}}))
    assert free["totals"]["cost"]["total_usd"] == 0 and free["prices"]["gpu_hour_usd"] == 0
    unknown = await tclient.call_tool("telemetry_report", {"overrides": {"price": 1}})
    assert unknown.is_error and "unknown override(s) ['price']" in unknown.content[0].text  # type: ignore[union-attr]
    huge = await tclient.call_tool("telemetry_report", {"overrides": {"overhead_fraction": 9e303}})
    assert huge.is_error and "overhead_fraction 9e+303 is outside 0..100" in huge.content[0].text  # type: ignore[union-attr]


async def test_tool_errors_reach_the_agent(tclient: Client) -> None:
    bad = await tclient.call_tool("query_telemetry", {"gpus": "GPU-nope"})
    assert bad.is_error and "list_gpus" in bad.content[0].text  # type: ignore[union-attr]


async def test_gpus_resource_lists_every_gpu(tclient: Client) -> None:
    contents = (await tclient.read_resource("telemetry://gpus")).contents[0]
    assert [g["host"] for g in json.loads(contents.text)["gpus"]] == ["dgx-a", "dgx-a", "gb10"]  # type: ignore[union-attr]


async def test_default_answers_over_a_big_fleet_stay_within_the_budget(settings: Settings, tmp_path: Path) -> None:
    """400 GPUs on 50 hosts: every default answer (and the ingest's) costs at most 2,500 tokens, and a full page
    stays under 8,000."""
    path = write_long_csv(tmp_path / "fleet.csv", 400 * 4 * 60, gpus=400)
    async with Client(build_server(settings), raise_exceptions=True) as client:
        ingest = await client.call_tool("ingest_telemetry", {"path": str(path)})
        assert structured(ingest)["hosts"] == 50 and tokens(ingest) < 300
        for tool, args in [("list_gpus", {}), ("list_gpus", {"by": "host"}), ("query_telemetry", {}),
                           ("query_telemetry", {"gpus": "node-a01"}), ("telemetry_report", {}),
                           ("telemetry_report", {"group_by": "host"})]:
            result = await client.call_tool(tool, args)
            assert tokens(result) <= SUMMARY_BUDGET, (tool, args, tokens(result))
        for tool, args in [("list_gpus", {"detail": "full"}), ("query_telemetry", {"detail": "full"}),
                           ("query_telemetry", {"detail": "full", "bucket": "10s", "aggregates": ["avg", "min", "max", "p95"]}),
                           ("telemetry_report", {"detail": "full"})]:
            result = await client.call_tool(tool, args)
            assert structured(result).get("next_cursor") and tokens(result) <= 8_000, (tool, args, tokens(result))
