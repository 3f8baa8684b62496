"""Past runs: recorded once per log and application, found by the documented similarity rule."""

from __future__ import annotations

import hashlib
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from dgx_spark_mcp.errors import CouldNotDoError
from dgx_spark_mcp.optimizers.history import PastRun, content_sha256, list_runs, record_run, record_runs, similar_runs
from dgx_spark_mcp.optimizers.models import Workload
from dgx_spark_mcp.optimizers.throughput import throughput
from dgx_spark_mcp.settings import Settings
from dgx_spark_mcp.store import store_path

from ..conftest import REPO

CORPUS = REPO / "tests" / "fixtures" / "eventlogs" / "corpus"  # a copy of the shared sample corpus
GB = 10**9


def _run(app_id: str, input_gb: float, *, workload: Workload | None = Workload.SQL_ANALYTICS, gpus: int = 0,
         hardware: str | None = "dgx-h100", minutes_ago: int = 0) -> PastRun:
    """A run shaped like what the event-log analysis reads from a real application."""
    return PastRun(
        app_id=app_id, app_name=f"daily-report-{app_id}", source_sha256=hashlib.sha256(app_id.encode()).hexdigest(),
        spark_version="3.5.1", workload=workload, input_bytes=int(input_gb * GB), shuffle_read_bytes=int(input_gb * GB * 0.4),
        shuffle_write_bytes=int(input_gb * GB * 0.4), spill_bytes=0, duration_ms=1_800_000, executors=8 if gpus else 44,
        executor_cores=16 if gpus else 5, executor_memory_mib=46285, gpus=gpus, hardware=hardware,
        gpu_model="NVIDIA H100 80GB HBM3" if gpus else None,
        recorded_at=datetime(2025, 6, 1, tzinfo=UTC) - timedelta(minutes=minutes_ago),
    )


def test_recording_the_same_log_twice_stores_it_once(settings: Settings) -> None:
    run = _run("app-20250601-0001", 100)
    assert record_run(settings, run) is True
    assert record_run(settings, run.model_copy(update={"recorded_at": datetime.now(UTC)})) is False
    assert list_runs(settings) == [run]  # the first recording is kept, field for field


def test_the_run_id_is_stable_for_a_log_and_application() -> None:
    a, b = _run("app-1", 10), _run("app-1", 99)
    assert a.run_id == b.run_id != _run("app-2", 10).run_id


def test_a_failed_insert_leaves_the_table_unchanged(settings: Settings) -> None:
    record_run(settings, _run("app-before", 10))
    # model_construct skips validation, as a caller bypassing the model would: the table's CHECK still refuses it.
    bad = PastRun.model_construct(**{**_run("app-bad", 10).model_dump(exclude={"run_id"}), "input_bytes": -1})
    with pytest.raises(CouldNotDoError, match="CHECK constraint"):
        record_runs(settings, [_run("app-good", 10), bad])
    assert [r.app_id for r in list_runs(settings)] == ["app-before"]


def test_a_run_with_a_bad_hash_is_refused_before_the_store() -> None:
    with pytest.raises(ValidationError, match="source_sha256"):
        PastRun(app_id="x", source_sha256="not-a-hash", input_bytes=1, duration_ms=1, executors=1, executor_cores=1)


def test_similar_runs_follow_the_documented_rule(settings: Settings) -> None:
    ratio = throughput().similar_input_ratio_max.value
    size = 100 * GB
    record_runs(settings, [
        _run("near-other-hw", 110, hardware="dgx-a100-80gb"),
        _run("near-same-hw", 150),
        _run("edge-small", 100 / ratio + 1, hardware="dgx-a100-80gb"),
        _run("too-small", 100 / ratio - 1),
        _run("too-large", 100 * ratio + 1),
        _run("other-class", 100, workload=Workload.ETL),
        _run("unknown-class", 100, workload=None),
        _run("gpu-run", 100, gpus=8),
    ])
    found = [r.app_id for r in similar_runs(settings, size, Workload.SQL_ANALYTICS, "dgx-h100", gpu=False)]
    # Same hardware first, then nearest input (|ln(input / size)|); out-of-range, other-class, unknown and GPU runs left out.
    assert found == ["near-same-hw", "near-other-hw", "edge-small"]
    assert [r.app_id for r in similar_runs(settings, size, Workload.SQL_ANALYTICS, None, gpu=True)] == ["gpu-run"]
    assert len(similar_runs(settings, size, Workload.SQL_ANALYTICS, None)) == 4
    assert len(similar_runs(settings, size, Workload.SQL_ANALYTICS, None, limit=2)) == 2


def test_equal_distance_goes_to_the_newest_run(settings: Settings) -> None:
    record_runs(settings, [_run("older", 100, minutes_ago=60), _run("newer", 100, minutes_ago=1)])
    assert [r.app_id for r in similar_runs(settings, 100 * GB, Workload.SQL_ANALYTICS, None)] == ["newer", "older"]


def test_reading_history_without_a_store_creates_nothing(settings: Settings) -> None:
    assert similar_runs(settings, GB, Workload.ETL, None) == [] and list_runs(settings) == []
    assert not store_path(settings).exists()


def test_content_hash_of_a_log_file_is_its_sha256() -> None:
    log = CORPUS / "python_udf_eventlog"
    assert content_sha256(log) == hashlib.sha256(log.read_bytes()).hexdigest()


def test_content_hash_of_a_rolling_log_directory_changes_with_any_part(tmp_path: Path) -> None:
    rolling = tmp_path / "eventlog_v2"
    shutil.copytree(CORPUS / "eventlog_v2_local-1623876083964", rolling)
    before = content_sha256(rolling)
    assert before == content_sha256(CORPUS / "eventlog_v2_local-1623876083964")
    part = sorted(rolling.iterdir())[-1]
    part.write_bytes(part.read_bytes() + b"\n")
    assert content_sha256(rolling) != before
