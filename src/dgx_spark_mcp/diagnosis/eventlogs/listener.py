"""The event-log reader's per-event handlers: each parsed Spark listener event applied to the :class:`ReadLog`.

One handler per event type the analysis needs (application, environment, executors, jobs,
stages, task ends, SQL executions, the RAPIDS build), in :class:`AppLogListener`; the loop that
finds each line's type and calls them is :mod:`.reader`.  Each handler reads every field it
needs through :mod:`.event_fields` before it changes anything, so an event with one bad field
is skipped whole.  Spark 2.x and 3.x/4.x field differences are absorbed here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..reading.failure_text import exception_message, first_line, message_key
from .app_log import AppLog, ExecutorRun, FailureGroup, JobRun, SqlRun, StageRun
from .event_fields import (
    MAX_MS,
    Event,
    count_or_id,
    dict_field,
    ms_field,
    resource_amount,
    shown,
    text_field,
)

if TYPE_CHECKING:  # msgspec loads with the first read, not with the server
    from .events import TaskEnd, TaskEndReason

__all__ = ["PLAN_CHARS_KEPT", "AppLogListener", "ReadLog", "plan_outline"]

PLAN_CHARS_KEPT = 20_000
"""Plan outline kept per SQL execution while reading; the result cuts it further."""
_IDS_KEPT = 10


@dataclass
class ReadLog(AppLog):
    """An :class:`AppLog` plus the task metric values the reader refused as impossible."""

    ignored_values: int = 0
    ignored_examples: list[str] = field(default_factory=list)


def _reason_text(reason: TaskEndReason) -> tuple[str | None, str]:
    """(error class, message) of a ``Task End Reason``, whatever its kind."""
    if reason.kind == "ExceptionFailure":
        return reason.class_name, exception_message(reason.description)
    if reason.kind == "ExecutorLostFailure":
        return None, first_line(reason.loss_reason) or "executor lost"
    if reason.kind == "FetchFailed":
        return None, first_line(reason.message) or "shuffle fetch failed"
    if reason.kind == "TaskKilled":
        return None, first_line(reason.kill_reason) or "killed"
    return None, reason.kind


class AppLogListener:
    """Holds the :class:`ReadLog` being built and one handler per parsed event type."""

    def __init__(self, app: ReadLog) -> None:
        self.app = app
        self.stages = app.stages
        self.at: tuple[str, int] = ("", 0)  # the event being handled: failures and job ends keep where they were
        sql = "org.apache.spark.sql.execution.ui."
        self.handlers: dict[bytes, Callable[[Event], None]] = {
            b"SparkListenerLogStart": self._log_start,
            b"SparkListenerApplicationStart": self._app_start,
            b"SparkListenerApplicationEnd": self._app_end,
            b"SparkListenerEnvironmentUpdate": self._environment,
            b"SparkListenerResourceProfileAdded": self._resource_profile,
            b"SparkListenerExecutorAdded": self._executor_added,
            b"SparkListenerExecutorRemoved": self._executor_removed,
            b"SparkListenerJobStart": self._job_start,
            b"SparkListenerJobEnd": self._job_end,
            b"SparkListenerStageSubmitted": self._stage_submitted,
            b"SparkListenerStageCompleted": self._stage_completed,
            (sql + "SparkListenerSQLExecutionStart").encode(): self._sql_start,
            (sql + "SparkListenerSQLAdaptiveExecutionUpdate").encode(): self._sql_plan_update,
            (sql + "SparkListenerSQLExecutionEnd").encode(): self._sql_end,
            b"com.nvidia.spark.rapids.SparkRapidsBuildInfoEvent": self._rapids_build,
        }

    # -- application --

    # Each handler reads every field it needs (typed) before it changes anything, so an event
    # with one bad field is skipped whole.

    def _log_start(self, e: Event) -> None:
        self.app.spark_version = text_field(e, "Spark Version")

    def _app_start(self, e: Event) -> None:
        app = self.app
        name, app_id, user = text_field(e, "App Name"), text_field(e, "App ID"), text_field(e, "User")
        attempt, start = text_field(e, "App Attempt ID"), ms_field(e, "Timestamp")
        app.app_name, app.app_id, app.user, app.attempt_id, app.start_ms = name, app_id, user, attempt, start
        app.seen(start)

    def _app_end(self, e: Event) -> None:
        end = ms_field(e, "Timestamp")
        if end is None:
            raise KeyError("Timestamp")
        self.app.end_ms = end
        self.app.seen(end)

    def _environment(self, e: Event) -> None:
        props = e.get("Spark Properties") or {}
        pairs = props.items() if isinstance(props, dict) else props  # very old logs: [[key, value], ...]
        properties = {str(k): str(v) for k, v in pairs}
        java = text_field(dict_field(e, "JVM Information"), "Java Version")
        self.app.properties.update(properties)
        self.app.environment_seen = True
        self.app.java_version = java

    def _resource_profile(self, e: Event) -> None:
        if e.get("Resource Profile Id") == 0:
            requests = dict_field(e, "Executor Resource Requests")
            self.app.default_profile = {str(k): resource_amount(k, v) for k, v in requests.items()}

    def _rapids_build(self, e: Event) -> None:
        self.app.rapids_version = text_field(dict_field(e, "sparkRapidsBuildInfo"), "version")

    # -- executors --

    def _executor_added(self, e: Event) -> None:
        info = e["Executor Info"]
        if not isinstance(info, dict):
            raise TypeError(f"'Executor Info' is {shown(info)}, not an object")
        addresses = dict_field(dict_field(info, "Resources"), "gpu").get("addresses") or []
        gpus = len(addresses) if isinstance(addresses, list) else 0
        eid, host = str(e["Executor ID"]), text_field(info, "Host")
        cores, added = count_or_id(info.get("Total Cores") or 0, "Total Cores"), ms_field(e, "Timestamp")
        self.app.executors[eid] = ExecutorRun(eid, host, cores, gpus, added)
        self.app.seen(added)

    def _executor_removed(self, e: Event) -> None:
        eid = str(e["Executor ID"])
        removed, reason = ms_field(e, "Timestamp"), first_line(text_field(e, "Removed Reason"))
        run = self.app.executors.get(eid) or self.app.executors.setdefault(eid, ExecutorRun(eid, None, 0, 0, None))
        run.removed_ms, run.removed_reason = removed, reason
        self.app.seen(removed)

    # -- jobs and stages --

    def _job_start(self, e: Event) -> None:
        infos: dict[int, tuple[str, int, tuple[int, ...]]] = {}
        for info in e.get("Stage Infos") or []:
            parents = tuple(count_or_id(p, "Parent ID") for p in info.get("Parent IDs") or [])
            name, tasks = text_field(info, "Stage Name", "") or "", count_or_id(info.get("Number of Tasks", 0), "Number of Tasks")
            infos[count_or_id(info["Stage ID"], "Stage ID")] = (name, tasks, parents)
        sql_id = dict_field(e, "Properties").get("spark.sql.execution.id")
        job_id, submitted = count_or_id(e["Job ID"], "Job ID"), ms_field(e, "Submission Time")
        stage_ids = tuple(count_or_id(s, "Stage ID") for s in e.get("Stage IDs") or [])
        sql = count_or_id(sql_id, "spark.sql.execution.id", MAX_MS) if sql_id else None
        self.app.stage_info.update(infos)
        self.app.jobs[job_id] = JobRun(job_id, submitted, stage_ids, sql)
        self.app.seen(submitted)

    def _job_end(self, e: Event) -> None:
        job_id, completed = count_or_id(e["Job ID"], "Job ID"), ms_field(e, "Completion Time")
        result = dict_field(e, "Job Result")
        succeeded = result.get("Result") == "JobSucceeded"
        failure = None if succeeded else (
            exception_message(text_field(dict_field(result, "Exception"), "Message")) or str(result.get("Result"))
        )
        job = self.app.jobs.get(job_id) or self.app.jobs.setdefault(job_id, JobRun(job_id, None, (), None))
        job.completed_ms, job.succeeded, job.end_at = completed, succeeded, self.at
        if failure is not None:
            job.failure = failure
        self.app.seen(completed)

    def _stage(self, info: Event, completed: bool = False) -> StageRun:
        """The stage attempt ``info`` describes, updated; every field is read before any is set."""
        key = (count_or_id(info["Stage ID"], "Stage ID"), count_or_id(info.get("Stage Attempt ID", 0), "Stage Attempt ID"))
        name, tasks = text_field(info, "Stage Name"), info.get("Number of Tasks")
        tasks = None if tasks is None else count_or_id(tasks, "Number of Tasks")
        parents = tuple(count_or_id(p, "Parent ID") for p in info.get("Parent IDs") or [])
        submitted, finished = ms_field(info, "Submission Time"), ms_field(info, "Completion Time")
        failure = exception_message(text_field(info, "Failure Reason")) or None
        stage = self.app.stages.get(key) or self._new_stage(key)
        stage.name = stage.name if name is None else name
        stage.num_tasks = stage.num_tasks if tasks is None else tasks
        stage.parent_ids = parents or stage.parent_ids
        if submitted:
            stage.submitted_ms = submitted
        if completed:
            stage.completed_ms, stage.failure_reason = finished, failure
        return stage

    def _stage_submitted(self, e: Event) -> None:
        stage = self._stage(e["Stage Info"])
        self.app.seen(stage.submitted_ms)

    def _stage_completed(self, e: Event) -> None:
        stage = self._stage(e["Stage Info"], completed=True)
        self.app.seen(stage.completed_ms)

    def on_task_end(self, e: TaskEnd) -> None:
        # The hot path, one call per task: locals and struct attributes only.
        info, metrics = e.info, e.metrics
        launch, finish = info.launch_ms, info.finish_ms
        key = (e.stage_id, e.stage_attempt)
        stage = self.stages.get(key) or self._new_stage(key)
        stage.task_ms.append(finish - launch if finish > launch else 0)
        stage.launch_ms.append(launch)
        if stage.first_launch_ms is None or launch < stage.first_launch_ms:
            stage.first_launch_ms = launch
        if stage.last_finish_ms is None or finish > stage.last_finish_ms:
            stage.last_finish_ms = finish
        if metrics is None:  # a failed task of an older Spark: no metrics
            stage.shuffle_read.append(0)
            stage.task_data.append(0)
        else:
            read = metrics.shuffle_read
            read_bytes = read.remote_bytes + read.local_bytes if read is not None else 0
            stage.shuffle_read.append(read_bytes)
            stage.run_ms += metrics.run_ms
            stage.gc_ms += metrics.gc_ms
            data = read_bytes
            if metrics.input is not None:
                stage.input_bytes += metrics.input.bytes_read
                data += metrics.input.bytes_read
            stage.cpu_ns += metrics.cpu_ns
            if metrics.output is not None:
                stage.output_bytes += metrics.output.bytes_written
            if metrics.shuffle_write is not None:
                stage.shuffle_write += metrics.shuffle_write.bytes_written
                data += metrics.shuffle_write.bytes_written
            stage.task_data.append(data)
            peak = metrics.peak_execution_memory  # absent before Spark 3.0
            if peak is not None and (stage.peak_execution_memory is None or peak > stage.peak_execution_memory):
                stage.peak_execution_memory = peak
            if metrics.memory_spilled or metrics.disk_spilled:
                self._spilled(stage, info.executor_id, metrics.memory_spilled, metrics.disk_spilled)
        if e.reason is not None and e.reason.kind != "Success":
            self._task_failed(stage, e.reason, info.executor_id, info.task_id)

    def _spilled(self, stage: StageRun, executor_id: str, memory: int, disk: int) -> None:
        stage.memory_spilled += memory
        stage.disk_spilled += disk
        executor = self.app.executors.get(executor_id)
        if executor is not None:
            executor.spilled_bytes += memory + disk

    def _new_stage(self, key: tuple[int, int]) -> StageRun:
        stage = self.app.stages[key] = StageRun(int(key[0]), int(key[1]))
        return stage

    def _task_failed(self, stage: StageRun, reason: TaskEndReason, executor_id: str, task_id: int) -> None:
        kind = reason.kind
        if kind == "Resubmitted":
            stage.resubmitted_tasks += 1
            return
        if kind == "TaskKilled":
            stage.killed_tasks += 1
        else:
            stage.failed_tasks += 1
        error_class, message = _reason_text(reason)
        key = (kind, error_class, message_key(message))
        group = self.app.failures.get(key)
        if group is None:
            group = self.app.failures[key] = FailureGroup(kind, error_class, key[2], message)
        group.count += 1
        group.seen_at(self.at, task_id, _IDS_KEPT)
        if len(group.stage_ids) < _IDS_KEPT:
            group.stage_ids.add(stage.stage_id)
        if len(group.executor_ids) < _IDS_KEPT:
            group.executor_ids.add(executor_id)

    # -- SQL --

    def _sql_start(self, e: Event) -> None:
        eid = count_or_id(e["executionId"], "executionId", MAX_MS)
        run = SqlRun(eid, first_line(text_field(e, "description"), 300), ms_field(e, "time"))
        _set_plan(run, *_read_plan(e))
        self.app.sql[eid] = run
        self.app.seen(run.start_ms)

    def _sql_plan_update(self, e: Event) -> None:
        run = self.app.sql.get(count_or_id(e["executionId"], "executionId", MAX_MS))
        if run is not None:
            _set_plan(run, *_read_plan(e))

    def _sql_end(self, e: Event) -> None:
        run = self.app.sql.get(count_or_id(e["executionId"], "executionId", MAX_MS))
        if run is not None:
            end, error = ms_field(e, "time"), first_line(text_field(e, "errorMessage")) or None
            run.end_ms, run.error = end, error
            self.app.seen(end)


_SINGLE_EXCHANGE = re.compile(r"^\((\d+)\) \w*Exchange\w*\n(?:[^\n]+\n)*?Arguments: SinglePartition\b", re.MULTILINE)
_DETAILS_HEAD = re.compile(r"\((\d+)\) (\w+)")
"""A formatted plan's details block opens with its operator: ``(2) Filter [codegen id : 1]``."""


def plan_outline(text: str) -> str:
    """The operator tree of a physical plan: a formatted plan's per-node details (after the first
    blank line) are left out; the tree says what ran, and the analyze_query_plan tool reads the rest."""
    return text.split("\n\n", 1)[0].rstrip()


def funnels_into_one_partition(text: str) -> bool:
    """Whether a formatted plan's details show an Exchange into a single partition (``Arguments: SinglePartition``),
    which the outline does not: a one-task stage of that query then has its reason.  (Kept apart from the outline:
    a global count's tiny exchange into one partition is harmless, and only a stage's own figures tell.)"""
    return "SinglePartition" in text and _SINGLE_EXCHANGE.search(text) is not None


def _read_plan(e: Event) -> tuple[str, int, int, dict[tuple[int, str], int], bool]:
    """(plan outline, nodes, GPU nodes, literals of long INSETs by operator id, an exchange into one partition) of a
    SQL execution event."""
    text = text_field(e, "physicalPlanDescription") or ""
    return (plan_outline(text), *_count_plan_nodes(e.get("sparkPlanInfo")), _inset_literals(text),
            funnels_into_one_partition(text))


def _inset_literals(text: str) -> dict[tuple[int, str], int]:
    """(operator id, name) -> literal values of its longest INSET, read from a formatted plan's per-node details
    (``(2) Filter`` ... ``Condition : id#0L INSET 0, 10, ...``), which the kept outline leaves out."""
    if "INSET" not in text:
        return {}
    from ..plans.operators import inset_literals

    found = {}
    for block in text.split("\n\n")[1:]:
        head = block.lstrip("\n").split("\n", 1)[0]
        if "INSET" in block and (node := _DETAILS_HEAD.match(head)):
            found[(int(node.group(1)), node.group(2))] = inset_literals(block)
    return found


def _set_plan(run: SqlRun, text: str, nodes: int, gpu_nodes: int, literals: dict[tuple[int, str], int],
              single: bool) -> None:
    run.plan, run.plan_chars = text[:PLAN_CHARS_KEPT], len(text)
    run.plan_nodes, run.gpu_plan_nodes, run.plan_literals = nodes, gpu_nodes, literals
    run.single_partition = single
    run.final_plan = "isFinalPlan=true" in text[:500]


def _count_plan_nodes(tree: Event | None) -> tuple[int, int]:
    """(nodes, GPU nodes) of a ``sparkPlanInfo`` tree; RAPIDS names its operators ``Gpu*``."""
    nodes = gpu = 0
    stack = [tree] if isinstance(tree, dict) else []
    while stack:
        node = stack.pop()
        nodes += 1
        if str(node.get("nodeName", "")).startswith("Gpu"):
            gpu += 1
        children = node.get("children")
        if isinstance(children, list):
            stack.extend(child for child in children if isinstance(child, dict))
    return nodes, gpu
