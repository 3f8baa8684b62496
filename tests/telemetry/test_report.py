"""telemetry_report over the synthetic fleet of test_queries (values checked by hand): the summary first, every row
on request, a page at a time."""

from __future__ import annotations

import math

import pytest

from dgx_spark_mcp.errors import BadInputError
from dgx_spark_mcp.settings import Settings
from dgx_spark_mcp.telemetry.engines import get_engine
from dgx_spark_mcp.telemetry.report import (
    REPORT_ARGUMENT_MAX,
    TelemetryReport,
    override_arguments,
    report_thresholds,
    telemetry_report,
)
from dgx_spark_mcp.telemetry.store import TelemetryStore, _memory_connection
from dgx_spark_mcp.telemetry.usage import usage_rows

from .test_queries import FLEET_SQL, fill_store


@pytest.fixture
def fleet(settings: Settings) -> Settings:
    fill_store(settings)
    return settings


def test_per_gpu_usage_flags_and_cost(fleet: Settings) -> None:
    report = telemetry_report(fleet, group_by="gpu", detail="full")
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
    assert report.totals.idle_gpus == [] and len(report.method) == 8 and report.thresholds["idle_util_pct"] == 5


def test_price_overrides_and_grouping_by_pod(fleet: Settings) -> None:
    report = telemetry_report(fleet, group_by="pod", gpu_hour_usd=0, memory_overage_usd_per_gb_hour=0, detail="full")
    assert [g.group for g in report.groups] == ["etl-7", "train-0", None]
    assert all(g.cost is not None and g.cost.total_usd == 0 for g in report.groups)
    assert report.prices.gpu_hour_usd == 0 and report.prices.overhead_fraction == 0.05


def test_window_without_data_and_hot_margin(fleet: Settings) -> None:
    empty = telemetry_report(fleet, start="2024-01-01T00:00:00Z", end="2024-01-02T00:00:00Z")
    assert empty.top == [] and empty.groups_total == 0 and empty.flags == {} and "no samples in the window" in empty.notes[0]
    wide = telemetry_report(fleet, hot_margin_c=60)  # GB10 has no slowdown temperature; the idle H100 at 33 C is within 92 - 60
    assert [f.uuid for f in wide.flags["hot"].gpus] == ["GPU-aaaa-1", "GPU-aaaa-0"]  # the hottest for its slowdown first


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
    largest = telemetry_report(fleet, detail="full", **{argument: REPORT_ARGUMENT_MAX[argument]})
    costs = [g.cost for g in largest.groups if g.cost is not None]
    assert all(math.isfinite(c.total_usd) for c in costs)


def test_thresholds_registry_has_sources() -> None:
    t = report_thresholds()
    assert 0 < t.idle_share.value < 1 and t.slowdown_for("NVIDIA H100 80GB HBM3") == 92
    assert all(len(s.source) > 20 for s in t.slowdown_temp_c)


def test_the_summary_answers_first_totals_flags_and_the_costliest_rows(fleet: Settings) -> None:
    report = telemetry_report(fleet)
    assert report.detail == "summary" and report.groups == [] and report.method == [] and report.groups_total == 3
    assert report.totals.gpus == 3 and report.totals.cost is not None and report.totals.xid_errors == {"79": 1}
    assert {kind: g.count for kind, g in report.flags.items()} == {"idle": 1, "hot": 1, "throttled": 1, "xid": 1,
                                                                   "memory_pressure": 1}
    assert report.flags["xid"].gpus[0].detail == "XID 79 x1" and report.flags["xid"].gpus[0].host == "dgx-a"
    assert "45 of 180 samples (25%)" in report.flags["throttled"].gpus[0].detail
    assert [t.group for t in report.top] == ["GPU-aaaa-1", "GPU-bbbb-0", "GPU-aaaa-0"]  # by cost, highest first
    full = telemetry_report(fleet, detail="full")
    assert [(t.group, t.cost_usd) for t in report.top] == [
        (g.group, g.cost.total_usd if g.cost else None) for g in sorted(full.groups, key=lambda g: -(g.cost.total_usd if g.cost else 0))]
    assert "detail='full'" in (report.more or "")


def test_full_pages_through_every_row_once_and_equals_the_whole_report(fleet: Settings) -> None:
    whole = telemetry_report(fleet, detail="full", limit=1000)
    pages: list[TelemetryReport] = [telemetry_report(fleet, detail="full", limit=2)]
    while pages[-1].next_cursor:
        pages.append(telemetry_report(fleet, detail="full", limit=2, cursor=pages[-1].next_cursor))
    assert [len(p.groups) for p in pages] == [2, 1]
    assert [g for p in pages for g in p.groups] == whole.groups
    assert pages[0].flags and pages[0].method and not pages[1].flags and not pages[1].method  # later pages: rows only
    with pytest.raises(BadInputError, match="other arguments"):
        telemetry_report(fleet, detail="full", group_by="host", cursor=pages[0].next_cursor)
    with pytest.raises(BadInputError, match="add detail='full'"):
        telemetry_report(fleet, cursor=pages[0].next_cursor)


def test_a_flag_list_of_a_row_is_cut_with_its_count(settings: Settings) -> None:
    """A model row of a big fleet lists at most 8 idle GPUs and says how many there are."""
    con = _memory_connection()
    con.execute("""CREATE TEMP TABLE rows AS SELECT TIMESTAMP '2025-06-01 12:00:00' + to_seconds(s * 10) AS ts,
        printf('GPU-%02d', g) AS uuid, 'h' || (g // 8) AS host, (g % 8)::INTEGER AS gpu_index, 'NVIDIA H100' AS model,
        'DCGM_FI_DEV_GPU_UTIL' AS metric, 0.0 AS value, NULL::VARCHAR AS pod, NULL::VARCHAR AS namespace,
        NULL::VARCHAR AS container FROM range(6) r(s), range(12) gg(g)""")
    store = TelemetryStore(settings)
    with store.ingest_lock():
        store.commit(con, "rows")
    (row,) = telemetry_report(settings, group_by="model", detail="full").groups
    assert len(row.idle_gpus) == 8 and row.flagged == {"idle": 12}
    summary = telemetry_report(settings, group_by="model")
    assert summary.flags["idle"].count == 12 and len(summary.flags["idle"].gpus) == 5


def test_the_overrides_object_names_an_unknown_key() -> None:
    assert override_arguments({"gpu_hour_usd": 3.0}) == {"gpu_hour_usd": 3.0}
    with pytest.raises(BadInputError, match=r"unknown override\(s\) \['gpu_price'\]; use any of \['idle_util_pct'"):
        override_arguments({"gpu_price": 3.0})


def test_a_second_page_reuses_the_figures_until_the_store_changes(fleet: Settings) -> None:
    """The figures of a window are kept per store state: paging does not recompute them, an ingest does."""
    engine, store = get_engine(fleet), TelemetryStore(fleet)
    first = usage_rows(engine, None, None, "uuid", 5.0, store)
    assert usage_rows(engine, None, None, "uuid", 5.0, store) is first
    assert usage_rows(engine, None, None, "host", 5.0, store) is not first
    con = _memory_connection()
    with store.ingest_lock():
        store.commit(con, f"(SELECT * REPLACE (ts + INTERVAL 1 HOUR AS ts) FROM ({FLEET_SQL}))")
    again = usage_rows(engine, None, None, "uuid", 5.0, store)
    assert again is not first and sum(r[4] for r in again.per_gpu) == 2 * sum(r[4] for r in first.per_gpu)


def test_ask_gets_the_summary_with_totals_and_flags_first(fleet: Settings) -> None:
    """The telemetry block of ask (reasoning/context.py) is the report's summary, cut to 1,500 characters."""
    from dgx_spark_mcp.reasoning.context import build_blocks

    blocks, notes = build_blocks(fleet, telemetry=True, hardware=False)
    (block,) = blocks
    assert block.id == "T1" and not notes
    assert '"totals":' in block.text and '"flags":' in block.text and '"detail":"summary"' in block.text
