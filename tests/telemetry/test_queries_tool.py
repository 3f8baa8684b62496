"""The telemetry tools and the telemetry://gpus resource through the in-process MCP client."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from mcp import Client

from dgx_spark_mcp.app import App
from dgx_spark_mcp.resources import telemetry as telemetry_resources
from dgx_spark_mcp.server import build_server
from dgx_spark_mcp.settings import Settings
from dgx_spark_mcp.tools import telemetry_query

from ..conftest import structured
from .test_queries import fill_store


@pytest.fixture
async def tclient(settings: Settings) -> AsyncIterator[Client]:
    fill_store(settings)
    server = build_server(settings)
    names = {t.name for t in await server.list_tools()}
    if "query_telemetry" not in names:  # until server.py registers these modules
        telemetry_query.register(server, App(settings=settings))
        telemetry_resources.register(server, App(settings=settings))
    async with Client(server, raise_exceptions=True) as c:
        yield c


@pytest.mark.anyio
async def test_tools_answer_and_are_read_only(tclient: Client) -> None:
    tools = {t.name: t for t in (await tclient.list_tools()).tools}
    for name in ("list_gpus", "list_hosts", "query_telemetry", "telemetry_report"):
        assert tools[name].annotations is not None and tools[name].annotations.read_only_hint
    gpus = structured(await tclient.call_tool("list_gpus", {}))
    assert [g["uuid"] for g in gpus["gpus"]] == ["GPU-aaaa-0", "GPU-aaaa-1", "GPU-bbbb-0"]
    hosts = structured(await tclient.call_tool("list_hosts", {}))
    assert [h["host"] for h in hosts["hosts"]] == ["dgx-a", "gb10"]
    series = structured(await tclient.call_tool("query_telemetry", {
        "host": "gb10", "gpu_index": 0, "metrics": ["power"], "bucket": "10m", "aggregates": ["max"]}))
    assert [(p["ts"], p["max"], p["samples"]) for p in series["points"]] == [
        ("2025-06-01T12:00:00Z", 95.0, 60), ("2025-06-01T12:10:00Z", 95.0, 60), ("2025-06-01T12:20:00Z", 95.0, 60)]
    report = structured(await tclient.call_tool("telemetry_report", {"group_by": "host"}))
    assert [g["group"] for g in report["groups"]] == ["dgx-a", "gb10"] and report["totals"]["xid_errors"] == {"79": 1}


@pytest.mark.anyio
async def test_tool_errors_reach_the_agent(tclient: Client) -> None:
    bad = await tclient.call_tool("query_telemetry", {"uuid": "GPU-nope"})
    assert bad.is_error and "list_gpus" in bad.content[0].text  # type: ignore[union-attr]


@pytest.mark.anyio
async def test_gpus_resource(tclient: Client) -> None:
    contents = (await tclient.read_resource("telemetry://gpus")).contents[0]
    assert [g["host"] for g in json.loads(contents.text)["gpus"]] == ["dgx-a", "dgx-a", "gb10"]  # type: ignore[union-attr]
