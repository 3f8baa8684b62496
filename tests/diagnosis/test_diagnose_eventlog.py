"""diagnose_log on Spark event logs: one finding per cause, evidence that points at events.

A failed job is wrapper evidence of the failure it failed of (not a finding of its own), killed
tasks are reported once, evidence carries what an event log has (the events' lines, first and
last occurrence, job, stage and task ids), titles are for people, and a log that stops before
the application did says so instead of calling the run healthy.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dgx_spark_mcp.diagnosis.logs.diagnose import DiagnoseResult, diagnose_log
from dgx_spark_mcp.diagnosis.reading.codecs import LogLines
from dgx_spark_mcp.settings import Settings

from ..conftest import REPO

CORPUS = REPO / "tests" / "fixtures" / "eventlogs" / "corpus"
PYSPARK = REPO / "tests" / "fixtures" / "diagnosis" / "labelled" / "pyspark"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", allowed_roots=[str(tmp_path), str(CORPUS), str(PYSPARK)],
                    log_level="WARNING")


def _lines(path: Path) -> list[bytes]:
    return list(LogLines(path))


def _event(lines: list[bytes], number: int) -> dict[str, object]:
    event = json.loads(lines[number - 1])
    assert isinstance(event, dict)
    return event


def _human_titles(result: DiagnoseResult) -> None:
    for finding in result.findings:
        assert "eventlog" not in finding.title.lower() and finding.title != finding.rule_id, finding.title
        assert finding.title[:1].isupper(), finding.title


def test_failed_jobs_are_wrapper_evidence_of_the_cause_not_a_finding(settings: Settings) -> None:
    result = diagnose_log(CORPUS / "gpu_oom_eventlog.zstd", settings)
    assert not any(f.rule_id == "eventlog.failed-jobs" or f.category == "job_aborted" for f in result.findings)
    top = result.findings[0]
    assert (top.category, top.rule_id) == ("gpu_oom", "GPU_OOM")
    (jobs,) = [e for e in top.evidence if e.role == "wrapper"]
    assert sorted(jobs.job_ids) == [32, 33, 34, 35, 36] and jobs.occurrences == 5
    assert "It failed 5 job(s)" in top.root_cause
    lines = _lines(CORPUS / "gpu_oom_eventlog.zstd")
    for number in jobs.line_numbers:
        event = _event(lines, number)
        assert event["Event"] == "SparkListenerJobEnd" and event["Job ID"] in jobs.job_ids
    _human_titles(result)


def test_task_failure_evidence_points_at_the_task_end_events(settings: Settings) -> None:
    path = CORPUS / "gpu_oom_eventlog.zstd"
    cause = diagnose_log(path, settings).findings[0].evidence[0]
    assert cause.occurrences == 112 and cause.file == str(path)
    assert cause.first_line is not None and cause.last_line is not None and cause.first_line < cause.last_line
    assert cause.line_numbers == [cause.first_line]
    assert cause.stage_ids == [31, 34, 35] and len(cause.task_ids) == 10
    lines = _lines(path)
    for number in (cause.first_line, cause.last_line):
        event = _event(lines, number)
        assert event["Event"] == "SparkListenerTaskEnd"
        assert event["Task End Reason"]["Reason"] == "ExceptionFailure"  # type: ignore[index]
    assert _event(lines, cause.first_line)["Task Info"]["Task ID"] == cause.task_ids[0]  # type: ignore[index]


def test_killed_tasks_are_reported_once(settings: Settings) -> None:
    result = diagnose_log(CORPUS / "gpu_oom_eventlog.zstd", settings)
    killed = [f for f in result.findings if any("Stage cancelled" in line for e in f.evidence for line in e.lines)]
    assert [(f.rule_id, f.severity, f.title) for f in killed] == [("OTHER_TASK", "info", "Task killed or not committed")]
    assert killed[0].evidence[0].task_ids and killed[0].evidence[0].line_numbers


def test_an_unrecognised_task_exception_carries_its_job(settings: Settings) -> None:
    result = diagnose_log(CORPUS / "complex_dec_eventlog.zstd", settings)
    (top,) = result.findings
    assert (top.category, top.rule_id, top.severity, top.title) == (
        "task_failure", "TASK_EXCEPTION", "error", "Task failed: SparkException")
    assert [e.role for e in top.evidence] == ["cause", "wrapper"]
    assert top.evidence[1].job_ids == [17] and top.evidence[1].stage_ids == [17]


def test_a_job_message_that_names_the_cause_is_the_finding_once(settings: Settings) -> None:
    result = diagnose_log(PYSPARK / "max_result_size.eventlog.zstd", settings)
    top = result.findings[0]
    assert top.category == "max_result_size_exceeded"
    assert [(e.role, e.job_ids) for e in top.evidence] == [("cause", [0])]
    assert [f.category for f in result.findings if f.severity != "info"] == ["max_result_size_exceeded"]
    _human_titles(result)


def test_a_truncated_event_log_says_it_is_incomplete_and_claims_no_health(settings: Settings) -> None:
    result = diagnose_log(CORPUS / "truncated_eventlog", settings)
    assert result.unreadable.log_complete is False
    assert any("no SparkListenerApplicationEnd" in note for note in result.notes)
    assert not any("nothing in this log points to a failure" in note for note in result.notes)
    assert any("incomplete" in note and "does not show that the application succeeded" in note for note in result.notes)
    complete = diagnose_log(PYSPARK / "healthy.eventlog.zstd", settings)
    assert complete.unreadable.log_complete is True
    assert any("nothing in this log points to a failure" in note for note in complete.notes)


def test_a_failed_job_with_no_cause_to_carry_it_is_the_finding(tmp_path: Path, settings: Settings) -> None:
    events = [
        {"Event": "SparkListenerLogStart", "Spark Version": "3.5.1"},
        {"Event": "SparkListenerApplicationStart", "App Name": "t", "App ID": "local-1", "Timestamp": 1000, "User": "u"},
        {"Event": "SparkListenerJobStart", "Job ID": 0, "Submission Time": 1100, "Stage IDs": [0], "Properties": {},
         "Stage Infos": [{"Stage ID": 0, "Stage Attempt ID": 0, "Stage Name": "count", "Number of Tasks": 1, "Parent IDs": []}]},
        {"Event": "SparkListenerJobEnd", "Job ID": 0, "Completion Time": 1200,
         "Job Result": {"Result": "JobFailed", "Exception": {"Message": "Job 0 cancelled because SparkContext was shut down"}}},
        {"Event": "SparkListenerApplicationEnd", "Timestamp": 1300},
    ]
    path = tmp_path / "app-1"
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    (finding,) = diagnose_log(path, settings).findings
    assert (finding.category, finding.rule_id, finding.severity, finding.title) == (
        "job_aborted", "JOB_ABORTED", "error", "Job aborted")
    assert [(e.role, e.job_ids, e.line_numbers) for e in finding.evidence] == [("cause", [0], [4])]


def test_a_rolling_logs_evidence_names_the_part_that_holds_the_event(tmp_path: Path, settings: Settings) -> None:
    lines = _lines(PYSPARK / "python_udf_error.eventlog.zstd")
    folder = tmp_path / "eventlog_v2_local-1"
    folder.mkdir()
    (folder / "appstatus_local-1").touch()
    size = len(lines) // 3 + 1
    for n in range(3):
        (folder / f"events_{n + 1}_local-1").write_bytes(b"".join(line + b"\n" for line in lines[n * size:(n + 1) * size]))
    top = diagnose_log(folder, settings).findings[0]
    assert top.category == "python_udf_error"
    cause = top.evidence[0]
    assert cause.file is not None and Path(cause.file).parent == folder
    event = _event(_lines(Path(cause.file)), cause.line_numbers[0])
    assert event["Event"] == "SparkListenerTaskEnd"
