"""ingest_telemetry through the in-process MCP client, with its progress notifications."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client
from mcp.server import MCPServer

from dgx_spark_mcp.server import build_server
from dgx_spark_mcp.settings import Settings
from dgx_spark_mcp.telemetry.store import TelemetryStore

from ..conftest import structured


def server(settings: Settings) -> MCPServer:
    return build_server(settings)


@pytest.mark.anyio
async def test_the_tool_ingests_a_file_and_reports_progress(settings: Settings, fixture_file) -> None:  # type: ignore[no-untyped-def]
    path = fixture_file("dcgm_long_messy.csv")
    updates: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        updates.append((done, total, message))

    async with Client(server(settings), raise_exceptions=True) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        tool = tools["ingest_telemetry"]
        assert tool.annotations is not None and tool.annotations.read_only_hint is False
        assert "stored once" in (tool.description or "") and set(tool.input_schema["properties"]) == {"path", "url"}
        result = structured(await client.call_tool("ingest_telemetry", {"path": str(path)}, progress_callback=on_progress))
        again = structured(await client.call_tool("ingest_telemetry", {"path": str(path)}))
    assert result["format"] == "dcgm_long" and result["rows_stored"] == 7 and result["blanks"] == 3
    assert result["rejected"] == {"no GPU uuid": 1, "unparsable value": 1, "unparsable timestamp": 1}
    assert (again["rows_stored"], again["duplicates"]) == (0, 7)
    assert {"parsed", "committed"} <= {m for _, _, m in updates} and updates[-1][:2] == (100.0, 100.0)
    with TelemetryStore(settings).reader() as con:
        assert con.execute("SELECT count(*) FROM samples").fetchone() == (7,)


@pytest.mark.anyio
async def test_the_tool_errors_are_readable(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "notes.csv").write_text("a,b\n1,2\n")
    async with Client(server(settings), raise_exceptions=True) as client:
        both = await client.call_tool("ingest_telemetry", {"path": "x", "url": "http://127.0.0.1/metrics"})
        neither = await client.call_tool("ingest_telemetry", {})
        unknown = await client.call_tool("ingest_telemetry", {"path": str(tmp_path / "notes.csv")})
        refused = await client.call_tool("ingest_telemetry", {"url": "http://10.1.2.3:9400/metrics"})
    for result in (both, neither):
        assert result.is_error and "exactly one of path" in result.content[0].text  # type: ignore[union-attr]
    assert unknown.is_error and "not a telemetry file" in unknown.content[0].text  # type: ignore[union-attr]
    assert refused.is_error and "DGX_SPARK_MCP_SCRAPE_HOSTS" in refused.content[0].text  # type: ignore[union-attr]
