"""The tool schemas shipped in data/tool-schemas.json: equal to the tool functions, registered without importing them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client

from dgx_spark_mcp.app import App
from dgx_spark_mcp.server import build_server
from dgx_spark_mcp.settings import Settings
from dgx_spark_mcp.tools.catalog import MODULES, SCHEMAS_FILE, manifest, render
from dgx_spark_mcp.tools.schemas import slim

REPO = Path(__file__).resolve().parent.parent


def test_the_shipped_schemas_equal_what_the_tool_functions_give_now(settings: Settings) -> None:
    shipped = (REPO / "data" / SCHEMAS_FILE).read_text(encoding="utf-8")
    assert shipped == render(manifest(App(settings=settings))), (
        f"data/{SCHEMAS_FILE} is out of date: run python scripts/gen_tool_schemas.py")


@pytest.mark.anyio
async def test_tools_list_is_the_shipped_file_and_a_call_builds_the_real_tool(settings: Settings) -> None:
    shipped = json.loads((REPO / "data" / SCHEMAS_FILE).read_text(encoding="utf-8"))["tools"]
    async with Client(build_server(settings)) as client:
        listed = (await client.list_tools()).tools
        assert [t.name for t in listed] == [e["name"] for e in shipped]
        for tool, entry in zip(listed, shipped, strict=True):
            assert (tool.description, tool.input_schema, tool.output_schema) == (
                entry["description"], entry["input_schema"], entry["output_schema"])
        result = await client.call_tool("detect_hardware", {"profile": "dgx-spark"})
        assert not result.is_error and result.structured_content["source"] == "profile"
        refused = await client.call_tool("detect_hardware", {"profile": 7})  # the real tool validates
        assert refused.is_error and "profile" in refused.content[0].text  # type: ignore[union-attr]


@pytest.mark.slow
def test_starting_the_server_imports_no_tool_module(tmp_path: Path) -> None:
    code = (
        "import sys; from dgx_spark_mcp.server import build_server; from dgx_spark_mcp.settings import Settings;"
        f"build_server(Settings(home={str(tmp_path)!r}));"
        "print(sorted(m for m in sys.modules if m.startswith('dgx_spark_mcp.tools.') and m.rsplit('.', 1)[1] in "
        f"{list(MODULES)!r}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_slim_drops_titles_and_null_defaults_and_keeps_the_constraints() -> None:
    schema = {
        "title": "Args", "type": "object", "required": ["title"],
        "properties": {
            "title": {"title": "Title", "type": "string", "description": "a property named title stays"},
            "limit": {"title": "Limit", "type": "integer", "minimum": 1, "default": 20},
            "host": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None, "title": "Host"},
            "size": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            "count": {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "null"}], "description": "d"},
            "kind": {"anyOf": [{"enum": ["a", "b"], "type": "string"}, {"type": "null"}]},
            "spec": {"anyOf": [{"$ref": "#/$defs/Spec"}, {"type": "null"}], "default": None},
            "mode": {"$ref": "#/$defs/Mode", "default": "a", "description": "used once: inlined"},
            "extra": {"additionalProperties": True, "type": "object"},
            "one": {"$ref": "#/$defs/Twice"}, "two": {"$ref": "#/$defs/Twice"},
        },
        "$defs": {"Spec": {"title": "Spec", "type": "object", "properties": {"n": {"title": "N", "type": "integer"},
                                                                             "m": {"$ref": "#/$defs/Twice"}}},
                  "Mode": {"title": "Mode", "enum": ["a", "b"], "type": "string"},
                  "Twice": {"enum": [1, 2]}},
    }
    assert slim(schema) == {
        "type": "object", "required": ["title"],
        "properties": {
            "title": {"type": "string", "description": "a property named title stays"},
            "limit": {"type": "integer", "minimum": 1, "default": 20},
            "host": {"type": ["string", "null"]},
            "size": {"type": ["string", "integer"]},
            "count": {"type": ["integer", "null"], "minimum": 0, "description": "d"},
            "kind": {"enum": ["a", "b", None], "type": ["string", "null"]},
            "spec": {"anyOf": [{"$ref": "#/$defs/Spec"}, {"type": "null"}]},  # refers to another definition: kept
            "mode": {"enum": ["a", "b"], "type": "string", "default": "a", "description": "used once: inlined"},
            "extra": {"type": "object"},
            "one": {"$ref": "#/$defs/Twice"}, "two": {"$ref": "#/$defs/Twice"},  # used three times: kept
        },
        "$defs": {"Spec": {"type": "object", "properties": {"n": {"type": "integer"}, "m": {"$ref": "#/$defs/Twice"}}},
                  "Twice": {"enum": [1, 2]}},
    }


def test_every_shipped_schema_is_a_valid_json_schema(settings: Settings) -> None:
    """Slimming changes the spelling, not the contract; every answer's structured content is checked against its
    slimmed output schema by the MCP client in the tool tests."""
    import jsonschema

    for entry in manifest(App(settings=settings)).tools:
        jsonschema.Draft202012Validator.check_schema(entry.input_schema)
        if entry.output_schema is not None:
            jsonschema.Draft202012Validator.check_schema(entry.output_schema)
