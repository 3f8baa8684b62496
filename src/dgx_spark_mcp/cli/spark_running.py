"""``dgx-spark-mcp app-status [REF]``: the spark_app_status tool at a terminal.

``--json`` prints exactly the tool's structured output; without it the same answer is laid out for
people: the headline, the findings with their fixes, then the active work.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..settings import Settings
from .output import detail_flag, emit, json_flag

__all__ = ["add_commands", "render_status"]


def _cmd_app_status(args: argparse.Namespace, settings: Settings) -> None:
    from ..live.running import status

    emit(status(settings, args.ref, detail=args.detail), args.json, render_status)


def _tasks(done: int, total: int) -> str:
    return f"{done}/{total} tasks" + (f" ({done / total:.0%})" if total else "")


def render_status(result: Any) -> str:
    """The answer as text: what is wrong first, then what runs."""
    lines = [result.headline]
    if result.running_apps:
        lines += ["", "Incomplete on History Servers:", *(f"  {r}" for r in result.running_apps)]
    if result.findings:
        lines += ["", f"Findings ({len(result.findings)} of {result.findings_total}):"]
        for f in result.findings:
            lines += [f"  [{f.severity}] {f.category}: {f.what}", f"      fix: {f.fix}"]
    if result.jobs:
        lines += ["", f"Active jobs ({len(result.jobs)} of {result.jobs_total}):"]
        lines += [f"  job {j.job} {j.name!r}: {_tasks(j.tasks_done, j.tasks_total)}, running {j.running_s or 0:g} s"
                  + (f", {j.failed} failed" if j.failed else "") for j in result.jobs]
    if result.stages:
        lines += ["", f"Active stages ({len(result.stages)} of {result.stages_total}):"]
        for s in result.stages:
            lines.append(f"  stage {s.stage}.{s.attempt} {s.name!r}: {_tasks(s.tasks_done, s.tasks_total)}, "
                         f"{s.running} running, {s.failed} failed, for {s.running_s or 0:g} s")
            if s.task_s:
                lines.append(f"      task s p5/25/50/75/95/max: {' / '.join(f'{v:g}' for v in s.task_s)}")
            if s.skew:
                lines.append("      skew (max/median): " + ", ".join(f"{k} {v:g}x" for k, v in s.skew.items()))
            lines += [f"      straggler: task {t.task} on {t.executor} running {t.running_s:g} s"
                      + (f" ({t.x_median:g}x median)" if t.x_median else "") for t in s.stragglers]
            if s.note:
                lines.append(f"      note: {s.note}")
    if result.executors:
        e = result.executors
        lines += ["", f"Executors: {e.active} active, {e.dead} dead, {e.cores} cores, {e.running} tasks running, "
                      f"{e.failed} failed" + (f", GC {e.gc_share:.1%} of task time" if e.gc_share is not None else "")]
        for x in e.listed:
            memory = f", storage {x.memory_mib[0]:g}/{x.memory_mib[1]:g} MiB" if x.memory_mib else ""
            lines.append(f"  {x.id} {x.host or ''}: {x.running} running, {x.done} done, {x.failed} failed"
                         + (f", GC {x.gc_share:.1%}" if x.gc_share is not None else "") + memory
                         + (f", removed: {x.removed}" if x.removed else ""))
    if result.failures:
        lines += ["", f"Failed task attempts ({result.failures_total} read):"]
        lines += [f"  {g.count}x {g.category}: {g.reason} (stages {', '.join(map(str, g.stages))})"
                  for g in result.failures]
    if result.sql:
        lines += ["", f"SQL in flight ({len(result.sql)} of {result.sql_total}):"]
        lines += [f"  {q.sql} {q.description!r}: running {q.running_s or 0:g} s; {q.plan or 'no plan'}"
                  + (f"; plan findings: {', '.join(q.findings)}" if q.findings else "") for q in result.sql]
    if result.missing:
        lines += ["", "Not read:", *(f"  {m}" for m in result.missing)]
    if result.more:
        lines += ["", result.more]
    return "\n".join(lines)


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    cmd = sub.add_parser("app-status", parents=[common],
                         help="what a running Spark application is doing now and what is wrong with it")
    cmd.add_argument("ref", metavar="REF", nargs="?",
                     help="app-id, server/app-id, server/app-id/attempt, or a server alone (its running application); "
                          "default: the one running on this machine")
    detail_flag(cmd, "full lists more stages, jobs, executors, failure groups and plans")
    json_flag(cmd, "spark_app_status")
    cmd.set_defaults(handler=_cmd_app_status)
