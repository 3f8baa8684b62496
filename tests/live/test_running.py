"""spark_app_status against a real running PySpark application: a subprocess whose driver UI listens on a free
loopback port while a slow, skewed query runs (tests/live/running_job.py).  Found without naming it, read through
the function, the MCP tool over a real client, and the CLI; its straggler, skew, retried failure and the plan
finding of the query in flight are reported while it runs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from dgx_spark_mcp.errors import BadInputError
from dgx_spark_mcp.live.running import first_finding, status
from dgx_spark_mcp.live.running_models import AppStatus
from dgx_spark_mcp.live.transport import Deadline
from dgx_spark_mcp.server import build_server
from dgx_spark_mcp.settings import Settings
from dgx_spark_mcp.tools.answers import compact, compact_json

from .running_job import launched, output

UI_START_S = 180.0
STRAGGLER_WAIT_S = 120.0


def tokens(text: str) -> int:
    """o200k_base tokens, as bench/agent_tokens.py counts them."""
    import warnings

    with warnings.catch_warnings():  # bpe-openai 0.1.4 reads its tables through the deprecated open_binary
        warnings.simplefilter("ignore", DeprecationWarning)
        import bpe_openai

        return len(bpe_openai.get_encoding("o200k_base").encode(text))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _settings(tmp: Path, port: int, **extra: Any) -> Settings:
    return Settings(home=tmp / "home", allowed_roots=[str(tmp)], log_level="WARNING", spark_ui_ports=[port], **extra)


@pytest.fixture(scope="module")
def running_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """The application's UI port, once its straggler has run long enough to be one; the process group ends after."""
    work = tmp_path_factory.mktemp("running-app")
    port = _free_port()
    with launched(port, work) as proc:
        settings = _settings(work, port)
        started = time.monotonic()
        while True:  # until the straggler is one: 10 s past the median and 3x it
            assert proc.poll() is None, output(work)
            assert time.monotonic() - started < UI_START_S + STRAGGLER_WAIT_S, output(work)
            try:
                answer = status(settings)
            except Exception:  # noqa: BLE001 - not up yet: the UI answers some seconds after the JVM starts
                answer = None
            if answer is not None and any(s.stragglers for s in answer.stages):
                break
            time.sleep(2)
        yield port, work


@pytest.mark.slow
def test_the_running_application_is_found_on_loopback_with_its_straggler_failure_and_plan_finding(
        running_app: tuple[int, Path]) -> None:
    port, work = running_app
    answer = status(_settings(work, port))
    assert answer.app is not None and answer.app.server == f"local-{port}" and answer.app.name == "running-skewed"
    assert answer.app.ref == f"local-{port}/{answer.app.ref.split('/')[1]}" and answer.app.spark_version

    stage = next(s for s in answer.stages if s.stragglers)
    assert (stage.tasks_done, stage.tasks_total, stage.running) == (7, 8, 1)
    assert stage.running_s is not None and stage.running_s >= stage.stragglers[0].running_s
    assert len(stage.task_s) == 6 and stage.task_s[2] > 0  # quantiles of the seven finished tasks
    straggler = stage.stragglers[0]
    assert straggler.running_s >= 10 and straggler.x_median is not None and straggler.x_median >= 3
    assert stage.skew["duration"] >= 3
    assert [j.name for j in answer.jobs] == ["skewed slow query"] and stage.stage in answer.jobs[0].stages

    assert answer.findings[0].category == "straggler" and answer.findings[0].stage == stage.stage
    assert f"task {straggler.task}" in answer.findings[0].what and answer.findings[0].fix

    failure = next(g for g in answer.failures if "deliberate failure on key 3" in g.reason)
    assert failure.category == "python_udf_error" and failure.stages == [stage.stage] and stage.failed == 1
    assert any(f.category == "python_udf_error" and "retried" in f.what for f in answer.findings)

    (query,) = answer.sql
    assert query.description == "skewed slow query" and "PYTHON_UDF" in query.findings and query.plan
    assert any(f.category == "python_udf" and f.sql == query.sql for f in answer.findings)

    assert answer.executors is not None and answer.executors.active == 1 and answer.executors.failed >= 1
    assert answer.executors.listed[0].memory_mib and answer.executors.listed[0].memory_mib[1] > 0
    assert "straggler" in answer.headline and not answer.missing
    assert tokens(compact_json(compact(answer))) <= 2_500


@pytest.mark.slow
def test_the_application_is_found_by_each_form_of_reference(running_app: tuple[int, Path]) -> None:
    port, work = running_app
    settings = _settings(work, port)
    ref = status(settings).app.ref  # type: ignore[union-attr]
    app_id = ref.split("/")[1]
    for given in (ref, app_id, f"local/{app_id}", "local", f"local-{port}"):
        answer = status(settings, given)
        assert answer.app is not None and answer.app.ref == ref, given


@pytest.mark.slow
def test_an_unknown_reference_is_an_error_naming_it_and_what_runs(running_app: tuple[int, Path]) -> None:
    port, work = running_app
    settings = _settings(work, port)
    with pytest.raises(BadInputError, match=r"no application 'app-20990101000000-0001' found") as exc:
        status(settings, "app-20990101000000-0001")
    assert f"local-{port}/" in str(exc.value) and "running-skewed" in str(exc.value)
    with pytest.raises(BadInputError, match=r"unknown Spark server 'prod'"):
        status(settings, "prod/app-1")
    with pytest.raises(BadInputError, match=r"application 'a/b/c/d'"):
        status(settings, "a/b/c/d")


def test_nothing_running_is_an_answer_saying_where_it_looked(tmp_path: Path) -> None:
    port = _free_port()
    answer = status(_settings(tmp_path, port))
    assert answer.app is None and not answer.findings
    assert answer.headline.startswith("No Spark application is running on this machine") and str(port) in answer.headline
    assert "DGX_SPARK_MCP_SPARK_SERVERS" in answer.headline
    with pytest.raises(BadInputError, match=r"no Spark driver UI answers"):
        status(_settings(tmp_path, port), "local/app-1")


@pytest.mark.slow
def test_a_deadline_that_passes_mid_call_leaves_a_partial_answer_naming_what_is_missing(
        running_app: tuple[int, Path]) -> None:
    port, work = running_app

    class AfterRequests(Deadline):
        """Time enough for ``n`` requests: each request asks once how much is left."""

        def __init__(self, n: int) -> None:
            super().__init__(60.0)
            self.n = n

        def left(self) -> float:
            self.n -= 1
            return 60.0 if self.n >= 0 else 0.0

    answer = status(_settings(work, port), deadline=AfterRequests(3))
    assert answer.app is not None and answer.missing
    assert any("deadline" in m for m in answer.missing) and "not read" in answer.headline


@pytest.mark.slow
@pytest.mark.anyio
async def test_the_mcp_tool_answers_through_a_real_client(running_app: tuple[int, Path]) -> None:
    port, work = running_app
    async with Client(build_server(_settings(work, port))) as client:
        result = await client.call_tool("spark_app_status", {})
        assert not result.is_error, result.content
        data = result.structured_content
        assert data is not None and json.loads(result.content[0].text) == data  # type: ignore[union-attr]
        assert data["findings"][0]["category"] == "straggler" and data["app"]["server"] == f"local-{port}"
        full = await client.call_tool("spark_app_status", {"app": data["app"]["ref"], "detail": "full"})
        assert not full.is_error and full.structured_content["stages"][0]["stragglers"]  # type: ignore[index]
        unknown = await client.call_tool("spark_app_status", {"app": "app-nope"})
        assert unknown.is_error and "no application 'app-nope' found" in unknown.content[0].text  # type: ignore[union-attr]


@pytest.mark.slow
def test_the_cli_prints_the_tools_json_and_a_text_for_people(running_app: tuple[int, Path]) -> None:
    port, work = running_app
    env = {k: v for k, v in os.environ.items() if not k.startswith("DGX_SPARK_MCP_")}
    env.update(DGX_SPARK_MCP_HOME=str(work / "home"), DGX_SPARK_MCP_SPARK_UI_PORTS=str(port),
               DGX_SPARK_MCP_LOG_LEVEL="WARNING")
    cli = [sys.executable, "-m", "dgx_spark_mcp", "app-status"]
    out = subprocess.run([*cli, "--json"], capture_output=True, text=True, env=env, timeout=120, check=True)
    data = json.loads(out.stdout)
    assert compact(AppStatus.model_validate(data)) == data  # the tool's structured form, nothing else
    assert data["findings"][0]["category"] == "straggler"
    text = subprocess.run(cli, capture_output=True, text=True, env=env, timeout=120, check=True).stdout
    assert "[error] straggler" in text and "SQL in flight" in text and "deliberate failure on key 3" in text
    bad = subprocess.run([*cli, "app-nope"], capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 2 and "no application 'app-nope' found" in bad.stderr


@pytest.mark.slow
def test_the_benchmark_figure_time_to_first_finding_is_the_straggler(running_app: tuple[int, Path]) -> None:
    port, work = running_app
    seconds, finding = first_finding(_settings(work, port))
    assert finding is not None and finding.category == "straggler"
    assert seconds < 10
