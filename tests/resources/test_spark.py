"""Resources spark://best-practices and spark://rules/{rule_id}."""

from __future__ import annotations

import json

import pytest
from mcp import Client, MCPError

from dgx_spark_mcp.optimizers.rules import list_rules
from dgx_spark_mcp.server import build_server
from dgx_spark_mcp.settings import Settings


async def _read(client: Client, uri: str) -> dict:  # type: ignore[type-arg]
    return json.loads((await client.read_resource(uri)).contents[0].text)  # type: ignore[union-attr]


@pytest.mark.anyio
async def test_best_practices_lists_every_rule_compactly(client: Client) -> None:
    index = await _read(client, "spark://best-practices")
    assert [r["id"] for r in index["rules"]] == [r.id for r in list_rules()]
    first = index["rules"][0]
    assert first["uri"] == f"spark://rules/{first['id']}" and "rationale" not in first


@pytest.mark.anyio
async def test_one_rule_in_full_by_id_or_alias(client: Client) -> None:
    rule = await _read(client, "spark://rules/executor-memory-band")
    critical = rule["thresholds"]["critical"]
    assert (critical["value"], critical["unit"]) == (25.0, "GiB") and "dr-elephant" in critical["source"]
    assert {c["expect"] for c in rule["cases"]} == {"pass", "fail"}
    alias = await _read(client, "spark://rules/drelephant-executor-memory")
    assert alias["id"] == "executor-memory-band"


@pytest.mark.anyio
async def test_unknown_rule_is_not_found_naming_close_ids(settings: Settings) -> None:
    async with Client(build_server(settings)) as c:
        with pytest.raises(MCPError) as err:
            await c.read_resource("spark://rules/executor-memory-bnd")
    assert err.value.error.code == -32602
    assert "executor-memory-band" in err.value.error.message
