"""Commands: ``apps`` (list_spark_apps) and ``compare`` (compare_spark_apps), over the configured History Servers.

``--json`` prints exactly the tool's structured output; without it, a few lines for people.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..settings import Settings
from .output import detail_flag, emit, footer, json_flag, page_flags

__all__ = ["add_commands"]


def _render_apps(result: Any) -> str:
    from ..live.apps import describe

    lines = [describe(app) for app in result.apps]
    counts = ", ".join(f"{n} {status}" for status, n in result.counts.items())
    lines.append(f"{len(result.apps)} of {result.total} application(s)" + (f" ({counts})" if counts else ""))
    lines += [f"server {p.server} could not be listed: {p.error}" for p in result.failed_servers]
    lines += footer(result.notes, result.next_cursor and f"--cursor {result.next_cursor}")
    return "\n".join(lines)


def _render_comparison(result: Any) -> str:
    from ..live.compare_reason import bytes_text, duration_text

    def figure(key: str, value: Any) -> str:
        if value is None:
            return "-"
        if key.endswith("_ms"):
            return duration_text(value)
        if key.endswith("_bytes"):
            return bytes_text(value)
        if key in ("gc_share",):
            return f"{value:.0%}"
        return f"{value:,}" if isinstance(value, int) else str(value)

    lines = [f"a: {result.a.app} {result.a.name!r}", f"b: {result.b.app} {result.b.name!r}", result.reason, "",
             "Totals (a vs b):"]
    lines += [f"  {key}: {figure(key, x)} vs {figure(key, y)}" for key, (x, y) in result.totals.items()]
    if result.config:
        lines += ["", f"Configuration ({len(result.config)} of {result.config_total} differences):"]
        lines += [f"  {d.key}: {d.a or 'unset'} vs {d.b or 'unset'}" for d in result.config]
    if result.stages:
        lines += ["", "Stages (largest time difference first):"]
        for s in result.stages:
            changed = ", ".join(f"{k} {figure(k, x)} vs {figure(k, y)}" for k, (x, y) in s.changed.items())
            lines.append(f"  {s.ids[0]}/{s.ids[1]} {s.name}: {figure('duration_ms', s.duration_ms[0])} vs "
                         f"{figure('duration_ms', s.duration_ms[1])}" + (f" ({changed})" if changed else ""))
    if result.sql:
        lines += ["", "SQL executions:"]
        lines += [f"  {q.ids[0]}/{q.ids[1]} {q.name}: {figure('duration_ms', q.duration_ms[0])} vs "
                  f"{figure('duration_ms', q.duration_ms[1])}" for q in result.sql]
    lines += [f"Only in one run: {u}" for u in result.stages_unmatched]
    lines += footer(result.notes, result.more)
    return "\n".join(lines)


def _cmd_apps(args: argparse.Namespace, settings: Settings) -> None:
    from ..live.apps import list_apps

    result = list_apps(settings, status=args.status, since=args.since, name=args.name, server=args.server,
                       limit=args.limit, cursor=args.cursor)
    emit(result, args.json, _render_apps)


def _cmd_compare(args: argparse.Namespace, settings: Settings) -> None:
    from ..live.compare import compare_apps

    emit(compare_apps(settings, args.a, args.b, detail=args.detail), args.json, _render_comparison)


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    apps = sub.add_parser("apps", parents=[common], help="Spark applications on the History Servers and local driver UIs")
    apps.add_argument("--status", choices=["running", "failed", "completed"])
    apps.add_argument("--since", help="an ISO time or 'last 24h': applications running then or ended since")
    apps.add_argument("--name", help="only applications whose name contains this")
    apps.add_argument("--server", help="one configured server by name, or 'local' for driver UIs on this machine")
    page_flags(apps, "applications")
    json_flag(apps, "list_spark_apps")
    apps.set_defaults(handler=_cmd_apps)

    cmp = sub.add_parser("compare", parents=[common], help="why one run of a Spark job is slower than another")
    cmp.add_argument("a", metavar="A", help="an application: app-id, server/app-id or server/app-id/attempt")
    cmp.add_argument("b", metavar="B", help="the other run")
    detail_flag(cmp, "full adds every configuration difference, matched stage and SQL execution")
    json_flag(cmp, "compare_spark_apps")
    cmp.set_defaults(handler=_cmd_compare)
