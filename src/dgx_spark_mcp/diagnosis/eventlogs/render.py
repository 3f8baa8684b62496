"""Plain-text view of an event-log analysis for people at a terminal (``dgx-spark-mcp eventlog``), summary or full."""

from __future__ import annotations

from ...hardware.render import table
from .models import EventLogAnalysis

__all__ = ["render_event_log"]


def _size(n: int) -> str:
    for unit, scale in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def _secs(ms: int | None) -> str:
    return "-" if ms is None else f"{ms / 1000:.1f} s"


def _ratio(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}x"


def render_event_log(r: EventLogAnalysis) -> str:
    a, t = r.app, r.totals
    out = [
        f"{a.name or '?'} ({a.app_id or 'no app id'}), Spark {a.spark_version or '?'}, "
        f"{'local mode' if a.local_mode else a.master or 'cluster'}, {_secs(a.duration_ms)}"
        + (", RAPIDS" if a.gpu.rapids_detected else "") + (", streaming" if a.streaming else ""),
        a.completeness or ("Complete." if a.complete else "Incomplete."),
    ]
    if r.reading is not None:
        out.append(
            f"Read {len(r.reading.files)} file(s) ({', '.join(r.reading.codecs)}): {r.reading.lines} lines, "
            f"{r.reading.events} events, {r.reading.malformed_lines} malformed, {_size(r.reading.decompressed_bytes)} of "
            "JSON" + (f", {r.reading.ignored_values} impossible metric value(s) left out" if r.reading.ignored_values else ""))
    out += [
        f"Jobs {t.jobs} ({t.failed_jobs} failed), stages {t.stages} ({t.failed_stages} failed, {t.skipped_stages} skipped), "
        f"tasks {t.tasks} ({t.failed_tasks} failed, {t.killed_tasks} killed"
        + (f", {t.resubmitted_tasks} resubmitted" if t.resubmitted_tasks else "") + ")",
        f"Input {_size(t.input_bytes)}, shuffle read {_size(t.shuffle_read_bytes)}, write {_size(t.shuffle_write_bytes)}, "
        f"spill {_size(t.memory_spilled_bytes)} memory / {_size(t.disk_spilled_bytes)} disk, "
        f"GC {'-' if t.gc_share is None else f'{t.gc_share:.1%}'} of run time",
    ]
    if r.stages:
        out += ["", f"Stages ({len(r.stages)} of {r.stages_total}, failed first, then the longest):"]
        out.append(table(
            ["stage", "status", "tasks", "duration", "max task", "median", "skew", "shuffle read", "spill", "name"],
            [[f"{s.stage_id}.{s.attempt}", s.status, str(s.tasks_ended), _secs(s.duration_ms), _secs(s.task_time_max_ms),
              _secs(s.task_time_median_ms), _ratio(s.task_skew), _size(s.shuffle_read_bytes),
              _size(s.memory_spilled_bytes + s.disk_spilled_bytes), s.name[:40]] for s in r.stages],
        ))
    if r.costliest_stages:
        out += ["", f"Longest stages ({len(r.costliest_stages)} of {r.stages_total}):"]
        out.append(table(
            ["stage", "status", "duration", "task time", "skew", "GC", "spill", "name"],
            [[f"{s.stage_id}.{s.attempt}", s.status, _secs(s.duration_ms), _secs(s.executor_run_time_ms),
              _ratio(s.task_skew), "-" if s.gc_share is None else f"{s.gc_share:.0%}", _size(s.spilled_bytes), s.name[:40]]
             for s in r.costliest_stages],
        ))
    if r.task_failures:
        out += ["", "Task failures:"]
        out += [f"  {f.count} x {f.category}: " + ": ".join(t for t in (f.error_class or f.reason, f.message[:160]) if t)
                + f" (stages {', '.join(map(str, f.stage_ids[:10]))})" for f in r.task_failures]
    if r.what_if is not None and r.critical_path is not None:
        w, c = r.what_if, r.critical_path
        error = "" if w.model_error is None else f", model error {w.model_error:+.0%}"
        out += ["", f"What-if ({w.observed_executors} executor(s) x {w.cores_per_executor} cores observed{error}; "
                f"critical path {_secs(c.critical_path_ms)}, driver {_secs(c.driver_ms)}):"]
        out.append(table(["executors", "estimated", "utilisation"],
                         [[str(p.executors), _secs(p.estimated_duration_ms),
                           "-" if p.utilization is None else f"{p.utilization:.0%}"] for p in w.points]))
    if r.recommendations:
        out += ["", "Recommendations:"]
        out += [f"  {c.key} = {c.recommended_value}  (now {c.current_value or 'unset'}): {c.reason}"
                + (f" [{c.ref}]" if c.ref else "") for c in r.recommendations]
        out += [f"  [{ref}] {doc}" for ref, doc in r.references.items()]
    if r.findings:
        out += ["", "Findings:"]
        out += [f"  [{f.severity}] {f.category}: {f.message}" for f in r.findings]
    out += [f"Note: {n}" for n in r.notes]
    if r.history:
        out.append(f"Run history: {r.history}")
    if r.more:
        out.append(f"More: {r.more}")
    return "\n".join(out)
