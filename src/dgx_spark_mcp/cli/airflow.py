"""Commands: ``dag-runs`` (list_dag_runs) and ``diagnose-run`` (diagnose_dag_run), over the configured Airflow or a
folder of task logs; ``--json`` prints exactly the tool's structured output."""

from __future__ import annotations

import argparse
from typing import Any

from ..settings import Settings
from .output import detail_flag, emit, footer, json_flag, page_flags

__all__ = ["add_commands"]


def _render_runs(result: Any) -> str:
    lines = [f"{result.airflow}: {result.total} run(s)" + (f", {result.failed_total} failed" if result.failed_total
                                                               is not None else "")]
    for run in result.runs:
        took = f" {run.duration_s:g}s" if run.duration_s is not None else ""
        lines.append(f"  {run.state:<8} {run.dag_id}  {run.run_id}  {run.start_date or '-'}{took}")
    for error in result.import_errors:
        lines.append(f"  import error: {error.filename}: {error.error}")
    lines += footer([], result.next_cursor and f"--cursor {result.next_cursor}", more_label="next page")
    return "\n".join(lines)


def _render_diagnosis(result: Any) -> str:
    lines = [result.summary, f"source: {result.source}"]
    if result.task_states:
        lines.append("tasks: " + ", ".join(f"{n} {state}" for state, n in result.task_states.items()))
    for f in result.findings:
        where = f"{f.task_id}" + (f"[{f.map_index}]" if f.map_index is not None else "") + f" try {f.try_number}"
        lines.append(f"- {where}: {f.error or f.title or f.note}")
        if f.rule_id:
            lines.append(f"    {f.severity} {f.rule_id}: {f.root_cause}")
        for line in f.evidence:
            lines.append(f"    | {line}")
        if f.fix:
            lines.append(f"    fix: {f.fix}")
    for u in result.upstream_failed:
        lines.append(f"upstream_failed: {u.blocked_total} task(s) because {u.failed_task} failed: {', '.join(u.blocked)}")
    for app in result.spark_applications:
        lines.append(f"spark application {app.app_id} ({app.task_id} try {app.try_number})"
                     + (f": {'; '.join(app.findings)}" if app.findings else ""))
    for error in result.import_errors:
        lines.append(f"import error: {error.filename}: {error.error}")
    lines += footer(result.notes, result.more, note="note", more_label="more")
    return "\n".join(lines)


def _cmd_dag_runs(args: argparse.Namespace, settings: Settings) -> None:
    from ..live.airflow_runs import list_dag_runs

    result = list_dag_runs(settings, dag_id=args.dag_id, state=args.state, since=args.since, limit=args.limit,
                           cursor=args.cursor)
    emit(result, args.json, _render_runs)


def _cmd_diagnose_run(args: argparse.Namespace, settings: Settings) -> None:
    from ..live.airflow_diagnosis import diagnose_dag_run

    result = diagnose_dag_run(settings, args.dag_id, args.run_id, path=args.path, limit=args.limit, detail=args.detail)
    emit(result, args.json, _render_diagnosis)


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    runs = sub.add_parser("dag-runs", parents=[common], help="Airflow DAG runs, failed first (list_dag_runs)")
    runs.add_argument("--dag-id", help="only this DAG")
    runs.add_argument("--state", choices=["queued", "running", "success", "failed"])
    runs.add_argument("--since", help="runs since: ISO 8601 or 'last 24h'")
    page_flags(runs, "runs")
    json_flag(runs, "list_dag_runs")
    runs.set_defaults(handler=_cmd_dag_runs)

    dia = sub.add_parser("diagnose-run", parents=[common], help="why an Airflow DAG run failed (diagnose_dag_run)")
    dia.add_argument("dag_id", nargs="?", help="the DAG (default: the latest failed run of any DAG)")
    dia.add_argument("run_id", nargs="?", help="the run (default: the DAG's latest failed run)")
    dia.add_argument("--path", help="a folder of task logs ($AIRFLOW_HOME/logs) or one log, instead of the API")
    dia.add_argument("--limit", type=int, default=10, help="most failed tries read (default 10)")
    detail_flag(dia, "full adds every task instance and up to 5 findings per try with evidence")
    json_flag(dia, "diagnose_dag_run")
    dia.set_defaults(handler=_cmd_diagnose_run)
