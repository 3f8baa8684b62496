"""Analysed event logs become past runs that estimate_resources calibrates from."""

from __future__ import annotations

import pytest
from mcp import Client

from dgx_spark_mcp.diagnosis.eventlogs.run_history import analyze_and_remember
from dgx_spark_mcp.optimizers.history import list_runs
from dgx_spark_mcp.optimizers.models import Workload
from dgx_spark_mcp.server import build_server
from dgx_spark_mcp.settings import Settings

from ..conftest import structured
from .eventlogs import CORPUS, ROLLING


def test_a_complete_log_is_kept_once(log_settings: Settings) -> None:
    first = analyze_and_remember(ROLLING, log_settings, workload=Workload.ETL, hardware="dgx-spark")
    again = analyze_and_remember(ROLLING, log_settings, workload=Workload.ETL, hardware="dgx-spark")
    assert first.history is not None and first.history.startswith("kept")
    assert again.history is not None and again.history.startswith("already")
    (run,) = list_runs(log_settings)
    assert run.app_id == first.app.app_id and run.duration_ms == first.app.duration_ms
    assert run.input_bytes == first.totals.input_bytes and run.workload is Workload.ETL
    assert run.hardware == "dgx-spark"


def test_a_truncated_log_is_not_kept(log_settings: Settings) -> None:
    result = analyze_and_remember(CORPUS / "truncated_eventlog", log_settings, workload=Workload.ETL)
    assert not result.app.complete
    assert result.history is not None and "only complete applications" in result.history
    assert list_runs(log_settings) == []


def test_a_run_without_a_workload_class_is_not_kept(log_settings: Settings) -> None:
    result = analyze_and_remember(ROLLING, log_settings)  # app name 'Spark shell' says nothing of the job
    assert result.app.name == "Spark shell"
    assert result.history is not None and "pass workload" in result.history
    assert list_runs(log_settings) == []


@pytest.mark.anyio
async def test_the_estimate_calibrates_from_an_analysed_log(log_settings: Settings) -> None:
    async with Client(build_server(log_settings), raise_exceptions=True) as client:
        analysis = structured(await client.call_tool(
            "analyze_event_log", {"path": str(CORPUS / "complex_dec_eventlog.zstd"), "workload": "etl",
                                  "hardware": "dgx-spark"}))
        size = analysis["totals"]["input_bytes"]
        assert size > 0
        estimate = structured(await client.call_tool(
            "estimate_resources", {"data_size": size, "description": "etl", "hardware": "dgx-spark", "gpu": "off"}))
    assert "calibrated" in estimate["runtime"]["method"], estimate["runtime"]
    assert analysis["app"]["app_id"] in str(estimate)
