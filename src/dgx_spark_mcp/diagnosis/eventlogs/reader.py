"""Read a Spark event log in one streaming pass into an :class:`AppLog`.

Each line is one ``SparkListener*`` event as JSON.  Spark writes ``"Event"`` as the first key,
so the event type is read from the line's first bytes and only the types the analysis needs
are parsed; task starts, block updates, metric updates and the like are counted and skipped.
Task-end events are most of a log's bytes: they are decoded into typed structs that keep only
the fields the analysis reads (:mod:`.spark_events`), the other events into plain dicts.
``bench/eventlog_parse.py`` measures the whole reader against a plain ``json.loads`` loop.

Memory stays bounded: per task only a few integers are kept (in ``array('q')`` columns per
stage attempt), failures are grouped by their normalised message, plan texts are cut to
:data:`PLAN_CHARS_KEPT`.  Spark 2.x and 3.x/4.x field differences are absorbed here
(missing ``Peak Execution Memory``, ``Remote Bytes Read To Disk``, executor metrics, resource
profiles).  A line that is not valid JSON, or an event of a known type with an unexpected
shape (a missing key, a value of the wrong type: ``"App ID": 123``, a string ``Timestamp``),
is counted as malformed and skipped whole, so no event is half applied; a few of them are kept
as examples with their file and line number.  A task metric that no run can have (a negative
or beyond-8-PiB byte count) is dropped and counted, and the task still counts.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..reading.codecs import LogLines
from ..reading.failure_text import exception_message, first_line, message_key
from .app_log import AppLog, ExecutorRun, FailureGroup, JobRun, SqlRun, StageRun
from .files import EventLogSource

if TYPE_CHECKING:  # msgspec loads with the first read, not with the server
    from .events import TaskEnd, TaskEndReason

__all__ = ["PLAN_CHARS_KEPT", "ReadLog", "plan_outline", "read_event_log"]

PLAN_CHARS_KEPT = 20_000
"""Plan outline kept per SQL execution while reading; the result cuts it further."""
_EXAMPLES_KEPT = 5
_IDS_KEPT = 10

Event = dict[str, Any]
_MAX_MS = 2**53  # spark_events.MAX_COUNT, without importing msgspec with the server


@dataclass
class ReadLog(AppLog):
    """An :class:`AppLog` plus the task metric values the reader refused as impossible."""

    ignored_values: int = 0
    ignored_examples: list[str] = field(default_factory=list)


# ---- typed access to an event's fields: a wrong type makes the whole event malformed ------------


def _shown(value: object) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:39] + '…'}"


def _text(e: Event, key: str, default: str | None = None) -> str | None:
    """``e[key]`` when it is a string (or absent: ``default``); anything else is a shape error."""
    value = e.get(key, default)
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"{key!r} is {_shown(value)}, not text")


def _ms(e: Event, key: str) -> int | None:
    """``e[key]`` as epoch (or elapsed) milliseconds: a whole number 0..2**53, or absent."""
    value = e.get(key)
    if value is None:
        return None
    if type(value) is not int or not 0 <= value <= _MAX_MS:  # bool is an int too: type(), not isinstance()
        raise ValueError(f"{key!r} is {_shown(value)}, not a time in milliseconds")
    return value


def _number(value: Any, what: str, most: int = 2**31 - 1) -> int:
    """A count or id Spark logs as a Java int (or its string): 0..``most``."""
    number = int(value)  # int("7") as old logs write some ids; int([]) is a TypeError, int("x") a ValueError
    if not 0 <= number <= most:
        raise ValueError(f"{what} {number} is out of range 0..{most}")
    return number


def _dict(e: Event, key: str) -> Event:
    """``e[key]`` when it is an object (absent or null: empty)."""
    value = e.get(key) or {}
    if not isinstance(value, dict):
        raise TypeError(f"{key!r} is {_shown(value)}, not an object")
    return value


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


def _short(exc: BaseException) -> str:
    return first_line(f"{type(exc).__name__}: {exc}", 200)


# ---- the reader ---------------------------------------------------------------------------------

_PREFIX = b'{"Event":"'
_TASK_END = b"SparkListenerTaskEnd"
# RecursionError: a line nested thousands deep (msgspec, like json, gives up with it)
_SHAPE_ERRORS = (KeyError, TypeError, AttributeError, ValueError, IndexError, OverflowError, RecursionError)


class _Reader:
    """Holds the :class:`AppLog` being built and one handler per parsed event type."""

    def __init__(self, app: ReadLog) -> None:
        import msgspec

        from .events import TASK_END, decode_ignoring_impossible

        self.app = app
        self.loads: Callable[[bytes], Any] = msgspec.json.Decoder().decode
        self.task_end = TASK_END.decode
        self.task_end_checked = decode_ignoring_impossible
        self.out_of_bounds = msgspec.ValidationError
        self.stages = app.stages
        self.at: tuple[str, int] = ("", 0)  # the event being handled: failures and job ends keep where they were
        self.counts: dict[bytes, int] = {}  # by the type's raw bytes: no decoding per line
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

    # -- the loop --

    def read(self, lines: LogLines, label: str) -> None:
        """Every line of one file.  Lines are looked at in place in the decoder's buffer: only
        the events that are parsed are sliced out (task ends as a copy-free memoryview)."""
        app, handlers, counts = self.app, self.handlers, self.counts
        decode_task_end, on_task_end, out_of_bounds = self.task_end, self._task_end, self.out_of_bounds
        number = 0
        for buffer, start, end in lines.blocks():
            view, find, startswith = memoryview(buffer), buffer.find, buffer.startswith
            pos = start
            while pos < end:
                stop = find(b"\n", pos, end)
                if stop < 0:
                    stop = end  # the last line of a file that stops mid-line
                number += 1
                quote = find(b'"', pos + 10, stop) if startswith(_PREFIX, pos, stop) else -1
                if quote > 0:
                    name = buffer[pos + 10 : quote]
                    counts[name] = counts.get(name, 0) + 1
                    if name == _TASK_END:
                        self.at = (label, number)
                        try:
                            on_task_end(decode_task_end(view[pos:stop]))
                        except out_of_bounds:  # a bound or a type broken: the rare path sorts out which
                            self._task_end_checked(view[pos:stop], label, number)
                        except _SHAPE_ERRORS as exc:
                            self._malformed(label, number, f"SparkListenerTaskEnd is not readable ({_short(exc)})")
                    elif (handler := handlers.get(name)) is not None:
                        self._dispatch(buffer[pos:stop], handler, label, number)
                    elif not buffer[pos:stop].rstrip().endswith(b"}"):
                        self._malformed(label, number, f"a {name.decode(errors='replace')} line is cut off")
                elif not buffer[pos:stop].strip():
                    app.blank_lines += 1
                else:
                    self._other(buffer[pos:stop], label, number)
                pos = stop + 1
        app.lines += number

    def _dispatch(self, line: bytes, handler: Callable[[Event], None], label: str, number: int) -> None:
        self.at = (label, number)
        try:
            event = self.loads(line)
        except (ValueError, RecursionError) as exc:
            self._malformed(label, number, f"not valid JSON ({_short(exc)})")
            return
        try:
            handler(event)
        except _SHAPE_ERRORS as exc:
            self._malformed(label, number, f"{event.get('Event')} has an unexpected shape ({_short(exc)})")

    def _other(self, line: bytes, label: str, number: int) -> None:
        """A line not in Spark's key order: parse it whole and dispatch by its ``Event``."""
        try:
            name = self.loads(line)["Event"]
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            self._malformed(label, number, f"not a Spark event ({_short(exc)})")
            return
        key = str(name).encode()
        self.counts[key] = self.counts.get(key, 0) + 1
        if key == _TASK_END:
            self._task_end_checked(line, label, number)
        elif (handler := self.handlers.get(key)) is not None:
            self._dispatch(line, handler, label, number)

    def _task_end_checked(self, line: bytes | memoryview, label: str, number: int) -> None:
        """A task end off the fast path: impossible metric values dropped and counted, other faults malformed."""
        self.at = (label, number)
        try:
            event, dropped = self.task_end_checked(line)
            self._task_end(event)
        except _SHAPE_ERRORS as exc:
            self._malformed(label, number, f"SparkListenerTaskEnd is not readable ({_short(exc)})")
            return
        self.app.ignored_values += len(dropped)
        if dropped and len(self.app.ignored_examples) < _EXAMPLES_KEPT:
            self.app.ignored_examples.append(f"{label} line {number}: {', '.join(dropped)[:200]}")

    def _malformed(self, label: str, number: int, why: str) -> None:
        self.app.malformed_lines += 1
        if len(self.app.malformed_examples) < _EXAMPLES_KEPT:
            self.app.malformed_examples.append(f"{label} line {number}: {why}")

    # -- application --

    # Each handler reads every field it needs (typed) before it changes anything, so an event
    # with one bad field is skipped whole.

    def _log_start(self, e: Event) -> None:
        self.app.spark_version = _text(e, "Spark Version")

    def _app_start(self, e: Event) -> None:
        app = self.app
        name, app_id, user = _text(e, "App Name"), _text(e, "App ID"), _text(e, "User")
        attempt, start = _text(e, "App Attempt ID"), _ms(e, "Timestamp")
        app.app_name, app.app_id, app.user, app.attempt_id, app.start_ms = name, app_id, user, attempt, start
        app.seen(start)

    def _app_end(self, e: Event) -> None:
        end = _ms(e, "Timestamp")
        if end is None:
            raise KeyError("Timestamp")
        self.app.end_ms = end
        self.app.seen(end)

    def _environment(self, e: Event) -> None:
        props = e.get("Spark Properties") or {}
        pairs = props.items() if isinstance(props, dict) else props  # very old logs: [[key, value], ...]
        properties = {str(k): str(v) for k, v in pairs}
        java = _text(_dict(e, "JVM Information"), "Java Version")
        self.app.properties.update(properties)
        self.app.environment_seen = True
        self.app.java_version = java

    def _resource_profile(self, e: Event) -> None:
        if e.get("Resource Profile Id") == 0:
            requests = _dict(e, "Executor Resource Requests")
            self.app.default_profile = {str(k): _amount(k, v) for k, v in requests.items()}

    def _rapids_build(self, e: Event) -> None:
        self.app.rapids_version = _text(_dict(e, "sparkRapidsBuildInfo"), "version")

    # -- executors --

    def _executor_added(self, e: Event) -> None:
        info = e["Executor Info"]
        if not isinstance(info, dict):
            raise TypeError(f"'Executor Info' is {_shown(info)}, not an object")
        addresses = _dict(_dict(info, "Resources"), "gpu").get("addresses") or []
        gpus = len(addresses) if isinstance(addresses, list) else 0
        eid, host = str(e["Executor ID"]), _text(info, "Host")
        cores, added = _number(info.get("Total Cores") or 0, "Total Cores"), _ms(e, "Timestamp")
        self.app.executors[eid] = ExecutorRun(eid, host, cores, gpus, added)
        self.app.seen(added)

    def _executor_removed(self, e: Event) -> None:
        eid = str(e["Executor ID"])
        removed, reason = _ms(e, "Timestamp"), first_line(_text(e, "Removed Reason"))
        run = self.app.executors.get(eid) or self.app.executors.setdefault(eid, ExecutorRun(eid, None, 0, 0, None))
        run.removed_ms, run.removed_reason = removed, reason
        self.app.seen(removed)

    # -- jobs and stages --

    def _job_start(self, e: Event) -> None:
        infos: dict[int, tuple[str, int, tuple[int, ...]]] = {}
        for info in e.get("Stage Infos") or []:
            parents = tuple(_number(p, "Parent ID") for p in info.get("Parent IDs") or [])
            name, tasks = _text(info, "Stage Name", "") or "", _number(info.get("Number of Tasks", 0), "Number of Tasks")
            infos[_number(info["Stage ID"], "Stage ID")] = (name, tasks, parents)
        sql_id = _dict(e, "Properties").get("spark.sql.execution.id")
        job_id, submitted = _number(e["Job ID"], "Job ID"), _ms(e, "Submission Time")
        stage_ids = tuple(_number(s, "Stage ID") for s in e.get("Stage IDs") or [])
        sql = _number(sql_id, "spark.sql.execution.id", _MAX_MS) if sql_id else None
        self.app.stage_info.update(infos)
        self.app.jobs[job_id] = JobRun(job_id, submitted, stage_ids, sql)
        self.app.seen(submitted)

    def _job_end(self, e: Event) -> None:
        job_id, completed = _number(e["Job ID"], "Job ID"), _ms(e, "Completion Time")
        result = _dict(e, "Job Result")
        succeeded = result.get("Result") == "JobSucceeded"
        failure = None if succeeded else (
            exception_message(_text(_dict(result, "Exception"), "Message")) or str(result.get("Result"))
        )
        job = self.app.jobs.get(job_id) or self.app.jobs.setdefault(job_id, JobRun(job_id, None, (), None))
        job.completed_ms, job.succeeded, job.end_at = completed, succeeded, self.at
        if failure is not None:
            job.failure = failure
        self.app.seen(completed)

    def _stage(self, info: Event, completed: bool = False) -> StageRun:
        """The stage attempt ``info`` describes, updated; every field is read before any is set."""
        key = (_number(info["Stage ID"], "Stage ID"), _number(info.get("Stage Attempt ID", 0), "Stage Attempt ID"))
        name, tasks = _text(info, "Stage Name"), info.get("Number of Tasks")
        tasks = None if tasks is None else _number(tasks, "Number of Tasks")
        parents = tuple(_number(p, "Parent ID") for p in info.get("Parent IDs") or [])
        submitted, finished = _ms(info, "Submission Time"), _ms(info, "Completion Time")
        failure = exception_message(_text(info, "Failure Reason")) or None
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

    def _task_end(self, e: TaskEnd) -> None:
        # The hot path, one call per task: locals and struct attributes only.
        info, metrics = e.info, e.metrics
        launch, finish = info.launch_ms, info.finish_ms
        key = (e.stage_id, e.stage_attempt)
        stage = self.stages.get(key) or self._new_stage(key)
        stage.task_ms.append(finish - launch if finish > launch else 0)
        if stage.first_launch_ms is None or launch < stage.first_launch_ms:
            stage.first_launch_ms = launch
        if stage.last_finish_ms is None or finish > stage.last_finish_ms:
            stage.last_finish_ms = finish
        if metrics is None:  # a failed task of an older Spark: no metrics
            stage.shuffle_read.append(0)
        else:
            read = metrics.shuffle_read
            stage.shuffle_read.append(read.remote_bytes + read.local_bytes if read is not None else 0)
            stage.run_ms += metrics.run_ms
            stage.gc_ms += metrics.gc_ms
            if metrics.input is not None:
                stage.input_bytes += metrics.input.bytes_read
            stage.cpu_ns += metrics.cpu_ns
            if metrics.output is not None:
                stage.output_bytes += metrics.output.bytes_written
            if metrics.shuffle_write is not None:
                stage.shuffle_write += metrics.shuffle_write.bytes_written
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
        eid = _number(e["executionId"], "executionId", _MAX_MS)
        run = SqlRun(eid, first_line(_text(e, "description"), 300), _ms(e, "time"))
        _set_plan(run, *_read_plan(e))
        self.app.sql[eid] = run
        self.app.seen(run.start_ms)

    def _sql_plan_update(self, e: Event) -> None:
        run = self.app.sql.get(_number(e["executionId"], "executionId", _MAX_MS))
        if run is not None:
            _set_plan(run, *_read_plan(e))

    def _sql_end(self, e: Event) -> None:
        run = self.app.sql.get(_number(e["executionId"], "executionId", _MAX_MS))
        if run is not None:
            end, error = _ms(e, "time"), first_line(_text(e, "errorMessage")) or None
            run.end_ms, run.error = end, error
            self.app.seen(end)


def plan_outline(text: str) -> str:
    """The operator tree of a physical plan: a formatted plan's per-node details (after the first
    blank line) are left out; the tree says what ran, and the analyze_query_plan tool reads the rest."""
    return text.split("\n\n", 1)[0].rstrip()


def _read_plan(e: Event) -> tuple[str, int, int]:
    """(plan outline, nodes, GPU nodes) of a SQL execution event."""
    return plan_outline(_text(e, "physicalPlanDescription") or ""), *_count_plan_nodes(e.get("sparkPlanInfo"))


def _set_plan(run: SqlRun, text: str, nodes: int, gpu_nodes: int) -> None:
    run.plan, run.plan_chars = text[:PLAN_CHARS_KEPT], len(text)
    run.plan_nodes, run.gpu_plan_nodes = nodes, gpu_nodes
    run.final_plan = "isFinalPlan=true" in text[:500]


def _amount(name: object, request: Any) -> float:
    """A resource request's ``Amount``: a finite number of at least 0 (cores, MiB, GPUs)."""
    amount = request.get("Amount", 0) if isinstance(request, dict) else None
    if type(amount) not in (int, float) or not math.isfinite(amount) or not 0 <= amount <= _MAX_MS:
        raise ValueError(f"the {name} request's Amount is {_shown(amount)}, not a number of at least 0")
    return float(amount)


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


def read_event_log(source: EventLogSource) -> ReadLog:
    """Every file of ``source`` in order, read in one pass (a rolling log's files are one stream)."""
    app = ReadLog(source=source)
    reader = _Reader(app)
    for path in source.files:
        lines = LogLines(path)
        reader.read(lines, path.name)
        app.decode.append(lines.stats)
        app.oversized_lines += lines.oversized_lines
        app.unterminated_last_line = lines.unterminated_last_line  # only the last file's counts
    app.event_counts = {name.decode(errors="replace"): n for name, n in reader.counts.items()}
    for stage in app.stages.values():  # kept per stage on the hot path, summed once here
        app.tasks += len(stage.task_ms)
        app.seen(stage.first_launch_ms)
        app.seen(stage.last_finish_ms)
    return app
