"""``dgx-spark-mcp telemetry ...``: ingest, collect, sample, gpus/hosts, query, report, plot."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..errors import BadInputError
from ..settings import Settings
from .output import emit

__all__ = ["add_telemetry"]


def _engine(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    return {"engine": args.engine or settings.telemetry_engine, "spark_master": args.spark_master or settings.spark_master}


def _cmd_tele_ingest(args: argparse.Namespace, settings: Settings) -> None:
    from ..telemetry.ingest import ingest
    from ..telemetry.ingest_summary import summarize_ingest
    from ..telemetry.render import render_ingest

    def progress(done: float, total: float | None, message: str) -> None:
        if not args.json:
            print(f"  {message}", file=sys.stderr, flush=True)

    emit(summarize_ingest(ingest(args.source, settings, progress=progress)), args.json, render_ingest)


def _cmd_tele_collect(args: argparse.Namespace, settings: Settings) -> None:
    from ..telemetry.queries import parse_bucket
    from ..telemetry.render import render_sample
    from ..telemetry.sampler import collect

    result = collect(settings, float(parse_bucket(args.interval)), flush_every_s=float(parse_bucket(args.flush_every)),
                     on_flush=lambda c: print(f"stored {c.stored} samples so far", file=sys.stderr, flush=True))
    emit(result, args.json, render_sample)


def _cmd_tele_sample(args: argparse.Namespace, settings: Settings) -> None:
    from ..telemetry.render import render_sample
    from ..telemetry.sampler import sample_gpus

    emit(sample_gpus(settings, args.duration, args.interval), args.json, render_sample)


def _cmd_tele_gpus(args: argparse.Namespace, settings: Settings) -> None:
    from ..telemetry.inventory import LIST_LIMIT, list_gpus
    from ..telemetry.render import render_gpus

    result = list_gpus(settings, by=args.by, host=args.host_name, detail=args.detail,
                       limit=LIST_LIMIT if args.limit is None else args.limit,
                       cursor=args.cursor, **_engine(args, settings))
    emit(result, args.json, render_gpus)


def _cmd_tele_query(args: argparse.Namespace, settings: Settings) -> None:
    from ..telemetry.queries import query_telemetry
    from ..telemetry.render import render_series

    result = query_telemetry(settings, uuid=args.uuid, host=args.host_name, gpu_index=args.gpu_index, metrics=args.metric,
                             start=args.start, end=args.end, bucket=args.bucket, aggregates=args.aggregate,
                             detail=args.detail, limit=args.limit, cursor=args.cursor, **_engine(args, settings))
    emit(result, args.json, render_series)


def _cmd_tele_report(args: argparse.Namespace, settings: Settings) -> None:
    from ..telemetry.render import render_report
    from ..telemetry.report import telemetry_report

    result = telemetry_report(settings, start=args.start, end=args.end, group_by=args.group_by,
                              gpu_hour_usd=args.gpu_hour_usd, detail=args.detail, limit=args.limit, cursor=args.cursor,
                              **_engine(args, settings))
    emit(result, args.json, render_report)


def _cmd_tele_plot(args: argparse.Namespace, settings: Settings) -> None:
    from ..telemetry.plot import plot_telemetry

    plot = plot_telemetry(settings, args.metric, uuids=args.uuid and [args.uuid], host=args.host_name,
                          gpu_index=args.gpu_index, start=args.start, end=args.end, bucket=args.bucket)
    out = Path(args.output).expanduser().resolve()
    if not out.parent.is_dir():
        raise BadInputError(f"--output {args.output}: the folder {out.parent} does not exist; create it or choose another path")
    out.write_bytes(plot.png)
    print(plot.caption() + f"\nwritten: {out} ({plot.width_px}x{plot.height_px} px)")


def add_telemetry(sub: Any, common: argparse.ArgumentParser) -> None:
    tele = sub.add_parser("telemetry", parents=[common], help="GPU telemetry: ingest, collect, query, report, plot")
    tsub = tele.add_subparsers(dest="telemetry_command", metavar="TELEMETRY_COMMAND", required=True)
    engine = argparse.ArgumentParser(add_help=False)
    engine.add_argument("--engine", choices=["duckdb", "spark"],
                        help="query engine (env DGX_SPARK_MCP_TELEMETRY_ENGINE; default duckdb)")
    engine.add_argument("--spark-master", help="with --engine spark: local[*] (default), a master URL, or sc://host:15002 "
                        "(env DGX_SPARK_MCP_SPARK_MASTER)")
    select = argparse.ArgumentParser(add_help=False)
    select.add_argument("--uuid", help="one GPU by uuid")
    select.add_argument("--host-name", help="a host's GPUs (with --gpu-index: one of them)")
    select.add_argument("--gpu-index", type=int, help="with --host-name: the GPU's index on that host")
    select.add_argument("--start", help="ISO 8601 (UTC when no zone) or relative: 'last 1h'")
    select.add_argument("--end", help="ISO 8601 (default: now)")
    select.add_argument("--bucket", help="bucket width: 10s, 1m, 5m, 1h, 1d")
    paged = argparse.ArgumentParser(add_help=False)  # the tools' detail and pages, and their JSON output
    paged.add_argument("--detail", choices=["summary", "full"], default="summary",
                       help="summary (default): the answer and its top items; full: everything, paged")
    paged.add_argument("--limit", type=int, help="rows (GPUs, points) per page")
    paged.add_argument("--cursor", help="the next_cursor of the previous page")
    paged.add_argument("--json", action="store_true", help="print the tool's JSON output")

    ing = tsub.add_parser("ingest", parents=[common], help="import a DCGM CSV (long or wide) or Prometheus text, or scrape a URL")
    ing.add_argument("source", help="a file under the allowed roots, or http://host:9400/metrics")
    ing.add_argument("--json", action="store_true", help="print the tool's JSON output")
    ing.set_defaults(handler=_cmd_tele_ingest)

    col = tsub.add_parser("collect", parents=[common], help="sample this machine's GPUs until Ctrl-C, storing as it goes")
    col.add_argument("--interval", default="1s", help="time between samples (default 1s; at least 0.1s)")
    col.add_argument("--flush-every", default="10s", help="time between commits to the store (default 10s)")
    col.add_argument("--json", action="store_true", help="print the result as JSON when stopped")
    col.set_defaults(handler=_cmd_tele_collect)

    smp = tsub.add_parser("sample", parents=[common], help="sample this machine's GPUs for a while (the sample_gpus tool)")
    smp.add_argument("--duration", type=float, default=10.0, help="seconds (at most 300; default 10)")
    smp.add_argument("--interval", type=float, default=1.0, help="seconds between samples (default 1)")
    smp.add_argument("--json", action="store_true", help="print the tool's JSON output")
    smp.set_defaults(handler=_cmd_tele_sample)

    for name, by, what in (("gpus", "gpu", "the GPUs in the store with their latest values"),
                           ("hosts", "host", "the hosts in the store")):  # both: the list_gpus tool
        gp = tsub.add_parser(name, parents=[common, engine, paged], help=what)
        gp.add_argument("--host-name", help="only this host")
        gp.set_defaults(handler=_cmd_tele_gpus, by=by)

    qr = tsub.add_parser("query", parents=[common, engine, select, paged],
                         help="statistics of stored series, or their points (--detail full), raw or bucketed")
    qr.add_argument("--metric", action="append", help="metric alias or DCGM name (repeatable; default all)")
    qr.add_argument("--aggregate", action="append", choices=["avg", "min", "max", "p95"], help="with --bucket (repeatable)")
    qr.set_defaults(handler=_cmd_tele_query)

    rp = tsub.add_parser("report", parents=[common, engine, paged], help="usage, health and cost over a window")
    rp.add_argument("--start", help="ISO 8601 or 'last 1d' (default: all stored)")
    rp.add_argument("--end", help="ISO 8601 (default: now)")
    rp.add_argument("--group-by", choices=["gpu", "host", "model", "pod", "namespace"], default="gpu")
    rp.add_argument("--gpu-hour-usd", type=float, help="price of an effective GPU-hour (default from data/prices.json)")
    rp.set_defaults(handler=_cmd_tele_report)

    pl = tsub.add_parser("plot", parents=[common, select], help="a PNG chart of stored telemetry")
    pl.add_argument("metric", nargs="+", help="metric aliases or DCGM names, e.g. gpu_util power")
    pl.add_argument("--output", "-o", required=True, help="PNG file to write")
    pl.set_defaults(handler=_cmd_tele_plot)
