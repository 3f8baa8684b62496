"""spark_app_status: what a running Spark application is doing now, and what is wrong with it.

The application is read where it runs — its driver UI on this machine's loopback, found without any
setting — or, while incomplete, from a configured History Server (:mod:`.running_apps`).  Reading it
takes three rounds of REST requests, each round's requests side by side on one connection:

1. the application (which attempt, since when);
2. running jobs, active and failed stages, executors, and the SQL executions still running;
3. for the stages that hold their jobs back longest: task quantiles (taskSummary) and running tasks
   (stragglers); failed task attempts with their errors; each running query's plan.

Every request shares one budget, the settings' ``live_deadline_s``: what it leaves unread is named in
``missing`` and the rest is answered.  The lists are capped (summary / full) with their totals, so a
10,000-stage application with millions of tasks answers as briefly as a small one; ``more`` names the
call that lists more.  :func:`status` is also what the benchmark times (time to the first finding).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from ..errors import CouldNotDoError
from ..settings import Settings
from . import spark_rest
from .running_apps import Target, find_target, incomplete_elsewhere
from .running_executors import LISTED as EXECUTORS_LISTED
from .running_executors import executors_status
from .running_failures import FailedStage, failure_groups
from .running_models import ActiveJob, AppInfo, AppStatus, StatusFinding
from .running_sql import query_status, running_executions
from .running_stages import QUANTILES, round3, stage_status, submitted
from .spark_time import seconds_since, span
from .transport import Connection, Deadline, NotFound

__all__ = ["Limits", "first_finding", "status"]

T = TypeVar("T")

Detail = Literal["summary", "full"]


class Limits:
    """How much each answer reads and lists: (summary, full)."""

    DETAILED_STAGES = (5, 20)
    """Active stages whose tasks are read (oldest submitted first); the others get their counters only."""
    LISTED_STAGES = (3, 15)
    LISTED_JOBS = (3, 20)
    JOB_STAGES = (5, 10)
    """Active stage ids listed per job."""
    RUNNING_TASKS = 200
    """Running tasks read per detailed stage (earliest launched first) to find stragglers."""
    FAILED_TASKS = 20
    """Failed task attempts read per stage."""
    FAILED_STAGES = (3, 10)
    """Stages with failed attempts whose errors are read (failed stages: the latest first)."""
    QUERIES = (3, 5)
    """Running SQL executions whose plans are read."""
    FINDINGS = (6, 50)
    ALSO = (5, 10)
    """Other stages named by a per-stage finding."""
    MISSING = 5
    MISSING_CHARS = 200
    WORKERS = 8
    """Requests in flight at once on the one connection."""


SEVERITY_RANK = {"critical": 0, "error": 1, "warning": 2, "info": 3}
CATEGORY_RANK = {"executor_lost": 0, "straggler": 1, "waiting": 2, "data_skew": 3, "gc_pressure": 4,
                 "memory_pressure": 5, "spill": 6}
"""Among findings of one severity: what holds the application back now first; task failures and plan findings
come after these (a task failure of severity error ranks above every warning)."""


class _Reader:
    """Requests side by side under the call's deadline; a failed one is noted in ``missing`` and reads as None."""

    def __init__(self, conn: Connection, target: Target, deadline: Deadline, missing: list[str]) -> None:
        self.conn, self.target, self.deadline, self.missing = conn, target, deadline, missing
        self.pool = ThreadPoolExecutor(max_workers=Limits.WORKERS, thread_name_prefix="spark-status")

    def submit(self, label: str, fn: Callable[..., T], *args: Any, quiet_404: bool = False, **kwargs: Any
               ) -> Future[T | None]:
        def run() -> T | None:
            try:
                return fn(self.conn, *args, **kwargs)
            except NotFound as exc:
                if not quiet_404:
                    self.missing.append(f"{label}: {exc}")
            except CouldNotDoError as exc:
                self.missing.append(f"{label}: not read, the {self.deadline.seconds:g} s deadline "
                                    "(DGX_SPARK_MCP_LIVE_DEADLINE_S) passed" if self.deadline.expired() else
                                    f"{label}: {exc}")
            return None

        return self.pool.submit(run)

    def app_args(self) -> tuple[str, str | None]:
        return self.target.app_id, self.target.attempt


def status(settings: Settings, app: str | None = None, *, detail: Detail = "summary",
           deadline: Deadline | None = None) -> AppStatus:
    """What the application ``app`` (or the only one running on this machine) is doing now and what is wrong.

    ``deadline``: the budget of the whole call, by default the settings' ``live_deadline_s`` from now.
    """
    deadline = deadline or Deadline(settings.live_deadline_s)
    missing: list[str] = []
    target = find_target(settings, app, deadline, missing)
    if target is None:
        return _nothing_running(settings, deadline, missing)
    full = detail == "full"
    pick = 1 if full else 0
    now = datetime.now(UTC)
    with Connection(target.server, deadline=deadline, what="driver UI" if target.local else "Spark server") as conn:
        reader = _Reader(conn, target, deadline, missing)
        try:
            return _read(reader, target, now, full, pick)
        finally:
            reader.pool.shutdown(wait=True, cancel_futures=True)


def first_finding(settings: Settings, app: str | None = None) -> tuple[float, StatusFinding | None]:
    """The benchmark's figure: seconds from asking to holding the first (most important) finding, and that finding.
    One status call answers all findings at once, so this is the call's whole time."""
    started = time.perf_counter()
    result = status(settings, app)
    return time.perf_counter() - started, (result.findings[0] if result.findings else None)


def _read(reader: _Reader, target: Target, now: datetime, full: bool, pick: int) -> AppStatus:
    app_id, attempt = reader.app_args()
    jobs_f = reader.submit("running jobs", spark_rest.jobs, app_id, attempt, status="running")
    stages_f = reader.submit("active stages", spark_rest.stages, app_id, attempt, status="active")
    failed_f = reader.submit("failed stages", spark_rest.stages, app_id, attempt, status="failed")
    executors_f = reader.submit("executors", spark_rest.executors, app_id, attempt)
    sql_f = reader.submit("SQL executions", running_executions, app_id, attempt)
    jobs = [j for j in jobs_f.result() or [] if isinstance(j, dict)]
    stages = sorted((s for s in stages_f.result() or [] if isinstance(s, dict)), key=submitted)
    failed_stages = sorted((s for s in failed_f.result() or [] if isinstance(s, dict)),
                           key=lambda s: -int(s.get("stageId", -1)))
    jobs_of: dict[int, list[int]] = {}
    for job in jobs:
        for sid in job.get("stageIds") or []:
            jobs_of.setdefault(int(sid), []).append(int(job.get("jobId", -1)))

    # Round 3 (round 1 found the application): the oldest stages' tasks, failed attempts, the running queries' plans.
    detailed = stages[: Limits.DETAILED_STAGES[pick]]
    summaries = {_key(s): reader.submit(f"stage {_key(s)[0]}'s task quantiles", spark_rest.stage_task_summary, app_id,
                                        *_key(s), attempt, quantiles=QUANTILES, quiet_404=True) for s in detailed}
    running = {_key(s): reader.submit(f"stage {_key(s)[0]}'s running tasks", spark_rest.stage_tasks, app_id, *_key(s),
                                      attempt, length=Limits.RUNNING_TASKS, sort_by="ID", status="running")
               for s in detailed if int(s.get("numActiveTasks", 0)) > 0}
    cap = Limits.FAILED_STAGES[pick]
    with_failures = [(s, False) for s in stages if int(s.get("numFailedTasks", 0)) > 0][:cap]
    with_failures += [(s, True) for s in failed_stages[:cap]]
    failed_tasks = [(s, was_failed, reader.submit(f"stage {_key(s)[0]}'s failed tasks", spark_rest.stage_tasks, app_id,
                                                  *_key(s), attempt, length=Limits.FAILED_TASKS, sort_by="ID",
                                                  status="failed"))
                    for s, was_failed in with_failures]
    executions, scanned, cut = sql_f.result() or ([], 0, False)
    plans = [reader.submit(f"SQL {e.get('id')}'s plan", spark_rest.sql_execution, app_id, int(e.get("id", -1)), attempt)
             for e in executions[: Limits.QUERIES[pick]]]
    raw_executors = executors_f.result()

    findings: list[StatusFinding] = []
    stage_statuses = []
    for s in stages:
        key = _key(s)
        summary = summaries[key].result() if key in summaries else None
        tasks = running[key].result() if key in running else ([] if key in summaries else None)
        one, found = stage_status(s, summary, tasks, sorted(set(jobs_of.get(key[0], []))), now, full=full)
        stage_statuses.append(one)
        findings += found
    groups, read, failure_findings = failure_groups(
        [FailedStage(stage=_key(s)[0], tasks=[t for t in f.result() or [] if isinstance(t, dict)],
                     stage_failed=was_failed, in_running_job=_key(s)[0] in jobs_of,
                     failure_reason=s.get("failureReason")) for s, was_failed, f in failed_tasks], full=full)
    findings += failure_findings
    executors = None
    if raw_executors is not None:
        executors, executor_findings = executors_status([e for e in raw_executors if isinstance(e, dict)], full=full)
        findings += executor_findings
    queries = []
    for future in plans:
        execution = future.result()
        if isinstance(execution, dict):
            query, plan_findings = query_status(execution, now)
            queries.append(query)
            findings += plan_findings
    if cut:
        missing_note = f"SQL executions: looked through the first {scanned}; running ones after them are not listed"
        reader.missing.append(missing_note)

    findings = _ranked(_merged(findings, Limits.ALSO[pick]))
    flagged = {f.stage for f in findings if f.stage is not None}
    stage_statuses.sort(key=lambda st: st.stage not in flagged)  # stable: oldest first within each part
    job_list = sorted((_job(j, jobs_of, stages, now, Limits.JOB_STAGES[pick]) for j in jobs),
                      key=lambda j: -(j.running_s or 0.0))
    result = AppStatus(
        headline="",
        app=_app_info(target, now),
        findings=findings[: Limits.FINDINGS[pick]], findings_total=len(findings),
        jobs=job_list[: Limits.LISTED_JOBS[pick]], jobs_total=len(jobs),
        stages=stage_statuses[: Limits.LISTED_STAGES[pick]], stages_total=len(stages),
        executors=executors, failures=groups, failures_total=read,
        sql=queries, sql_total=len(executions),
        missing=_bounded(reader.missing),
    )
    result.headline = _headline(result, stages)
    result.more = _more(result, full, len(detailed), len(executions))
    return result


PER_STAGE = ("straggler", "data_skew", "spill", "waiting")
"""Findings made per stage: one per category and severity is kept, naming the other stages."""


def _merged(findings: list[StatusFinding], also: int) -> list[StatusFinding]:
    """The first of each per-stage finding (the oldest stage's) with the stages that share it; executors cut to 3."""
    first: dict[tuple[str, str], StatusFinding] = {}
    others: dict[tuple[str, str], list[int]] = {}
    out = []
    for f in findings:
        f.executors = f.executors[:3]
        key = (f.category, f.severity)
        if f.category not in PER_STAGE or f.stage is None:
            out.append(f)
        elif key in first:
            if f.stage != first[key].stage and f.stage not in others[key]:
                others[key].append(f.stage)
        else:
            first[key], others[key] = f, []
            out.append(f)
    for key, f in first.items():
        rest = others[key]
        if rest:
            f.also_stages = rest[:also]
            f.what += f"; the same in {len(rest)} other stage(s)"
    return out


def _ranked(findings: list[StatusFinding]) -> list[StatusFinding]:
    """Most severe first; within a severity what holds the application back now, then task failures, then plans."""
    def rank(pair: tuple[int, StatusFinding]) -> tuple[int, int, int]:
        order, f = pair
        return SEVERITY_RANK[f.severity], CATEGORY_RANK.get(f.category, 7 if f.sql is None else 8), order

    return [f for _, f in sorted(enumerate(findings), key=rank)]


def _key(stage: dict[str, Any]) -> tuple[int, int]:
    return int(stage.get("stageId", -1)), int(stage.get("attemptId", 0))


def _job(job: dict[str, Any], jobs_of: dict[int, list[int]], stages: list[dict[str, Any]], now: datetime,
         listed: int) -> ActiveJob:
    job_id = int(job.get("jobId", -1))
    return ActiveJob(
        job=job_id, name=str(job.get("description") or job.get("name") or "")[:60],
        stages=[_key(s)[0] for s in stages if job_id in jobs_of.get(_key(s)[0], [])][:listed],
        tasks_done=int(job.get("numCompletedTasks", 0)),
        tasks_total=int(job.get("numTasks", 0)) - int(job.get("numSkippedTasks", 0)),  # a skipped stage's never run
        failed=int(job.get("numFailedTasks", 0)), running_s=round3(seconds_since(job.get("submissionTime"), now)))


def _app_info(target: Target, now: datetime) -> AppInfo:
    attempts = [a for a in target.app.get("attempts") or [] if isinstance(a, dict)]
    attempt = next((a for a in attempts if str(a.get("attemptId")) == str(target.attempt)), None) if target.attempt \
        else next((a for a in attempts if not a.get("completed", True)), attempts[0] if attempts else {})
    attempt = attempt or {}
    return AppInfo(ref=target.ref, name=str(target.app.get("name", ""))[:60], server=target.server.name,
                   spark_version=attempt.get("appSparkVersion"), user=attempt.get("sparkUser"),
                   running_s=round3(seconds_since(attempt.get("startTime"), now)),
                   as_of=None if target.local else attempt.get("lastUpdated"))


def _bounded(missing: list[str]) -> list[str]:
    kept = [m if len(m) <= Limits.MISSING_CHARS else m[: Limits.MISSING_CHARS - 1] + "…" for m in missing[: Limits.MISSING]]
    return kept + ([f"and {len(missing) - Limits.MISSING} more not read"] if len(missing) > Limits.MISSING else [])


def _headline(result: AppStatus, stages: list[dict[str, Any]]) -> str:
    assert result.app is not None
    done = sum(int(s.get("numCompleteTasks", 0)) for s in stages)
    total = sum(int(s.get("numTasks", 0)) for s in stages)
    running = sum(int(s.get("numActiveTasks", 0)) for s in stages)
    head = f"{result.app.name!r} ({result.app.ref}) running {span(result.app.running_s)}: "
    if not result.jobs_total and not result.stages_total:
        head += "no job running now (the driver is between jobs or idle)"
    else:
        head += (f"{result.jobs_total} job(s), {result.stages_total} stage(s) active ({done}/{total} tasks done, "
                 f"{running} running)")
    if result.sql_total:
        head += f", {result.sql_total} SQL quer{'y' if result.sql_total == 1 else 'ies'} in flight"
    if result.findings:
        worst = result.findings[0]
        head += f"; {result.findings_total} finding(s), first: {worst.severity} {worst.category}"
    else:
        head += "; nothing wrong seen"
    if result.missing:
        head += f"; {len(result.missing)} part(s) not read (see missing)"
    return head


def _more(result: AppStatus, full: bool, detailed: int, executions: int) -> str | None:
    cut = []
    if len(result.findings) < result.findings_total:
        cut.append(f"findings ({len(result.findings)} of {result.findings_total})")
    if len(result.stages) < result.stages_total:
        cut.append(f"stages ({len(result.stages)} of {result.stages_total})")
    if len(result.jobs) < result.jobs_total:
        cut.append(f"jobs ({len(result.jobs)} of {result.jobs_total})")
    if result.executors and len(result.executors.listed) < result.executors.active + result.executors.dead:
        cut.append(f"executors ({len(result.executors.listed)} of {result.executors.active + result.executors.dead})")
    if len(result.sql) < executions:
        cut.append(f"SQL plans ({len(result.sql)} of {executions})")
    if detailed < result.stages_total:
        cut.append(f"task details of the oldest {detailed} of {result.stages_total} active stages")
    if not cut:
        return None
    tail = " (the lists' caps; the totals cover all)" if full else (
        f"; detail='full' lists more (up to {Limits.FINDINGS[1]} findings, {EXECUTORS_LISTED[1]} executors, "
        f"{Limits.LISTED_STAGES[1]} stages, {Limits.LISTED_JOBS[1]} jobs, {Limits.QUERIES[1]} plans)")
    return "Cut: " + ", ".join(cut) + tail + "."


def _nothing_running(settings: Settings, deadline: Deadline, missing: list[str]) -> AppStatus:
    ports = settings.spark_ui_ports
    where = f"{ports[0]}-{ports[-1]}" if len(ports) > 1 else f"{ports[0]}" if ports else "none"
    refs = incomplete_elsewhere(settings, deadline, missing)
    headline = f"No Spark application is running on this machine (no driver UI answers on loopback port(s) {where})"
    if refs:
        headline += f"; incomplete on the configured History Servers: {', '.join(refs)}: pass one as app"
    elif settings.spark_servers:
        headline += "; none is incomplete on the configured History Servers either"
    else:
        headline += ("; for one on another machine configure its History Server (DGX_SPARK_MCP_SPARK_SERVERS) and pass "
                     "server/app-id")
    return AppStatus(headline=headline, running_apps=refs, missing=_bounded(missing))
