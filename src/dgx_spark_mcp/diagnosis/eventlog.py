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
shape, is counted as malformed and skipped; a few of them are kept as examples with their
file and line number.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .app_log import AppLog, ExecutorRun, FailureGroup, JobRun, SqlRun, StageRun
from .codecs import LogLines
from .eventlog_files import EventLogSource
from .failure_text import exception_message, first_line, message_key

if TYPE_CHECKING:  # msgspec loads with the first read, not with the server
    from .spark_events import TaskEnd, TaskEndReason

__all__ = ["PLAN_CHARS_KEPT", "plan_outline", "read_event_log"]

PLAN_CHARS_KEPT = 20_000
"""Plan outline kept per SQL execution while reading; the result cuts it further."""
_EXAMPLES_KEPT = 5
_IDS_KEPT = 10

Event = dict[str, Any]


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
_SHAPE_ERRORS = (KeyError, TypeError, AttributeError, ValueError, IndexError, OverflowError)


class _Reader:
    """Holds the :class:`AppLog` being built and one handler per parsed event type."""

    def __init__(self, app: AppLog) -> None:
        import msgspec

        from .spark_events import TASK_END

        self.app = app
        self.loads: Callable[[bytes], Any] = msgspec.json.Decoder().decode
        self.task_end = TASK_END.decode
        self.stages = app.stages
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
        decode_task_end, on_task_end = self.task_end, self._task_end
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
                        try:
                            on_task_end(decode_task_end(view[pos:stop]))
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
        try:
            event = self.loads(line)
        except ValueError as exc:
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
        except (ValueError, KeyError, TypeError) as exc:
            self._malformed(label, number, f"not a Spark event ({_short(exc)})")
            return
        key = str(name).encode()
        self.counts[key] = self.counts.get(key, 0) + 1
        if key == _TASK_END:
            self._dispatch(line, lambda event: self._task_end(self.task_end(line)), label, number)
        elif (handler := self.handlers.get(key)) is not None:
            self._dispatch(line, handler, label, number)

    def _malformed(self, label: str, number: int, why: str) -> None:
        self.app.malformed_lines += 1
        if len(self.app.malformed_examples) < _EXAMPLES_KEPT:
            self.app.malformed_examples.append(f"{label} line {number}: {why}")

    # -- application --

    def _log_start(self, e: Event) -> None:
        self.app.spark_version = e["Spark Version"]

    def _app_start(self, e: Event) -> None:
        app = self.app
        app.app_name, app.app_id, app.user = e.get("App Name"), e.get("App ID"), e.get("User")
        app.attempt_id = e.get("App Attempt ID")
        app.start_ms = e.get("Timestamp")
        app.seen(app.start_ms)

    def _app_end(self, e: Event) -> None:
        self.app.end_ms = e["Timestamp"]
        self.app.seen(self.app.end_ms)

    def _environment(self, e: Event) -> None:
        props = e.get("Spark Properties") or {}
        pairs = props.items() if isinstance(props, dict) else props  # very old logs: [[key, value], ...]
        self.app.properties.update({str(k): str(v) for k, v in pairs})
        self.app.environment_seen = True
        self.app.java_version = (e.get("JVM Information") or {}).get("Java Version")

    def _resource_profile(self, e: Event) -> None:
        if e.get("Resource Profile Id") == 0:
            requests = e.get("Executor Resource Requests") or {}
            self.app.default_profile = {k: float(v.get("Amount", 0)) for k, v in requests.items()}

    def _rapids_build(self, e: Event) -> None:
        self.app.rapids_version = (e.get("sparkRapidsBuildInfo") or {}).get("version")

    # -- executors --

    def _executor_added(self, e: Event) -> None:
        info = e["Executor Info"]
        gpus = len(((info.get("Resources") or {}).get("gpu") or {}).get("addresses") or [])
        eid = str(e["Executor ID"])
        self.app.executors[eid] = ExecutorRun(eid, info.get("Host"), int(info.get("Total Cores") or 0), gpus, e.get("Timestamp"))
        self.app.seen(e.get("Timestamp"))

    def _executor_removed(self, e: Event) -> None:
        eid = str(e["Executor ID"])
        run = self.app.executors.get(eid) or self.app.executors.setdefault(eid, ExecutorRun(eid, None, 0, 0, None))
        run.removed_ms, run.removed_reason = e.get("Timestamp"), first_line(e.get("Removed Reason"))
        self.app.seen(run.removed_ms)

    # -- jobs and stages --

    def _job_start(self, e: Event) -> None:
        for info in e.get("Stage Infos") or []:
            parents = tuple(int(p) for p in info.get("Parent IDs") or [])
            name, tasks = info.get("Stage Name", ""), int(info.get("Number of Tasks", 0))
            self.app.stage_info[int(info["Stage ID"])] = (name, tasks, parents)
        sql_id = (e.get("Properties") or {}).get("spark.sql.execution.id")
        job_id = int(e["Job ID"])
        stage_ids = tuple(int(s) for s in e.get("Stage IDs") or [])
        self.app.jobs[job_id] = JobRun(job_id, e.get("Submission Time"), stage_ids, int(sql_id) if sql_id else None)
        self.app.seen(e.get("Submission Time"))

    def _job_end(self, e: Event) -> None:
        job_id = int(e["Job ID"])
        job = self.app.jobs.get(job_id) or self.app.jobs.setdefault(job_id, JobRun(job_id, None, (), None))
        result = e.get("Job Result") or {}
        job.completed_ms = e.get("Completion Time")
        job.succeeded = result.get("Result") == "JobSucceeded"
        if not job.succeeded:
            job.failure = exception_message((result.get("Exception") or {}).get("Message")) or str(result.get("Result"))
        self.app.seen(job.completed_ms)

    def _stage(self, info: Event) -> StageRun:
        key = (int(info["Stage ID"]), int(info.get("Stage Attempt ID", 0)))
        stage = self.app.stages.get(key) or self._new_stage(key)
        stage.name = info.get("Stage Name", stage.name)
        stage.num_tasks = int(info.get("Number of Tasks", stage.num_tasks))
        stage.parent_ids = tuple(int(p) for p in info.get("Parent IDs") or stage.parent_ids)
        if info.get("Submission Time"):
            stage.submitted_ms = info["Submission Time"]
        return stage

    def _stage_submitted(self, e: Event) -> None:
        stage = self._stage(e["Stage Info"])
        self.app.seen(stage.submitted_ms)

    def _stage_completed(self, e: Event) -> None:
        info = e["Stage Info"]
        stage = self._stage(info)
        stage.completed_ms = info.get("Completion Time")
        stage.failure_reason = exception_message(info.get("Failure Reason")) or None
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
            self._task_failed(stage, e.reason, info.executor_id)

    def _spilled(self, stage: StageRun, executor_id: str, memory: int, disk: int) -> None:
        stage.memory_spilled += memory
        stage.disk_spilled += disk
        executor = self.app.executors.get(executor_id)
        if executor is not None:
            executor.spilled_bytes += memory + disk

    def _new_stage(self, key: tuple[int, int]) -> StageRun:
        stage = self.app.stages[key] = StageRun(int(key[0]), int(key[1]))
        return stage

    def _task_failed(self, stage: StageRun, reason: TaskEndReason, executor_id: str) -> None:
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
        if len(group.stage_ids) < _IDS_KEPT:
            group.stage_ids.add(stage.stage_id)
        if len(group.executor_ids) < _IDS_KEPT:
            group.executor_ids.add(executor_id)

    # -- SQL --

    def _plan(self, run: SqlRun, e: Event) -> None:
        text = plan_outline(e.get("physicalPlanDescription") or "")
        run.plan, run.plan_chars = text[:PLAN_CHARS_KEPT], len(text)
        run.plan_nodes, run.gpu_plan_nodes = _count_plan_nodes(e.get("sparkPlanInfo"))
        run.final_plan = "isFinalPlan=true" in text[:500]

    def _sql_start(self, e: Event) -> None:
        eid = int(e["executionId"])
        run = self.app.sql[eid] = SqlRun(eid, first_line(e.get("description"), 300), e.get("time"))
        self._plan(run, e)
        self.app.seen(run.start_ms)

    def _sql_plan_update(self, e: Event) -> None:
        run = self.app.sql.get(int(e["executionId"]))
        if run is not None:
            self._plan(run, e)

    def _sql_end(self, e: Event) -> None:
        run = self.app.sql.get(int(e["executionId"]))
        if run is not None:
            run.end_ms = e.get("time")
            run.error = first_line(e.get("errorMessage")) or None
            self.app.seen(run.end_ms)


def plan_outline(text: str) -> str:
    """The operator tree of a physical plan: a formatted plan's per-node details (after the first
    blank line) are left out; the tree says what ran, and the analyze_query_plan tool reads the rest."""
    return text.split("\n\n", 1)[0].rstrip()


def _count_plan_nodes(tree: Event | None) -> tuple[int, int]:
    """(nodes, GPU nodes) of a ``sparkPlanInfo`` tree; RAPIDS names its operators ``Gpu*``."""
    nodes = gpu = 0
    stack = [tree] if isinstance(tree, dict) else []
    while stack:
        node = stack.pop()
        nodes += 1
        if str(node.get("nodeName", "")).startswith("Gpu"):
            gpu += 1
        stack.extend(child for child in node.get("children") or [] if isinstance(child, dict))
    return nodes, gpu


def read_event_log(source: EventLogSource) -> AppLog:
    """Every file of ``source`` in order, read in one pass (a rolling log's files are one stream)."""
    app = AppLog(source=source)
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
