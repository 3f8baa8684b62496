"""analyze_event_log's summary: the answer first (app, totals, top findings and failure groups, the longest
stages, what-if and recommendations in brief), the lists on request; the full answer names each document once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from mcp import Client

from dgx_spark_mcp.diagnosis.eventlogs.analysis import analyze_event_log
from dgx_spark_mcp.diagnosis.eventlogs.models import SUMMARY_STAGES
from dgx_spark_mcp.diagnosis.eventlogs.run_history import analyze_and_remember
from dgx_spark_mcp.diagnosis.eventlogs.tuning import thresholds
from dgx_spark_mcp.settings import Settings
from dgx_spark_mcp.tools.answers import compact

from ..conftest import structured
from .answer_size import answer_tokens
from .eventlogs import CORPUS, ROLLING, many_stage_log

GPU_OOM = CORPUS / "gpu_oom_eventlog.zstd"


def test_a_summary_of_many_stages_fits_a_small_answer_and_keeps_the_first_finding(log_settings: Settings,
                                                                                   tmp_path: Path) -> None:
    path = many_stage_log(tmp_path / "app-many-stages", stages=60, tasks_per_stage=100)
    full = analyze_event_log(path, log_settings)
    summary = analyze_event_log(path, log_settings, detail="summary")
    assert answer_tokens(summary) <= 2_500 < answer_tokens(full)
    assert summary.findings[0] == full.findings[0]
    assert [f.rule_id for f in summary.findings] == [f.rule_id for f in full.findings[: len(summary.findings)]]
    assert summary.more and "more findings" in summary.more and "a larger limit" in summary.more
    assert summary.totals == full.totals and summary.stages_total == full.stages_total == 60


def test_the_summary_leaves_out_the_lists_and_the_documents(log_settings: Settings) -> None:
    data = compact(analyze_event_log(GPU_OOM, log_settings, detail="summary"))
    assert not {"reading", "jobs", "stages", "sql", "references"} & set(data)
    assert "properties" not in data["app"] and "listed" not in data["executors"]
    assert "method" not in data["what_if"] and "stage_ids" not in data["critical_path"]
    assert data["recommendations"] and all(set(c) <= {"key", "current_value", "recommended_value", "reason"}
                                           for c in data["recommendations"])
    assert data["app"]["gpu"]["rapids_detected"] and "evidence" not in data["app"]["gpu"]


def test_the_summary_lists_the_longest_stages_in_brief(log_settings: Settings) -> None:
    full = analyze_event_log(GPU_OOM, log_settings, limit=1000)
    summary = analyze_event_log(GPU_OOM, log_settings, detail="summary")
    longest = sorted(full.stages, key=lambda s: -(s.duration_ms or 0))[:SUMMARY_STAGES]
    assert [(s.stage_id, s.duration_ms) for s in summary.costliest_stages] == [(s.stage_id, s.duration_ms)
                                                                                for s in longest]
    first = summary.costliest_stages[0]
    assert first.spilled_bytes == longest[0].memory_spilled_bytes + longest[0].disk_spilled_bytes
    assert first.failure_reason is not None and len(first.failure_reason) <= 160


def test_a_failure_groups_message_is_said_once(log_settings: Settings) -> None:
    summary = analyze_event_log(GPU_OOM, log_settings, detail="summary")
    full = analyze_event_log(GPU_OOM, log_settings)
    oom = next(g for g in summary.task_failures if g.category == "gpu_oom")
    assert oom.message == "" and any(full.task_failures[0].message in f.message for f in summary.findings)
    assert oom.count == full.task_failures[0].count and oom.stage_ids == full.task_failures[0].stage_ids


def test_the_what_if_shows_about_half_once_twice_and_five_times_the_observed_count(log_settings: Settings) -> None:
    full = analyze_event_log(GPU_OOM, log_settings)
    summary = analyze_event_log(GPU_OOM, log_settings, detail="summary")
    assert full.what_if is not None and summary.what_if is not None
    observed = full.what_if.observed_executors
    shown = [p.executors for p in summary.what_if.points]
    assert observed in shown and len(shown) <= 4 < len(full.what_if.points)
    assert {p.executors: p for p in full.what_if.points}[observed] in summary.what_if.points
    asked = analyze_event_log(GPU_OOM, log_settings, [1, 2, 3, 4, 5, 6], detail="summary")
    assert asked.what_if is not None and [p.executors for p in asked.what_if.points] == [1, 2, 3, 4, 5, 6]


def test_the_full_answer_names_each_recommendations_document_once_by_the_thresholds_id(log_settings: Settings) -> None:
    full = analyze_event_log(GPU_OOM, log_settings)
    assert full.recommendations and all(c.reference is None and c.ref in full.references for c in full.recommendations)
    assert full.references == {ref: thresholds().references[ref] for ref in full.references}
    assert len({c.ref for c in full.recommendations}) < len(full.recommendations)  # shared documents, named once


def test_an_incomplete_log_says_why_in_the_summary(log_settings: Settings, tmp_path: Path) -> None:
    path = many_stage_log(tmp_path / "cut", stages=5, tasks_per_stage=10)
    path.write_text("\n".join(path.read_text().splitlines()[:-1]) + "\n")  # no ApplicationEnd
    summary = analyze_event_log(path, log_settings, detail="summary")
    assert not summary.app.complete and summary.app.completeness and "Partial results" in summary.app.completeness
    complete = analyze_event_log(ROLLING, log_settings, detail="summary")
    assert complete.app.complete and complete.app.completeness is None


def test_the_run_history_is_fed_from_the_full_analysis_whatever_the_detail(log_settings: Settings) -> None:
    summary = analyze_and_remember(GPU_OOM, log_settings, detail="summary")
    assert summary.history and "run history as" in summary.history and not summary.app.properties
    again = analyze_and_remember(GPU_OOM, log_settings, detail="full")
    assert again.history and again.history.startswith("already in the run history")


@pytest.mark.anyio
async def test_the_tool_answers_the_summary_unless_asked_for_everything(client: Client, tmp_path: Path) -> None:
    shutil.copyfile(GPU_OOM, tmp_path / GPU_OOM.name)
    path = str(tmp_path / GPU_OOM.name)
    summary = structured(await client.call_tool("analyze_event_log", {"path": path}))
    full = structured(await client.call_tool("analyze_event_log", {"path": path, "detail": "full"}))
    assert "costliest_stages" in summary and "stages" not in summary and "more" in summary
    assert "stages" in full and "costliest_stages" not in full and "reading" in full
    assert summary["findings"][0] == full["findings"][0]
    refused = await client.call_tool("analyze_event_log", {"path": path, "executor_counts": [0, 200_000]})
    assert refused.is_error and "from 1 to 100,000" in refused.content[0].text  # type: ignore[union-attr]
