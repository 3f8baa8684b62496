"""What the optimizer tools answer an agent: one rendering, summaries that say what they left out, full on request."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mcp import Client

from ..conftest import structured

pytestmark = pytest.mark.anyio

TUNE = {"data_size": "1.5TB", "hardware": "dgx-h100", "nodes": 2, "deploy_mode": "kubernetes", "spark_version": "3.5.1"}


async def test_a_configuration_comes_once_as_a_key_map_and_once_in_the_form_asked_for(client: Client) -> None:
    conf = structured(await client.call_tool("optimize_spark_config", TUNE))
    submit = structured(await client.call_tool("optimize_spark_config", {**TUNE, "output": "submit"}))
    k8s = structured(await client.call_tool("optimize_spark_config", {**TUNE, "output": "k8s"}))
    assert conf["output"] == "conf" and conf["rendered"].startswith("# spark-defaults.conf")
    assert submit["rendered"].startswith("spark-submit") and k8s["rendered"].startswith("apiVersion:")
    assert {k: v[0] for k, v in conf["config"].items()} == {k: v[0] for k, v in k8s["config"].items()}
    for answer in (conf, submit, k8s):  # no second rendering, no key map repeated beside the config
        assert not {"entries", "conf", "spark_defaults_conf", "spark_submit", "kubernetes_manifest"} & set(answer)
    # Reasons live in the key map only: the conf text is keys and values, each key on one line.
    assert "#" not in "".join(conf["rendered"].splitlines()[1:])
    for key, (value, reason, ref) in conf["config"].items():  # each key a row: [value, reason, reference id]
        assert reason and ref in conf["references"], key
        assert f"\n{key} {value}\n" in conf["rendered"] + "\n"
    urls = list(conf["references"].values())
    assert len(urls) == len(set(urls)) and {ref for _, _, ref in conf["config"].values()} == set(conf["references"])


async def test_a_reason_shared_by_two_keys_is_written_once(client: Client) -> None:
    config = structured(await client.call_tool("optimize_spark_config", {"data_size": "100GB", "hardware": "dgx-spark",
                                                                         "spark_version": "3.5.1"}))["config"]
    reasons = [reason for _, reason, _ in config.values()]
    assert len(reasons) == len(set(reasons))
    assert config["spark.rapids.memory.gpu.maxAllocFraction"][1] == "as for spark.rapids.memory.gpu.allocFraction"


async def test_a_manifest_for_a_cluster_that_is_not_kubernetes_is_refused_with_what_to_ask(client: Client) -> None:
    result = await client.call_tool("optimize_spark_config", {"data_size": "1TB", "output": "k8s"})
    assert result.is_error
    assert "deploy_mode 'kubernetes'" in result.content[0].text  # type: ignore[union-attr]


async def test_a_check_summary_cuts_findings_to_the_limit_and_says_how_to_get_the_rest(client: Client) -> None:
    config = {f"spark.mylib.option{i}": str(i) for i in range(30)} | {"spark.executor.memory": "64g"}
    summary = structured(await client.call_tool("check_spark_config", {"config": config, "limit": 5}))
    full = structured(await client.call_tool("check_spark_config", {"config": config, "detail": "full",
                                                                    "limit": 1000}))
    assert len(summary["findings"]) == 5 and summary["findings_total"] == full["findings_total"] > 5
    assert summary["findings"] == full["findings"][:5]
    assert "parsed" not in summary and len(full["parsed"]) == summary["keys_read"] == 31
    assert f"{full['findings_total'] - 5} more findings" in summary["more"] and "detail='full'" in summary["more"]
    assert "more" not in full
    # A fix's document is the finding's: named once, on the finding.
    assert all("reference" not in change for f in full["findings"] for change in f.get("fix", []))


async def test_a_key_set_a_hundred_times_is_one_short_finding(client: Client) -> None:
    text = "".join(f"spark.sql.shuffle.partitions {i}\n" for i in range(100))
    result = structured(await client.call_tool("check_spark_config", {"config": text}))
    duplicate = next(f for f in result["findings"] if f["rule_id"] == "duplicate-key")
    assert "set 100 times" in duplicate["message"] and "... 96 more ..." in duplicate["message"]
    assert "line 100" in duplicate["message"] and len(duplicate["message"]) < 400


async def test_a_log_given_to_the_checker_is_refused_and_pointed_at_diagnose_log(client: Client, tmp_path: Path) -> None:
    log = tmp_path / "driver.log"
    log.write_text("24/07/08 04:00:00 INFO SparkContext: Running Spark version 3.5.1\n" * 50)
    result = await client.call_tool("check_spark_config", {"path": str(log)})
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert "does not read as a Spark configuration" in text and "diagnose_log" in text


async def test_an_estimate_summary_keeps_the_figures_and_leaves_the_model_terms_for_full(client: Client) -> None:
    args = {"description": "nightly join of 2 TB of clicks with a dimension table", "data_size": "2TB",
            "hardware": "dgx-h100"}
    summary = structured(await client.call_tool("estimate_resources", args))
    full = structured(await client.call_tool("estimate_resources", {**args, "detail": "full"}))
    for key in ("resources", "feasibility", "cost", "intensity"):
        assert summary[key] == full[key], key
    assert summary["runtime"]["low_s"] == full["runtime"]["low_s"] and "terms" not in summary["runtime"]
    assert full["runtime"]["terms"] and full["constants"] and "constants" not in summary
    assert "scores" not in summary["workload"] and summary["workload"]["decided_by"]
    assert f"{len(full['constants'])} constants" in summary["more"]
    assert len(json.dumps(summary)) < len(json.dumps(full)) / 2
