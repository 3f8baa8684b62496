"""Emitted configurations are real: every key is one Spark or RAPIDS knows, and Spark accepts the values."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client

from dgx_spark_mcp.cli import main
from dgx_spark_mcp.hardware import list_profiles
from dgx_spark_mcp.optimizers import keys
from dgx_spark_mcp.optimizers.config import TuneRequest, optimize
from dgx_spark_mcp.optimizers.models import DeployMode, SparkConfig, Workload

from ..conftest import structured

# Keys that need what a local test session cannot have: the RAPIDS jar on the class path
# (plugin, its shuffle manager and Kryo registrator) or a cluster manager handing out GPUs
# (with GPU resource amounts set, local tasks would wait forever for GPU addresses).
NEEDS_CLUSTER = ("spark.plugins", "spark.shuffle.manager", "spark.kryo.registrator", "spark.executor.resource.",
                 "spark.task.resource.")
READBACK = Path(__file__).with_name("spark_readback.py")


def _every_configuration() -> list[SparkConfig]:
    out = []
    for profile in list_profiles():
        for workload in Workload:
            for deploy in DeployMode:
                out.append(optimize(TuneRequest(
                    workload=workload, data_size="3TB", hardware=profile.name, deploy_mode=deploy,
                    nodes=1 if deploy is DeployMode.LOCAL else 4, gpu="on" if profile.gpu else "off",
                    spark_version="3.5.1")))
    return out


def test_every_emitted_key_is_a_real_spark_or_rapids_key() -> None:
    emitted = {key for c in _every_configuration() for key in c.conf}
    unknown = sorted(k for k in emitted if not keys.is_known(k))
    assert not unknown, f"keys neither Spark {keys.spark_keys_version()} nor RAPIDS knows: {unknown}"
    assert len(emitted) > 50


@pytest.mark.slow
def test_a_local_session_starts_with_the_emitted_values_and_reads_them_back() -> None:
    configs = [
        optimize(TuneRequest(data_size="2GB", deploy_mode="local")),  # this machine, as a user would run it
        optimize(TuneRequest(data_size="3TB", hardware="generic-cpu-server", deploy_mode="yarn", nodes=8)),
        optimize(TuneRequest(data_size="200GB", hardware="generic-cpu-server", deploy_mode="kubernetes",
                             workload="streaming", nodes=2)),
        optimize(TuneRequest(data_size="1TB", hardware="dgx-h100", deploy_mode="kubernetes", nodes=2,
                             workload="ml-training", spark_version="3.5.1")),
        optimize(TuneRequest(data_size="100GB", hardware="dgx-spark", spark_version="3.5.1")),
    ]
    wanted = [{k: v for k, v in c.conf.items() if not k.startswith(NEEDS_CLUSTER)} for c in configs]
    run = subprocess.run([sys.executable, str(READBACK)], input=json.dumps(wanted), capture_output=True,
                         text=True, timeout=420)
    assert run.returncode == 0, run.stderr[-3000:]
    for conf, seen in zip(wanted, json.loads(run.stdout), strict=True):
        assert seen == conf


@pytest.mark.anyio
async def test_tool_and_cli_give_the_same_configuration(client: Client, capsys: pytest.CaptureFixture[str]) -> None:
    args = {"data_size": "1.5TB", "hardware": "dgx-h100", "nodes": 4, "deploy_mode": "kubernetes",
            "workload": "sql-analytics", "spark_version": "3.5.1", "output": "k8s"}
    from_tool = structured(await client.call_tool("optimize_spark_config", args))
    assert main(["tune", "--data-size", "1.5TB", "--hardware", "dgx-h100", "--nodes", "4", "--deploy-mode",
                 "kubernetes", "--workload", "sql-analytics", "--spark-version", "3.5.1", "--output", "k8s", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == from_tool
    assert from_tool["gpu_enabled"] and from_tool["rendered"].startswith("apiVersion:")


@pytest.mark.anyio
async def test_tool_errors_reach_the_agent_as_messages(client: Client) -> None:
    result = await client.call_tool("optimize_spark_config", {"data_size": "1TB", "hardware": "generic-cpu-server",
                                                              "gpu": "on"})
    assert result.is_error and "no usable NVIDIA GPU" in result.content[0].text


def test_cli_prints_one_form_on_request(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tune", "--data-size", "1TB", "--hardware", "dgx-h100", "--output", "submit"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("spark-submit") and "--conf spark.plugins=com.nvidia.spark.SQLPlugin" in out
    assert main(["tune", "--data-size", "1TB", "--output", "k8s"]) == 2
    assert "deploy_mode 'kubernetes'" in capsys.readouterr().err
