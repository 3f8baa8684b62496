"""telemetry_report over the synthetic fleet of test_queries (values checked by hand)."""

from __future__ import annotations

import math

import pytest

from dgx_spark_mcp.errors import BadInputError
from dgx_spark_mcp.settings import Settings
from dgx_spark_mcp.telemetry.report import REPORT_ARGUMENT_MAX, report_thresholds, telemetry_report

from .test_queries import fill_store


@pytest.fixture
def fleet(settings: Settings) -> Settings:
    fill_store(settings)
    return settings


def test_per_gpu_usage_flags_and_cost(fleet: Settings) -> None:
    report = telemetry_report(fleet, group_by="gpu")
    idle, busy, gb10 = report.groups
    # 120 samples at 10 s in two runs of 60 around a 10-minute gap: 2 x 59 intervals observed.
    assert idle.gpu_hours == pytest.approx(1180 / 3600, abs=1e-6)
    assert idle.energy_kwh == pytest.approx(70.5 * 1180 / 3.6e6, abs=1e-6)
    assert [f.uuid for f in idle.idle_gpus] == ["GPU-aaaa-0"] and idle.throttled_share == 0.0
    assert busy.util_mean_pct == 94.5 and busy.util_p95_pct == 99.0
    assert [f.uuid for f in busy.hot_gpus] == ["GPU-aaaa-1"] and "92 C (stored)" in busy.hot_gpus[0].detail
    assert busy.throttled_share == 0.25 and busy.xid_errors == {"79": 1}
    assert [f.uuid for f in busy.memory_pressure_gpus] == ["GPU-aaaa-1"]
    hours = 179 * 10 / 3600
    gpu_usd = hours * 0.945 * 2.5
    overage = (79200 * 1024 * 1024 / 1e9 - 16) * 0.1 * hours
    assert busy.cost is not None and busy.cost.total_usd == round((gpu_usd + overage) * 1.05, 2)
    assert gb10.hot_gpus == [] and gb10.idle_gpus == []  # no slowdown default for GB10: noted, never hot
    assert any("NVIDIA GB10" in n for n in report.notes)
    assert report.totals.gpus == 3 and report.totals.xid_errors == {"79": 1}


def test_price_overrides_and_grouping_by_pod(fleet: Settings) -> None:
    report = telemetry_report(fleet, group_by="pod", gpu_hour_usd=0, memory_overage_usd_per_gb_hour=0)
    assert [g.group for g in report.groups] == ["etl-7", "train-0", None]
    assert all(g.cost is not None and g.cost.total_usd == 0 for g in report.groups)
    assert report.prices.gpu_hour_usd == 0 and report.prices.overhead_fraction == 0.05


def test_window_without_data_and_hot_margin(fleet: Settings) -> None:
    empty = telemetry_report(fleet, start="2024-01-01T00:00:00Z", end="2024-01-02T00:00:00Z")
    assert empty.groups == [] and "no samples in the window" in empty.notes[0]
    wide = telemetry_report(fleet, hot_margin_c=60)  # GB10 has no slowdown temperature; the idle H100 at 33 C is within 92 - 60
    assert {f.uuid for f in wide.totals.hot_gpus} == {"GPU-aaaa-0", "GPU-aaaa-1"}


def test_bad_arguments(fleet: Settings) -> None:
    with pytest.raises(BadInputError, match="group_by 'job'"):
        telemetry_report(fleet, group_by="job")
    with pytest.raises(BadInputError, match="gpu_hour_usd -1"):
        telemetry_report(fleet, gpu_hour_usd=-1)


@pytest.mark.parametrize("argument", ["gpu_hour_usd", "memory_included_gb", "memory_overage_usd_per_gb_hour",
                                      "overhead_fraction", "hot_margin_c", "idle_util_pct"])
def test_an_override_so_large_the_cost_would_overflow_is_refused(fleet: Settings, argument: str) -> None:
    """Found by fuzzing: overhead_fraction 9e303 made the cost Infinity, which JSON cannot carry (the SDK
    rejected the tool's own output)."""
    with pytest.raises(BadInputError, match=f"{argument} 9.07e\\+303 is outside 0\\.\\."):
        telemetry_report(fleet, **{argument: 9.07e303})
    largest = telemetry_report(fleet, **{argument: REPORT_ARGUMENT_MAX[argument]})
    costs = [g.cost for g in largest.groups if g.cost is not None]
    assert all(math.isfinite(c.total_usd) for c in costs)


def test_thresholds_registry_has_sources() -> None:
    t = report_thresholds()
    assert 0 < t.idle_share.value < 1 and t.slowdown_for("NVIDIA H100 80GB HBM3") == 92
    assert all(len(s.source) > 20 for s in t.slowdown_temp_c)
