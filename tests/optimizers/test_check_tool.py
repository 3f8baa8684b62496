"""check_spark_config through the MCP client, and `dgx-spark-mcp check`: same answer, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mcp import Client

from dgx_spark_mcp.cli import main

from ..conftest import structured

SUBMIT = """#!/bin/bash
spark-submit --master yarn \\
  --executor-memory 30g \\
  --conf spark.sql.adaptive.enabled=false \\
  --conf spark.executor.memroy=8g \\
  job.py
"""


@pytest.mark.anyio
async def test_tool_checks_a_dict_and_names_rules_values_and_fixes(client: Client) -> None:
    config = {"spark.executor.memory": "30g", "spark.serializer": "org.apache.spark.serializer.JavaSerializer"}
    result = structured(await client.call_tool("check_spark_config", {"config": config}))
    rules = {f["rule_id"]: f for f in result["findings"]}
    assert "30g" in rules["executor-memory-band"]["message"]
    assert rules["java-serializer"]["fix"][0]["recommended_value"] == "org.apache.spark.serializer.KryoSerializer"
    assert result["counts"]["warning"] >= 2 and result["format"] == "json"


@pytest.mark.anyio
async def test_tool_reads_a_file_under_the_allowed_roots(client: Client, tmp_path: Path) -> None:
    script = tmp_path / "submit.sh"
    script.write_text(SUBMIT)
    result = structured(await client.call_tool("check_spark_config", {"path": str(script), "hardware": "dgx-spark"}))
    assert result["format"] == "submit" and result["language"] == "python" and result["hardware"] == "profile dgx-spark"
    lines = {f["rule_id"]: f["keys"][0].get("line") for f in result["findings"]}
    assert lines["executor-memory-band"] == 3 and lines["aqe-disabled"] == 4 and lines["unknown-key"] == 5


@pytest.mark.anyio
async def test_check_spark_config_rejects_symlink_outside_roots(client: Client, tmp_path: Path) -> None:
    link = tmp_path / "defaults.conf"
    link.symlink_to("/etc/hostname")
    result = await client.call_tool("check_spark_config", {"path": str(link)})
    assert result.is_error and "outside the allowed roots" in result.content[0].text  # type: ignore[union-attr]


@pytest.mark.anyio
async def test_config_and_path_together_are_refused(client: Client, tmp_path: Path) -> None:
    result = await client.call_tool("check_spark_config", {"config": "spark.a 1", "path": str(tmp_path)})
    assert result.is_error and "exactly one of" in result.content[0].text  # type: ignore[union-attr]


@pytest.mark.anyio
async def test_a_json_text_config_is_read_like_the_object_it_decodes_to(client: Client) -> None:
    """The SDK decodes a string argument that looks like JSON before validation: the result must not differ."""
    config = {"spark.executor.memory": "30g", "spark.executor.cores": 5}
    as_text = structured(await client.call_tool("check_spark_config", {"config": json.dumps(config), "format": "json"}))
    as_object = structured(await client.call_tool("check_spark_config", {"config": config}))
    assert as_text == as_object and as_text["format"] == "json"


@pytest.mark.anyio
@pytest.mark.parametrize(("config", "message"), [
    ('{"spark.executor.memory": {"value": "8g"}}', "config value of 'spark.executor.memory' is dict"),
    ('{"spark.executor.memory": null}', "config value of 'spark.executor.memory' is NoneType None"),
    ("[1, 2]", "config is a JSON array; give an object of key -> value"),
    ('{"a":' * 600 + "1" + "}" * 600, "config is JSON nested more than 400 levels deep"),
    ('{"a":' * 5000 + "1" + "}" * 5000, "the config is JSON nested more than 400 levels deep"),
])
async def test_a_json_text_config_that_is_no_flat_object_is_refused_naming_the_value(
    client: Client, config: str, message: str
) -> None:
    result = await client.call_tool("check_spark_config", {"config": config})
    assert result.is_error and message in result.content[0].text  # type: ignore[union-attr]
    assert "valid string" not in result.content[0].text  # type: ignore[union-attr]


@pytest.mark.anyio
async def test_a_notebook_whose_cells_are_not_a_list_is_a_readable_error(client: Client, tmp_path: Path) -> None:
    notebook = tmp_path / "broken.ipynb"
    notebook.write_text(json.dumps({"cells": 5, "nbformat": 4}))
    result = await client.call_tool("check_spark_config", {"path": str(notebook)})
    assert result.is_error and "'cells' is int, not a list" in result.content[0].text  # type: ignore[union-attr]


@pytest.mark.anyio
async def test_unbalanced_quotes_are_an_error_naming_the_line(client: Client) -> None:
    result = await client.call_tool(
        "check_spark_config", {"config": 'spark-submit --master yarn \\\n --conf "spark.a=1 \\\n app.py'}
    )
    assert result.is_error and "line 2" in result.content[0].text  # type: ignore[union-attr]


@pytest.mark.anyio
async def test_cli_json_equals_the_tool_output(
    capsys: pytest.CaptureFixture[str], client: Client, tmp_path: Path
) -> None:
    script = tmp_path / "submit.sh"
    script.write_text(SUBMIT)
    from_tool = structured(await client.call_tool(
        "check_spark_config", {"path": str(script), "hardware": "dgx-h100", "deploy_mode": "yarn"}
    ))
    assert main(["check", str(script), "--hardware", "dgx-h100", "--deploy-mode", "yarn", "--json",
                 "--allowed-roots", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out) == from_tool


def test_cli_text_for_people_and_stdin(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("spark.executor.memory 30g\nspark.executor.memroy 8g\n"))
    assert main(["check", "-"]) == 0
    out = capsys.readouterr().out
    assert "Checked a spark-defaults.conf" in out
    assert "WARNING  executor-memory-band: spark.executor.memory (line 1)" in out
    assert "fix: remove spark.executor.memroy" in out


def test_cli_exits_2_with_the_message(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import io

    assert main(["check", str(tmp_path / "missing.conf"), "--allowed-roots", str(tmp_path)]) == 2
    assert "does not exist" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("spark.executor.memory 8g\n"))
    assert main(["check", "-", "--hardware", "dgx-t4"]) == 2
    assert "unknown hardware profile 'dgx-t4'" in capsys.readouterr().err
