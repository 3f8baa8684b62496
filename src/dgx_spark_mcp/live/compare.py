"""Two runs of one job side by side: what was configured differently, where the time went differently, and why
the slower one is slower, in one sentence with the figures.

Built on the event-log analysis of both runs (each fetched as ``analyze_event_log`` fetches it), so the
figures are the ones that analysis reports.  Stages are matched by name (paths reduced to file names, so
``collect at /tmp/x/job.py:9`` matches across machines) in the order they ran, with difflib aligning the
two sequences: a stage only one run has (AQE adds and skips stages) stays unmatched instead of shifting
every pair after it.  SQL executions are matched the same way by description, and their input, shuffle
and spill are summed over the stages of their jobs.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from ..errors import BadInputError
from ..settings import Settings
from .compare_reason import Run, reason
from .config_diff import ConfigDifference, config_differences, spark_properties

if TYPE_CHECKING:
    from ..diagnosis.eventlogs.models import EventLogAnalysis, StageSummary

__all__ = ["AppSide", "ChangedFigures", "SparkAppComparison", "compare_apps"]

Pair = list[Any]
SUMMARY_CONFIG = 8
SUMMARY_STAGES = 5
SUMMARY_SQL = 3
FULL_ROWS = 100
ANALYSIS_LIMIT = 1000
NOTABLE = 0.10
"""A figure is shown as changed when the two runs' values differ by more than this share (and are not both tiny)."""
_PATHS = re.compile(r"(?:[A-Za-z]:)?(?:/[^/\s:]+)+/")


class AppSide(BaseModel):
    app: str = Field(description="server/app-id[/attempt]")
    name: str | None = None
    spark_version: str | None = None
    duration_ms: int | None = None
    complete: bool = True


class ChangedFigures(BaseModel):
    """A stage or SQL execution matched in both runs: its ids, its time, and the figures that differ, as [a, b]."""

    name: str
    ids: Pair = Field(description="[a's id, b's id]")
    duration_ms: Pair
    changed: dict[str, Pair] = Field(default_factory=dict, description="Figures that differ by over 10%: [a, b].")


class SparkAppComparison(BaseModel):
    """Run a against run b: the reason first, then the totals, the configuration and the stages that differ."""

    a: AppSide
    b: AppSide
    slower: Literal["a", "b"] | None = Field(default=None, description="Absent when both took about as long.")
    reason: str
    totals: dict[str, Pair] = Field(description="Whole-run figures: [a, b].")
    config: list[ConfigDifference] = Field(default_factory=list, description="Differing Spark properties, those that "
                                           "change performance first; ids, ports, hosts and times left out.")
    config_total: int
    stages: list[ChangedFigures] = Field(default_factory=list, description="Matched stages, the largest time "
                                         "difference first.")
    stages_unmatched: list[str] = Field(default_factory=list, description="Stages only one run had: 'a: name' or 'b: "
                                        "name' (full answer only).")
    sql: list[ChangedFigures] = Field(default_factory=list, description="Matched SQL executions, largest difference "
                                      "first.")
    notes: list[str] = Field(default_factory=list)
    more: str | None = None


def _name(text: str) -> str:
    return _PATHS.sub("", text or "").strip()[:120]


def _stage_rows(analysis: EventLogAnalysis) -> list[dict[str, Any]]:
    """One row per stage id (its attempts summed), in the order the stages ran."""
    rows: dict[int, dict[str, Any]] = {}
    stages: Sequence[StageSummary] = analysis.stages
    for s in sorted(stages, key=lambda s: (s.stage_id, s.attempt)):
        row = rows.setdefault(s.stage_id, {"id": s.stage_id, "name": _name(s.name), "duration_ms": 0, "tasks": 0,
                                           "input_bytes": 0, "shuffle_read_bytes": 0, "shuffle_write_bytes": 0,
                                           "spill_bytes": 0, "task_skew": None, "failed_tasks": 0})
        row["duration_ms"] += s.duration_ms or 0
        row["tasks"] += s.tasks
        row["input_bytes"] += s.input_bytes
        row["shuffle_read_bytes"] += s.shuffle_read_bytes
        row["shuffle_write_bytes"] += s.shuffle_write_bytes
        row["spill_bytes"] += s.memory_spilled_bytes + s.disk_spilled_bytes
        row["failed_tasks"] += s.failed_tasks
        row["task_skew"] = max(filter(None, (row["task_skew"], s.task_skew)), default=None)
    return list(rows.values())


def _sql_rows(analysis: EventLogAnalysis, stages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_stage = {row["id"]: row for row in stages}
    job_stages = {job.job_id: job.stage_ids for job in analysis.jobs}
    rows = []
    for run in sorted(analysis.sql, key=lambda q: q.execution_id):
        ids = {sid for job in run.job_ids for sid in job_stages.get(job, [])}
        parts = [by_stage[i] for i in ids if i in by_stage]
        rows.append({"id": run.execution_id, "name": _name(run.description), "duration_ms": run.duration_ms or 0,
                     **{k: sum(p[k] for p in parts) for k in ("input_bytes", "shuffle_read_bytes",
                                                                "shuffle_write_bytes", "spill_bytes")}})
    return rows


def _differs(x: Any, y: Any) -> bool:
    if x is None or y is None:
        return bool(x != y)
    big = max(abs(x), abs(y))
    return bool(big > 0 and abs(x - y) / big > NOTABLE and not (big < 1.5 and isinstance(x, float)))


def _match(a_rows: list[dict[str, Any]], b_rows: list[dict[str, Any]]) -> tuple[list[ChangedFigures], list[str]]:
    """Pairs aligned by name in run order (equal-length runs of renamed rows paired by position); the rest unmatched."""
    matcher = difflib.SequenceMatcher(a=[r["name"] for r in a_rows], b=[r["name"] for r in b_rows], autojunk=False)
    pairs, unmatched = [], []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal" or (op == "replace" and i2 - i1 == j2 - j1):
            pairs += list(zip(a_rows[i1:i2], b_rows[j1:j2], strict=True))
        else:
            unmatched += [f"a: {r['name']} (stage {r['id']})" for r in a_rows[i1:i2]]
            unmatched += [f"b: {r['name']} (stage {r['id']})" for r in b_rows[j1:j2]]
    out = []
    for x, y in pairs:
        changed = {k: [x[k], y[k]] for k in x if k not in ("id", "name", "duration_ms") and _differs(x[k], y[k])}
        out.append(ChangedFigures(name=x["name"] if x["name"] == y["name"] else f"{x['name']} | {y['name']}",
                                  ids=[x["id"], y["id"]], duration_ms=[x["duration_ms"], y["duration_ms"]],
                                  changed=changed))
    out.sort(key=lambda c: -abs(c.duration_ms[0] - c.duration_ms[1]))
    return out, unmatched


def _run(ref: str, analysis: EventLogAnalysis, properties: dict[str, str]) -> Run:
    t = analysis.totals
    return Run(ref=ref, duration_ms=analysis.app.duration_ms, tasks=t.tasks, failed_tasks=t.failed_tasks,
               input_bytes=t.input_bytes, shuffle_bytes=t.shuffle_read_bytes + t.shuffle_write_bytes,
               spill_bytes=t.memory_spilled_bytes + t.disk_spilled_bytes, gc_share=t.gc_share,
               executors=analysis.executors.max_concurrent, properties=properties)


def _totals(a: Run, b: Run) -> dict[str, Pair]:
    names = ("duration_ms", "tasks", "failed_tasks", "input_bytes", "shuffle_bytes", "spill_bytes", "gc_share",
             "executors")
    return {name: [getattr(a, name), getattr(b, name)] for name in names}


def _side(ref: str, analysis: EventLogAnalysis) -> AppSide:
    app = analysis.app
    return AppSide(app=ref, name=app.name, spark_version=app.spark_version, duration_ms=app.duration_ms,
                   complete=app.complete)


def _analyse(settings: Settings, ref: str) -> tuple[str, EventLogAnalysis, dict[str, str]]:
    from ..diagnosis.eventlogs.analysis import analyze_event_log
    from ..diagnosis.eventlogs.files import locate_event_log
    from .history import fetch_event_log, reading_settings

    fetched = fetch_event_log(settings, ref)
    readable = reading_settings(settings, fetched)
    analysis = analyze_event_log(fetched.path, readable, None, ANALYSIS_LIMIT, detail="full")
    return fetched.source, analysis, spark_properties(locate_event_log(fetched.path, readable).files)


def compare_apps(settings: Settings, a: str, b: str, detail: Literal["summary", "full"] = "summary") -> SparkAppComparison:
    """Compare the runs ``a`` and ``b`` (application references) from their event logs."""
    first, second = _analyse(settings, a), _analyse(settings, b)
    if first[0] == second[0]:
        raise BadInputError(f"a and b are the same application ({first[0]}); give two runs, e.g. yesterday's and "
                            "today's (list_spark_apps name=... lists a job's runs)")
    (ref_a, an_a, props_a), (ref_b, an_b, props_b) = first, second
    run_a, run_b = _run(ref_a, an_a, props_a), _run(ref_b, an_b, props_b)
    stages_a, stages_b = _stage_rows(an_a), _stage_rows(an_b)
    stages, unmatched = _match(stages_a, stages_b)
    sql, _ = _match(_sql_rows(an_a, stages_a), _sql_rows(an_b, stages_b))
    config = config_differences(props_a, props_b)
    slower, sentence = reason(run_a, run_b, config, stages, unmatched)
    notes = []
    if not (an_a.app.complete and an_b.app.complete):
        notes.append("at least one log is incomplete (a running or crashed app): its figures cover only what was logged")
    if max(an_a.stages_total, an_b.stages_total) > ANALYSIS_LIMIT:
        notes.append(f"only the {ANALYSIS_LIMIT} longest stages of each run were compared")
    full = detail == "full"
    shown = (len(config) if full else SUMMARY_CONFIG, len(stages) if full else SUMMARY_STAGES,
             len(sql) if full else SUMMARY_SQL)
    cut = [f"{n - m} {what}" for n, m, what in ((len(config), shown[0], "config differences"),
                                                 (len(stages), shown[1], "matched stages"),
                                                 (len(sql), shown[2], "SQL executions")) if n > m]
    if not full and unmatched:
        cut.append(f"{len(unmatched)} stages only one run had")
    return SparkAppComparison(
        a=_side(ref_a, an_a), b=_side(ref_b, an_b), slower=slower, reason=sentence, totals=_totals(run_a, run_b),
        config=config[:min(shown[0], FULL_ROWS)], config_total=len(config), stages=stages[:min(shown[1], FULL_ROWS)],
        stages_unmatched=unmatched[:FULL_ROWS] if full else [], sql=sql[:min(shown[2], FULL_ROWS)], notes=notes,
        more=(f"detail='full' adds {', '.join(cut)}" if cut and not full else None),
    )
