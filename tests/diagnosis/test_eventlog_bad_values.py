"""Event logs with values Spark never writes: each event is applied whole or skipped and counted, never a crash.

A line that is valid JSON but holds a field of the wrong type ("App ID": 123, a string
Timestamp) is skipped like a malformed line, with the key and value in the read notes.  A task
metric no run can have (negative, or beyond 2**53) is left out and counted; its task still counts.
The property test mutates real corpus lines the way corruption and hand edits do and requires an
answer or a BadInputError from the function behind the tool, never another exception.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dgx_spark_mcp.diagnosis.eventlogs.analysis import analyze_event_log
from dgx_spark_mcp.diagnosis.eventlogs.render import render_event_log
from dgx_spark_mcp.diagnosis.eventlogs.run_history import analyze_and_remember
from dgx_spark_mcp.errors import BadInputError
from dgx_spark_mcp.optimizers.models import Workload
from dgx_spark_mcp.settings import Settings

from .eventlogs import CORPUS, SyntheticLog, raw_lines


def _log(**tasks: Any) -> SyntheticLog:
    log = SyntheticLog()
    log.stage(0, [{"ms": 1000, **tasks}, {"ms": 1200}, {"ms": 900}])
    return log


def _set(log: SyntheticLog, event: str, key: str, value: Any, inner: str | None = None) -> None:
    """Set ``key`` on the first event of type ``event`` (in its ``inner`` object)."""
    first = next(e for e in log.events if e["Event"] == event)
    (first[inner] if inner else first)[key] = value


def _write(log: SyntheticLog, path: Path, end_timestamp: Any = None) -> Path:
    lines = list(log.lines())
    if end_timestamp is not None:
        lines[-1] = json.dumps({"Event": "SparkListenerApplicationEnd", "Timestamp": end_timestamp})
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- one wrongly typed field: the event is skipped whole and named -------------------------------

WRONG_TYPES = [
    ("SparkListenerApplicationStart", "App ID", 123, None),
    ("SparkListenerApplicationStart", "Timestamp", "x", None),
    ("SparkListenerApplicationStart", "App Name", ["a"], None),
    ("SparkListenerLogStart", "Spark Version", 3.5, None),
    ("SparkListenerEnvironmentUpdate", "Java Version", 17, "JVM Information"),
    ("SparkListenerExecutorAdded", "Host", 7, "Executor Info"),
    ("SparkListenerStageCompleted", "Stage Name", 5, "Stage Info"),
    ("SparkListenerStageCompleted", "Completion Time", "later", "Stage Info"),
    ("SparkListenerJobStart", "Submission Time", "soon", None),
    ("SparkListenerJobEnd", "Completion Time", [], None),
]


@pytest.mark.parametrize(("event", "key", "value", "inner"), WRONG_TYPES)
def test_an_event_with_a_wrongly_typed_field_is_skipped_as_malformed_naming_the_key(
    tmp_path: Path, log_settings: Settings, event: str, key: str, value: Any, inner: str | None
) -> None:
    log = _log()
    _set(log, event, key, value, inner)
    result = analyze_and_remember(_write(log, tmp_path / "wrong_type"), log_settings)
    assert result.reading.malformed_lines == 1
    example = result.reading.malformed_examples[0]
    assert event in example and repr(key) in example and "unexpected shape" in example
    assert any(f.rule_id == "eventlog.malformed-lines" for f in result.findings)
    render_event_log(result)  # the CLI's text view reads every field too


def test_a_skipped_application_start_leaves_no_half_of_it_behind(tmp_path: Path, log_settings: Settings) -> None:
    log = _log()
    _set(log, "SparkListenerApplicationStart", "Timestamp", "x")
    result = analyze_event_log(_write(log, tmp_path / "half"), log_settings)
    assert result.app.app_id is None and result.app.name is None  # read before anything was set
    assert result.app.start_time is not None  # from the first event that carried a time


@pytest.mark.parametrize("end", ["2024", -5, 2**70, 1.5e12])
def test_an_application_end_without_a_usable_timestamp_leaves_the_log_incomplete(
    tmp_path: Path, log_settings: Settings, end: Any
) -> None:
    result = analyze_and_remember(_write(_log(), tmp_path / "end", end_timestamp=end), log_settings, workload=Workload.ETL)
    assert not result.app.complete and result.reading.malformed_lines == 1
    assert result.history is not None and result.history.startswith("not kept")


# --- impossible task metrics: left out and counted, the task still counts ------------------------

@pytest.mark.parametrize(("metric", "value"), [
    ("memory_spilled", -5), ("disk_spilled", 2**63 + 5), ("disk_spilled", 2**70), ("input", -7), ("input", 2**62),
    ("shuffle_read", -1), ("run_ms", -(2**62)),
])
def test_an_impossible_task_metric_is_left_out_and_counted(
    tmp_path: Path, log_settings: Settings, metric: str, value: int
) -> None:
    result = analyze_and_remember(_write(_log(**{metric: value}), tmp_path / "impossible"), log_settings,
                                  workload=Workload.ETL)
    assert result.totals.tasks == 3 and result.reading.malformed_lines == 0
    assert result.reading.ignored_values == 1 and str(value) in result.reading.ignored_examples[0]
    totals = result.totals
    assert 0 <= min(totals.input_bytes, totals.memory_spilled_bytes, totals.disk_spilled_bytes, totals.shuffle_read_bytes)
    assert max(totals.input_bytes, totals.disk_spilled_bytes, totals.executor_run_time_ms) < 2**53
    assert any(f.rule_id == "eventlog.impossible-values" for f in result.findings)
    assert result.history is not None and "run history" in result.history


def test_a_task_with_an_impossible_launch_time_is_skipped_not_clamped(tmp_path: Path, log_settings: Settings) -> None:
    log = _log()
    task = next(e for e in log.events if e["Event"] == "SparkListenerTaskEnd")
    task["Task Info"]["Launch Time"] = -1
    result = analyze_event_log(_write(log, tmp_path / "launch"), log_settings)
    assert result.totals.tasks == 2 and result.reading.malformed_lines == 1
    assert "SparkListenerTaskEnd is not readable" in result.reading.malformed_examples[0]


def test_resource_amounts_and_numeric_properties_that_are_not_numbers_do_not_size_the_what_if(
    tmp_path: Path, log_settings: Settings
) -> None:
    log = SyntheticLog(properties={"spark.executor.instances": "²", "spark.executor.cores": "9" * 30})
    log.events.append({"Event": "SparkListenerResourceProfileAdded", "Resource Profile Id": 0,
                       "Executor Resource Requests": {"cores": {"Resource Name": "cores", "Amount": "NaN"}}})
    log.stage(0, [{"ms": 100}])
    log.events = [e for e in log.events if e["Event"] != "SparkListenerExecutorAdded"]  # no Total Cores logged
    result = analyze_event_log(log.write(tmp_path / "nan"), log_settings)
    assert result.what_if is not None and (result.what_if.observed_executors, result.what_if.cores_per_executor) == (1, 1)
    assert "SparkListenerResourceProfileAdded" in result.reading.malformed_examples[0]


def test_a_line_nested_thousands_deep_is_malformed_not_a_recursion_error(tmp_path: Path, log_settings: Settings) -> None:
    lines = list(_log().lines())
    lines.insert(3, '{"Event":"SparkListenerJobStart","Job ID":9,"Properties":' + "[" * 5000 + "]" * 5000 + "}")
    lines.insert(3, '{"Other": ' + "[" * 5000 + "]" * 5000 + "}")
    path = tmp_path / "deep"
    path.write_text("\n".join(lines) + "\n")
    result = analyze_event_log(path, log_settings)
    assert result.reading.malformed_lines == 2 and result.totals.tasks == 3


# --- the property: mutated corpus lines give an answer or a BadInputError -----------------------

CORPUS_LOGS = ["python_udf_eventlog", "java_udf_eventlog", "truncated_eventlog", "spark2-eventlog.zstd"]
ODD_VALUES = st.one_of(
    st.sampled_from([None, "", "x", "²", "NaN", [], {}, [1], {"a": 1}, True, 1.5, 0, -1, -(2**63), 2**63, 2**70, 10**30]),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key and list index of a decoded event (lists: their first items), depth first."""
    if isinstance(value, dict):
        items: list[tuple[Any, Any]] = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value[:3]))
    else:
        return
    for key, child in items:
        yield (*prefix, key)
        yield from _paths(child, (*prefix, key))


@st.composite
def _mutated_line(draw: st.DrawFn, line: bytes) -> bytes:
    how = draw(st.sampled_from(["value", "value", "delete", "cut"]))
    try:
        event = json.loads(line)
    except ValueError:  # cut by an earlier mutation (or the corpus' own cut line)
        how = "cut"
    if how == "cut":
        return line[: draw(st.integers(0, len(line)))]
    path = draw(st.sampled_from(list(_paths(event)) or [("Event",)]))
    parent = event
    for step in path[:-1]:
        parent = parent[step]
    if how == "delete" and isinstance(parent, dict):
        parent.pop(path[-1], None)
    else:
        parent[path[-1]] = draw(ODD_VALUES)
    compact = draw(st.booleans())  # Spark's own form takes the reader's fast path; json.dumps' the other
    return json.dumps(event, separators=(",", ":") if compact else None).encode()


@st.composite
def _mutated_log(draw: st.DrawFn) -> bytes:
    lines = list(raw_lines(CORPUS / draw(st.sampled_from(CORPUS_LOGS))))
    for _ in range(draw(st.integers(1, 6))):
        index = draw(st.integers(0, len(lines) - 1))
        lines[index] = draw(_mutated_line(lines[index]))
    return b"\n".join(lines) + b"\n"


@settings(max_examples=100, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(_mutated_log())
def test_mutated_corpus_logs_give_an_analysis_or_a_bad_input_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory(prefix="eventlog-mutation-") as folder:
        home = Path(folder)
        path = home / "mutated_eventlog"
        path.write_bytes(data)
        settings_ = Settings(home=home / "home", allowed_roots=[str(home)], log_level="WARNING")
        try:
            result = analyze_and_remember(path, settings_)
        except BadInputError as exc:
            assert "mutated_eventlog" in str(exc)
            return
        render_event_log(result)
        json.loads(result.model_dump_json())  # what the tool sends: finite numbers, valid JSON
        assert result.reading.malformed_lines <= result.reading.lines
