"""One line on where an application stands, and whether a finished one failed: read from its jobs and stages.

A History Server's listing says whether an application finished, but not whether it failed: PySpark apps
end with exit code 0 in the event log even when their script died of a failed job (seen with PySpark
4.3.0), and logs before Spark 4 carry no exit code at all.  So a finished application's jobs are read
(``/jobs``: one call, which makes the server load the application) and tallied.  A finished application
never changes, so its tally is kept for the life of the process under its last-update time.

A running application's line names its active stages: how long each has run, its tasks done, and its
stragglers, by :func:`.running_stages.is_straggler` (the definition spark_app_status uses).  That test
wants the median finished task; the line stands the stage's mean in for it (``executorRunTime`` over the
finished tasks, from the stage list already read), because taskSummary would cost each active stage
of each listed application one more call.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..errors import CouldNotDoError
from . import spark_rest
from .running_stages import is_straggler, task_elapsed_s
from .spark_time import rest_time, seconds_since, span
from .transport import Connection

__all__ = ["JobTally", "running_state", "tally_jobs"]

STAGES_SHOWN = 2
STALE_S = 600.0
"""A running application's log not updated for this long is said to be stale (its driver may be gone)."""
_CACHED = 4096
_tallies: OrderedDict[tuple[str, str, str, str], JobTally] = OrderedDict()
_lock = threading.Lock()


@dataclass(frozen=True)
class JobTally:
    jobs: int
    failed: int
    failed_tasks: int

    def line(self) -> str:
        if self.jobs == 0:
            return "no job ran"
        if self.failed == 0:
            return f"{self.jobs} job{'s' if self.jobs != 1 else ''}, none failed"
        tasks = f" ({self.failed_tasks} failed task{'s' if self.failed_tasks != 1 else ''})" if self.failed_tasks else ""
        return f"{self.failed} of {self.jobs} job{'s' if self.jobs != 1 else ''} failed{tasks}"


def tally_jobs(conn: Connection, app_id: str, attempt: str | None, updated: str) -> JobTally:
    """The application's jobs tallied (cached for a finished one under ``updated``, its last-update time)."""
    key = (conn.server.url, app_id, attempt or "", updated)
    with _lock:
        if key in _tallies:
            _tallies.move_to_end(key)
            return _tallies[key]
    jobs = spark_rest.jobs(conn, app_id, attempt)
    if not isinstance(jobs, list):
        raise CouldNotDoError(f"{conn.label} answered /jobs of {app_id} with something that is not a list")
    failed = [j for j in jobs if isinstance(j, dict) and j.get("status") == "FAILED"]
    tally = JobTally(jobs=len(jobs), failed=len(failed),
                     failed_tasks=sum(int(j.get("numFailedTasks") or 0) for j in jobs if isinstance(j, dict)))
    with _lock:
        _tallies[key] = tally
        while len(_tallies) > _CACHED:
            _tallies.popitem(last=False)
    return tally


def _stragglers(conn: Connection, app_id: str, attempt: str | None, stage: dict[str, Any], now: datetime) -> int:
    done = int(stage.get("numCompleteTasks") or 0)
    if not done or not stage.get("numActiveTasks"):
        return 0
    mean_s = float(stage.get("executorRunTime") or 0) / 1000 / done
    tasks = spark_rest.stage_tasks(conn, app_id, int(stage["stageId"]), int(stage.get("attemptId") or 0), attempt,
                                   length=200, sort_by="ID", status="running")
    count = 0
    for task in tasks if isinstance(tasks, list) else []:
        if not isinstance(task, dict) or str(task.get("status", "")).upper() != "RUNNING":
            continue
        ran = task_elapsed_s(task, now)
        if ran is not None and is_straggler(ran, mean_s):
            count += 1
    return count


def running_state(conn: Connection, app_id: str, attempt: str | None, updated: datetime | None, now: datetime,
                  local: bool) -> str:
    """``stage 12 running for 40 min (310/400 tasks, 2 stragglers)``, the longest-running active stages first."""
    stages = spark_rest.stages(conn, app_id, attempt, status="active")
    active = sorted((s for s in stages if isinstance(s, dict) and s.get("stageId") is not None),
                    key=lambda s: rest_time(s.get("submissionTime")) or now)
    parts = []
    for stage in active[:STAGES_SHOWN]:
        ran = seconds_since(stage.get("submissionTime"), now)
        late = _stragglers(conn, app_id, attempt, stage, now)
        tasks = f"{int(stage.get('numCompleteTasks') or 0)}/{int(stage.get('numTasks') or 0)} tasks"
        parts.append(f"stage {stage['stageId']} running" + (f" for {span(ran)}" if ran is not None else "")
                     + f" ({tasks}" + (f", {late} straggler{'s' if late != 1 else ''}" if late else "") + ")")
    if len(active) > STAGES_SHOWN:
        parts.append(f"{len(active) - STAGES_SHOWN} more active stage(s)")
    line = "; ".join(parts) or "no stage running (driver-side work, or waiting for executors)"
    quiet = seconds_since(updated, now)
    if not local and quiet is not None and quiet > STALE_S:
        line += f"; its log has not changed for {span(quiet)} (the driver may have died without closing it)"
    return line
