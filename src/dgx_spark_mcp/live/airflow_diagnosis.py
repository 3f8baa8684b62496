"""diagnose_dag_run through the API: which run, its task instances, every failed try's log diagnosed, and why the
other tasks never ran.

Why this order: a run fails because some task's tries failed; its downstream tasks are then
``upstream_failed`` and have no log at all, so they are reduced to the task that really failed instead of
being reported as failures of their own.  Every try of a failed task instance is read (a retry often fails
differently from the first try), mapped instances by their map index; what is read is bounded (``limit``
tries, the last try of each failed instance first) and counted, so a run with a thousand failed map indexes
still answers within the budget and says what it left out.  The logs are diagnosed by diagnose_log's engine
(:mod:`.airflow_logs`); the run, the DAG's import errors and the Spark applications the logs name come along.
"""

from __future__ import annotations

import difflib
from collections import Counter, defaultdict
from typing import Any, Literal

from ..errors import BadInputError, UnavailableError
from ..files import max_file_bytes
from ..settings import Settings
from .airflow_client import Airflow, open_airflow
from .airflow_logs import (
    LOOKUPS,
    TryRef,
    causes,
    diagnose_try,
    look_up_spark_application,
    spark_app_ids,
)
from .airflow_models import (
    DagRunDiagnosis,
    ImportErrorBrief,
    RunFinding,
    SparkApplication,
    TaskRow,
    UpstreamFailure,
)
from .airflow_runs import import_error_brief, seconds, short_time, unknown_dag
from .transport import Deadline, NotFound

__all__ = ["DEFAULT_TRIES", "MAX_TRIES", "diagnose_dag_run"]

FAILED = ("failed", "up_for_retry")
DEFAULT_TRIES = 10
MAX_TRIES = 50
MAX_TASK_INSTANCES = 5000
SHOWN_TASK_INSTANCES = 100
SHOWN_BLOCKED = 10
SHOWN_APPS = 10
MAX_LOG_BYTES = 64 << 20


def diagnose_dag_run(settings: Settings, dag_id: str | None = None, run_id: str | None = None, *,
                     path: str | None = None, limit: int = DEFAULT_TRIES,
                     detail: Literal["summary", "full"] = "summary") -> DagRunDiagnosis:
    """Why a DAG run failed: ``run_id`` of ``dag_id``, the DAG's latest failed run, or the latest failed run of any
    DAG; from the configured Airflow, or from a folder of task logs (``path``)."""
    if not 1 <= limit <= MAX_TRIES:
        raise BadInputError(f"limit {limit} is out of range; give 1 to {MAX_TRIES} tries to diagnose "
                            f"(default {DEFAULT_TRIES})")
    if path is not None:
        from .airflow_files import diagnose_log_folder

        return diagnose_log_folder(settings, path, dag_id=dag_id, run_id=run_id, limit=limit, detail=detail)
    if run_id is not None and dag_id is None:
        raise BadInputError(f"run_id {run_id!r} needs its dag_id (run ids repeat across DAGs)")
    deadline = Deadline(settings.live_deadline_s)
    with open_airflow(settings, deadline) as af:
        return _diagnose(af, settings, deadline, dag_id, run_id, limit, detail)


# ---- which run -----------------------------------------------------------------------------------


def _resolve_run(af: Airflow, dag_id: str | None, run_id: str | None) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(the run, its DAG) — the named run, or the latest failed one."""
    dag = None
    if dag_id is not None:
        dag = af.dag(dag_id)
        if dag is None:
            raise unknown_dag(af, dag_id)
    if run_id is not None:
        assert dag_id is not None
        run = af.dag_run(dag_id, run_id)
        if run is None:
            recent, _ = af.dag_runs(dag_id, ["queued", "running", "success", "failed"], None, 0, 100)
            ids = [str(r["run_id"]) for r in recent]
            closest = difflib.get_close_matches(run_id, ids, n=3, cutoff=0.3) or ids[:3]
            raise BadInputError(f"DAG {dag_id!r} has no run {run_id!r}; "
                                + (f"closest: {', '.join(closest)}" if closest else "it has no runs yet"))
        return run, dag
    runs, _ = af.dag_runs(dag_id, ["failed"], None, 0, 1)
    if not runs:
        if dag_id is None:
            raise BadInputError(f"{af.label} has no failed DAG run; list_dag_runs shows the runs there are")
        latest, _ = af.dag_runs(dag_id, ["queued", "running", "success"], None, 0, 3)
        seen = ", ".join(f"{r['run_id']} ({r['state']})" for r in latest) or "none"
        raise BadInputError(f"DAG {dag_id!r} has no failed run (latest: {seen}); give run_id to look at one of them")
    run = runs[0]
    return run, dag if dag is not None else af.dag(str(run["dag_id"]))


# ---- what failed ---------------------------------------------------------------------------------


def _map_index(ti: dict[str, Any]) -> int | None:
    value = ti.get("map_index")
    return value if isinstance(value, int) and value >= 0 else None


def _tries_to_read(failed: list[dict[str, Any]], limit: int) -> tuple[list[tuple[dict[str, Any], int]], int]:
    """(instance, try) pairs to read, at most ``limit``: the last try of each failed instance first, spread over
    the tasks; then the earlier tries.  Returned in the order they ran; with the number of tries there are."""
    every = [(ti, n) for ti in failed for n in range(1, max(int(ti.get("try_number") or 0), 1) + 1)]
    rank: dict[int, int] = {}
    per_task: Counter[str] = Counter()
    for ti in failed:
        rank[id(ti)] = per_task[str(ti["task_id"])]
        per_task[str(ti["task_id"])] += 1
    order = {id(ti): i for i, ti in enumerate(failed)}
    chosen = sorted(every, key=lambda p: (p[1] != max(int(p[0].get("try_number") or 0), 1), rank[id(p[0])],
                                          order[id(p[0])], -p[1]))[:limit]
    return sorted(chosen, key=lambda p: (order[id(p[0])], p[1])), len(every)


def _upstream_failures(af: Airflow, dag_id: str, tis: list[dict[str, Any]]) -> list[UpstreamFailure]:
    """Each failed task with the upstream_failed tasks it blocked, walking the DAG's edges up from each of them."""
    blocked_tasks = sorted({str(ti["task_id"]) for ti in tis if ti.get("state") == "upstream_failed"})
    if not blocked_tasks:
        return []
    up: dict[str, set[str]] = defaultdict(set)
    for task, downstream in af.downstream(dag_id).items():
        for child in downstream:
            up[child].add(task)
    failed = {str(ti["task_id"]) for ti in tis if ti.get("state") in FAILED}
    blocked_set = set(blocked_tasks)
    groups: dict[str, list[str]] = defaultdict(list)
    for task in blocked_tasks:
        roots, seen, stack = set(), {task}, [task]
        while stack:
            for parent in up.get(stack.pop(), ()):
                if parent in seen:
                    continue
                seen.add(parent)
                if parent in failed:
                    roots.add(parent)
                elif parent in blocked_set:
                    stack.append(parent)
        for root in sorted(roots) or ["(no failed upstream task found)"]:
            groups[root].append(task)
    return sorted((UpstreamFailure(failed_task=root, blocked_total=len(tasks), blocked=tasks[:SHOWN_BLOCKED])
                   for root, tasks in groups.items()), key=lambda u: -u.blocked_total)


def _task_row(ti: dict[str, Any]) -> TaskRow:
    return TaskRow(task_id=str(ti["task_id"]), map_index=_map_index(ti), state=ti.get("state"),
                   try_number=int(ti.get("try_number") or 0), operator=ti.get("operator"),
                   duration_s=seconds(ti.get("duration")))


def _dag_import_errors(af: Airflow, dag: dict[str, Any] | None) -> list[ImportErrorBrief]:
    if dag is None:
        return []
    errors, _ = af.import_errors(100)
    fileloc, relative = str(dag.get("fileloc") or ""), str(dag.get("relative_fileloc") or "")
    mine = [e for e in errors if (name := str(e.get("filename") or "")) and
            (name in (fileloc, relative) or fileloc.endswith("/" + name))]
    return [import_error_brief(e) for e in mine[:3]]


# ---- the diagnosis -------------------------------------------------------------------------------


def _diagnose(af: Airflow, settings: Settings, deadline: Deadline, dag_id: str | None, run_id: str | None,
              limit: int, detail: Literal["summary", "full"]) -> DagRunDiagnosis:
    run, dag = _resolve_run(af, dag_id, run_id)
    dag_id, run_id = str(run["dag_id"]), str(run["run_id"])
    notes: list[str] = []
    tis, ti_total = af.task_instances(dag_id, run_id, MAX_TASK_INSTANCES)
    if ti_total > len(tis):
        notes.append(f"the run has {ti_total} task instances; the first {len(tis)} were read")
    tis.sort(key=lambda ti: (str(ti.get("start_date") or "~"), str(ti["task_id"]), ti.get("map_index") or -1))
    failed = [ti for ti in tis if ti.get("state") in FAILED]
    chosen, tries_total = _tries_to_read(failed, limit)
    findings: list[RunFinding] = []
    apps: dict[str, SparkApplication] = {}
    max_bytes = min(MAX_LOG_BYTES, max_file_bytes(settings))
    kind: Literal["airflow", "airflow3_json"] = "airflow3_json" if af.flavor.json_records else "airflow"
    read = 0
    for ti, number in chosen:
        ref = TryRef(dag_id=dag_id, run_id=run_id, task_id=str(ti["task_id"]), try_number=number,
                     map_index=_map_index(ti))
        try:
            fetched = af.task_log(dag_id, run_id, ref.task_id, number, ref.map_index, max_bytes)
        except NotFound:
            findings.append(RunFinding(**vars(ref), note="Airflow has no log for this try (HTTP 404)"))
            read += 1
            continue
        except UnavailableError as exc:
            if not deadline.expired():
                raise
            notes.append(f"stopped after {read} of {len(chosen)} tries: {exc}")
            break
        if fetched.cut:
            notes.append(f"the log of {ref.task_id} try {number} was cut at {max_bytes >> 20} MiB or "
                         f"{fetched.pages} pages")
        found, body = diagnose_try(settings, ref, text=fetched.text, kind=kind, detail=detail, limit=5)
        findings.extend(found)
        read += 1
        for app_id in spark_app_ids(body):
            apps.setdefault(app_id, SparkApplication(app_id=app_id, task_id=ref.task_id, try_number=number,
                                                     map_index=ref.map_index))
    listed = list(apps.values())[:SHOWN_APPS]
    listed = [look_up_spark_application(settings, a) if i < LOOKUPS else a for i, a in enumerate(listed)]
    if len(apps) > SHOWN_APPS:
        notes.append(f"the logs name {len(apps)} Spark applications; the first {SHOWN_APPS} are listed")
    try:
        upstream = _upstream_failures(af, dag_id, tis)
    except NotFound:
        upstream = []
        notes.append("the DAG's tasks could not be read, so upstream_failed tasks are not traced to a failed one")
    states = Counter(str(ti.get("state") or "none") for ti in tis)
    rows = sorted(tis, key=lambda ti: ti.get("state") not in FAILED)[:SHOWN_TASK_INSTANCES]
    truncated = read < tries_total or any(n.startswith(("stopped", "the run has")) for n in notes)
    result = DagRunDiagnosis(
        summary=_summary(dag_id, run_id, str(run.get("state")), len(tis), failed, findings, upstream, len(apps)),
        source=af.label, dag_id=dag_id, run_id=run_id, state=run.get("state"),
        logical_date=short_time(run.get("logical_date")), start_date=short_time(run.get("start_date")),
        end_date=short_time(run.get("end_date")), tasks_total=ti_total, task_states=dict(states.most_common()),
        task_instances=[_task_row(ti) for ti in rows] if detail == "full" else [],
        findings=findings, tries_total=tries_total, tries_diagnosed=read, upstream_failed=upstream,
        spark_applications=listed, import_errors=_dag_import_errors(af, dag), truncated=truncated, notes=notes,
    )
    result.more = more_sentence(result, detail, limit, len(tis) > SHOWN_TASK_INSTANCES)
    return result


def _summary(dag_id: str, run_id: str, state: str, tasks: int, failed: list[dict[str, Any]],
             findings: list[RunFinding], upstream: list[UpstreamFailure], apps: int) -> str:
    text = f"{dag_id} run {run_id} is {state}: {len(failed)} of {tasks} task instance(s) failed"
    said = causes(findings)
    text += f" ({said})" if said else ""
    for u in upstream[:2]:
        text += f"; {u.blocked_total} task(s) upstream_failed because {u.failed_task} failed"
    if apps:
        text += f"; the logs name {apps} Spark application(s)"
    return text


def more_sentence(result: DagRunDiagnosis, detail: str, limit: int, tasks_cut: bool) -> str | None:
    adds = []
    if result.tries_total > result.tries_diagnosed:
        adds.append(f"{result.tries_total - result.tries_diagnosed} more failed tries: call with a larger limit "
                    f"(now {limit}, at most {MAX_TRIES})")
    if detail == "summary":
        adds.append("detail='full' adds every task instance, up to 5 findings per try with their evidence and "
                    "configuration changes")
    elif tasks_cut:
        adds.append(f"task_instances lists the failed ones first and {SHOWN_TASK_INSTANCES} in all")
    return "; ".join(adds) + "." if adds else None

