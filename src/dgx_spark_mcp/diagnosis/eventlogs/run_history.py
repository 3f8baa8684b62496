"""Remember analysed event logs as past runs, so ``estimate_resources`` can calibrate from them.

Only complete applications are kept: a truncated or in-progress log has no true run time.
The workload class is the one the caller gives, else the app name's class when the keyword
match is confident; a run with no class is kept out (the estimator never compares it).
A busy or broken store never fails the analysis: the result says the run was not kept; nor
does a run whose figures the history cannot hold (an executor count beyond a Java int, bytes
beyond a 64-bit integer: a corrupt log).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import ValidationError

from ...errors import CouldNotDoError
from ...files import allowed_path
from ...optimizers.history import PastRun, content_sha256, record_run
from ...optimizers.models import Workload
from ...optimizers.sizes import parse_spark_size
from ...optimizers.workload import classify_workload
from ...settings import Settings
from .analysis import analyze_event_log
from .models import DEFAULT_LIMIT, EventLogAnalysis

__all__ = ["analyze_and_remember", "past_run", "remember"]

log = logging.getLogger(__name__)


def _workload(analysis: EventLogAnalysis, given: Workload | None) -> Workload | None:
    if given is not None:
        return given
    if analysis.app.streaming:
        return Workload.STREAMING
    guess = classify_workload(analysis.app.name)
    return guess.workload if guess.source == "keywords" and guess.confidence_label != "low" else None


def past_run(analysis: EventLogAnalysis, sha256: str, workload: Workload | None, hardware: str | None) -> PastRun | None:
    """The history row for ``analysis``; None when the log cannot stand for a finished run."""
    app, totals = analysis.app, analysis.totals
    if not app.complete or not app.app_id or app.duration_ms is None:
        return None
    memory = app.properties.get("spark.executor.memory")
    try:
        memory_mib = parse_spark_size(memory, default_unit="m") // 1024**2 if memory else None
    except ValueError:
        memory_mib = None
    executors = 0 if app.local_mode else analysis.executors.max_concurrent
    cores = analysis.executors.cores_per_executor or 1
    return PastRun(
        app_id=app.app_id,
        app_name=app.name,
        source_sha256=sha256,
        spark_version=app.spark_version,
        workload=_workload(analysis, workload),
        input_bytes=totals.input_bytes,
        shuffle_read_bytes=totals.shuffle_read_bytes,
        shuffle_write_bytes=totals.shuffle_write_bytes,
        spill_bytes=totals.memory_spilled_bytes + totals.disk_spilled_bytes,
        duration_ms=app.duration_ms,
        executors=executors,
        executor_cores=cores,
        executor_memory_mib=memory_mib,
        gpus=app.gpu.executor_gpus,
        hardware=hardware,
    )


def remember(analysis: EventLogAnalysis, source: Path, settings: Settings, workload: Workload | None,
             hardware: str | None) -> str:
    """Record the run; returns the sentence the result carries about it."""
    try:
        run = past_run(analysis, content_sha256(source), workload, hardware)
    except ValidationError as exc:  # figures out of the history's range: say which, keep the analysis
        problem = exc.errors()[0]
        field = ".".join(str(part) for part in problem["loc"])
        return f"not kept in the run history: its {field} ({problem.get('input')!r:.40}) is out of range: {problem['msg']}"
    if run is None:
        return "not kept in the run history: only complete applications have a true run time"
    if run.workload is None:
        return ("not kept in the run history: its workload class is unknown (the app name says too little); "
                "pass workload so estimate_resources can calibrate from this run")
    try:
        new = record_run(settings, run)
    except CouldNotDoError as exc:
        log.warning("run history not updated: %s", exc)
        return f"not kept in the run history: {exc}"
    state = "kept" if new else "already"
    return f"{state} in the run history as {run.run_id} ({run.workload}); estimate_resources calibrates from it"


def analyze_and_remember(
    path: str | Path,
    settings: Settings,
    executor_counts: Sequence[int] | None = None,
    limit: int = DEFAULT_LIMIT,
    workload: Workload | None = None,
    hardware: str | None = None,
    detail: Literal["summary", "full"] = "full",
) -> EventLogAnalysis:
    """``analyze_event_log``, then the run kept in the history (what the tool and the CLI both do).

    The history is fed from the full analysis (a summary has no properties); a summary is cut from it after.
    """
    analysis = analyze_event_log(path, settings, executor_counts, limit)
    source = allowed_path(path, settings, directory_ok=True)
    analysis.history = remember(analysis, source, settings, workload, hardware)
    if detail == "summary":
        from .summary import event_log_summary

        return event_log_summary(analysis, limit, explicit_counts=executor_counts is not None)
    return analysis
