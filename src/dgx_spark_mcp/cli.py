"""The command line: ``dgx-spark-mcp [serve|hardware|profiles|gpus|tune|telemetry|config|...]``.

Each subcommand is a face over the same function as its MCP tool; ``--json`` prints exactly
the tool's structured output.  With no subcommand the stdio server starts, which is what MCP
hosts run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from . import __version__
from .errors import BadInputError, DgxSparkError
from .settings import Settings, configure_logging

__all__ = ["main"]


def _settings(args: argparse.Namespace) -> Settings:
    given = {k: v for k, v in {
        "home": args.home,
        "allowed_roots": args.allowed_roots,
        "log_level": args.log_level,
        "auth_token": getattr(args, "auth_token", None),
    }.items() if v is not None}
    return Settings.load(**given)


def _emit(result: BaseModel, as_json: bool, render: Callable[[Any], str]) -> None:
    if as_json:
        print(json.dumps(result.model_dump(mode="json"), indent=2))
    else:
        print(render(result))


def _cmd_serve(args: argparse.Namespace, settings: Settings) -> None:
    from .server import run

    run(settings, transport=args.transport, host=args.host, port=args.port)


def _cmd_hardware(args: argparse.Namespace, settings: Settings) -> None:
    from .hardware import snapshot_for
    from .hardware.render import render_snapshot

    _emit(snapshot_for(args.profile), args.json, render_snapshot)


def _cmd_profiles(args: argparse.Namespace, settings: Settings) -> None:
    from .hardware import list_profiles
    from .hardware.render import render_profiles
    from .tools.hardware import ProfileList

    _emit(ProfileList(profiles=list(list_profiles())), args.json, lambda r: render_profiles(r.profiles))


def _cmd_gpus(args: argparse.Namespace, settings: Settings) -> None:
    from .hardware import check_availability, snapshot_for
    from .hardware.render import render_availability

    result = check_availability(snapshot_for(None), args.min_free_gib, args.max_util)
    _emit(result, args.json, render_availability)


def _cmd_tune(args: argparse.Namespace, settings: Settings) -> None:
    from .optimizers.config import TuneRequest, optimize
    from .optimizers.render import render_config

    hardware: Any = args.hardware
    if hardware is not None and hardware.lstrip().startswith("{"):
        hardware = _json_arg("--hardware", hardware)
    current = _read_current_config(args.current) if args.current else None
    request = TuneRequest(
        workload=args.workload, data_size=args.data_size, hardware=hardware, nodes=args.nodes,
        deploy_mode=args.deploy_mode, gpu=args.gpu, spark_version=args.spark_version, current_config=current,
    )
    result = optimize(request)
    forms = {"conf": result.spark_defaults_conf, "submit": result.spark_submit, "k8s": result.kubernetes_manifest}
    if args.output in forms:
        form = forms[args.output]
        if form is None:
            raise BadInputError("--output k8s needs --deploy-mode kubernetes")
        print(form, end="" if form.endswith("\n") else "\n")
        return
    _emit(result, args.json, render_config)


def _cmd_estimate(args: argparse.Namespace, settings: Settings) -> None:
    from .optimizers.estimate_models import EstimateRequest
    from .optimizers.estimate_render import render_estimate
    from .optimizers.estimator import estimate

    hardware: Any = args.hardware
    if hardware is not None and hardware.lstrip().startswith("{"):
        hardware = _json_arg("--hardware", hardware)
    operations = [op.strip() for op in args.operations.split(",") if op.strip()] if args.operations else None
    request = EstimateRequest(
        description=args.description, data_size=args.data_size, operations=operations, deadline=args.deadline,
        hardware=hardware, nodes=args.nodes, gpu=args.gpu, workload=args.workload,
    )
    _emit(estimate(request, settings), args.json, render_estimate)


def _cmd_check(args: argparse.Namespace, settings: Settings) -> None:
    from .optimizers.check_render import render_check
    from .optimizers.config_sources import ConfigFormat
    from .optimizers.models import DeployMode
    from .tools.checker import run_check

    hardware: Any = args.hardware
    if hardware is not None and hardware.lstrip().startswith("{"):
        hardware = _json_arg("--hardware", hardware)
    text, path = (sys.stdin.read(), None) if args.file == "-" else (None, args.file)
    deploy = DeployMode(args.deploy_mode) if args.deploy_mode else None
    result = run_check(settings, text, path, ConfigFormat(args.format), hardware, deploy, args.language)
    _emit(result, args.json, render_check)


def _cmd_eventlog(args: argparse.Namespace, settings: Settings) -> None:
    from .diagnosis.eventlog_render import render_event_log
    from .diagnosis.run_history import analyze_and_remember

    counts = None
    if args.executors:
        try:
            counts = [int(part) for part in args.executors.split(",") if part.strip()]
        except ValueError:
            raise BadInputError(f"--executors {args.executors!r} is not a list of whole numbers; write e.g. 2,4,8") from None
    result = analyze_and_remember(args.path, settings, counts, args.limit, args.workload, args.hardware)
    _emit(result, args.json, render_event_log)


def _cmd_diagnose(args: argparse.Namespace, settings: Settings) -> None:
    from .diagnosis.diagnose import diagnose_log
    from .diagnosis.diagnose_render import render_diagnosis

    hardware: Any = args.hardware
    if hardware is not None and hardware.lstrip().startswith("{"):
        hardware = _json_arg("--hardware", hardware)
    text = sys.stdin.read() if args.file == "-" else None
    result = diagnose_log(args.file, settings, text=text, hardware=hardware, limit=args.limit, kind=args.kind)
    _emit(result, args.json, render_diagnosis)


def _cmd_plan(args: argparse.Namespace, settings: Settings) -> None:
    from .diagnosis.plan_analysis import analyze_query_plan
    from .diagnosis.plan_render import render_plan_analysis

    schema = Path(args.schema).read_text(encoding="utf-8") if args.schema else None
    if args.sql is not None:
        if args.file is not None:
            raise BadInputError("give either FILE (a plan) or --sql, not both")
        sql = sys.stdin.read() if args.sql == "-" else args.sql
        result = analyze_query_plan(None, settings, sql=sql, schema=schema, connect_url=args.connect_url)
    elif args.file in (None, "-"):
        result = analyze_query_plan(sys.stdin.read(), settings)
    else:
        result = analyze_query_plan(None, settings, path=args.file)
    _emit(result, args.json, render_plan_analysis)


def _json_arg(flag: str, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInputError(f"{flag} {text!r} is not valid JSON ({exc.msg}); give a profile name or a JSON object") from None


def _read_current_config(path: str) -> dict[str, str]:
    """Any form check_spark_config reads (spark-defaults.conf, spark-submit, source): the keys Spark would use."""
    from .optimizers.config_sources import parse_config

    text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    parsed = parse_config(text, filename=None if path == "-" else path)
    return {key: entry.value for key, entry in parsed.winners().items() if entry.value is not None}


def _cmd_config(args: argparse.Namespace, settings: Settings) -> None:
    view = settings.public_view()
    if args.json:
        print(json.dumps(view, indent=2))
    else:
        for key, value in view.items():
            print(f"{key} = {value}")


# ---- local reasoning ----------------------------------------------------------------------


def _cmd_ask(args: argparse.Namespace, settings: Settings) -> None:
    from .reasoning.ask import ask
    from .reasoning.render import render_answer

    streamed: list[str] = []

    def on_token(text: str) -> None:
        if not args.json:  # the answer as it is written; --json prints the whole result at the end
            streamed.append(text)
            print(text, end="", flush=True)

    result = ask(args.question, settings, log=args.log, event_log=args.event_log, plan=args.plan, config=args.config,
                 max_tokens=args.max_tokens, on_token=on_token)
    if streamed:
        print()
    _emit(result, args.json, lambda r: render_answer(r, streamed=bool(streamed)))


def _cmd_engine(args: argparse.Namespace, settings: Settings) -> None:
    from .reasoning.render import render_engine_status
    from .reasoning.status import engine_status

    _emit(engine_status(settings), args.json, render_engine_status)


# ---- telemetry --------------------------------------------------------------------------


def _engine(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    return {"engine": args.engine or settings.telemetry_engine, "spark_master": args.spark_master or settings.spark_master}


def _cmd_tele_ingest(args: argparse.Namespace, settings: Settings) -> None:
    from .telemetry.ingest import ingest
    from .telemetry.render import render_ingest

    def progress(done: float, total: float | None, message: str) -> None:
        if not args.json:
            print(f"  {message}", file=sys.stderr, flush=True)

    _emit(ingest(args.source, settings, progress=progress), args.json, render_ingest)


def _cmd_tele_collect(args: argparse.Namespace, settings: Settings) -> None:
    from .telemetry.queries import parse_bucket
    from .telemetry.render import render_sample
    from .telemetry.sampler import collect

    result = collect(settings, float(parse_bucket(args.interval)), flush_every_s=float(parse_bucket(args.flush_every)),
                     on_flush=lambda c: print(f"stored {c.stored} samples so far", file=sys.stderr, flush=True))
    _emit(result, args.json, render_sample)


def _cmd_tele_sample(args: argparse.Namespace, settings: Settings) -> None:
    from .telemetry.render import render_sample
    from .telemetry.sampler import sample_gpus

    _emit(sample_gpus(settings, args.duration, args.interval), args.json, render_sample)


def _cmd_tele_gpus(args: argparse.Namespace, settings: Settings) -> None:
    from .telemetry.queries import list_gpus
    from .telemetry.render import render_gpus

    _emit(list_gpus(settings, host=args.host_name, **_engine(args, settings)), args.json, render_gpus)


def _cmd_tele_hosts(args: argparse.Namespace, settings: Settings) -> None:
    from .telemetry.queries import list_hosts
    from .telemetry.render import render_hosts

    _emit(list_hosts(settings, **_engine(args, settings)), args.json, render_hosts)


def _cmd_tele_query(args: argparse.Namespace, settings: Settings) -> None:
    from .telemetry.queries import query_telemetry
    from .telemetry.render import render_series

    result = query_telemetry(settings, uuid=args.uuid, host=args.host_name, gpu_index=args.gpu_index, metrics=args.metric,
                             start=args.start, end=args.end, bucket=args.bucket, aggregates=args.aggregate, limit=args.limit,
                             cursor=args.cursor, **_engine(args, settings))
    _emit(result, args.json, render_series)


def _cmd_tele_report(args: argparse.Namespace, settings: Settings) -> None:
    from .telemetry.render import render_report
    from .telemetry.report import telemetry_report

    result = telemetry_report(settings, start=args.start, end=args.end, group_by=args.group_by,
                              gpu_hour_usd=args.gpu_hour_usd, **_engine(args, settings))
    _emit(result, args.json, render_report)


def _cmd_tele_plot(args: argparse.Namespace, settings: Settings) -> None:
    from .telemetry.plot import plot_telemetry

    plot = plot_telemetry(settings, args.metric, uuids=args.uuid and [args.uuid], host=args.host_name,
                          gpu_index=args.gpu_index, start=args.start, end=args.end, bucket=args.bucket)
    out = Path(args.output).expanduser().resolve()
    if not out.parent.is_dir():
        raise BadInputError(f"--output {args.output}: the folder {out.parent} does not exist; create it or choose another path")
    out.write_bytes(plot.png)
    print(plot.caption() + f"\nwritten: {out} ({plot.width_px}x{plot.height_px} px)")


def _add_telemetry(sub: Any, common: argparse.ArgumentParser) -> None:
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

    gp = tsub.add_parser("gpus", parents=[common, engine], help="the GPUs in the store with their latest values")
    gp.add_argument("--host-name", help="only this host's GPUs")
    gp.add_argument("--json", action="store_true", help="print the tool's JSON output")
    gp.set_defaults(handler=_cmd_tele_gpus)

    hs = tsub.add_parser("hosts", parents=[common, engine], help="the hosts in the store")
    hs.add_argument("--json", action="store_true", help="print the tool's JSON output")
    hs.set_defaults(handler=_cmd_tele_hosts)

    qr = tsub.add_parser("query", parents=[common, engine, select], help="series of stored samples, raw or bucketed")
    qr.add_argument("--metric", action="append", help="metric alias or DCGM name (repeatable; default all)")
    qr.add_argument("--aggregate", action="append", choices=["avg", "min", "max", "p95"], help="with --bucket (repeatable)")
    qr.add_argument("--limit", type=int, default=1000, help="points per page (at most 10000)")
    qr.add_argument("--cursor", help="the next_cursor of the previous page")
    qr.add_argument("--json", action="store_true", help="print the tool's JSON output")
    qr.set_defaults(handler=_cmd_tele_query)

    rp = tsub.add_parser("report", parents=[common, engine], help="usage, health and cost over a window")
    rp.add_argument("--start", help="ISO 8601 or 'last 1d' (default: all stored)")
    rp.add_argument("--end", help="ISO 8601 (default: now)")
    rp.add_argument("--group-by", choices=["gpu", "host", "model", "pod", "namespace"], default="gpu")
    rp.add_argument("--gpu-hour-usd", type=float, help="price of an effective GPU-hour (default from data/prices.json)")
    rp.add_argument("--json", action="store_true", help="print the tool's JSON output")
    rp.set_defaults(handler=_cmd_tele_report)

    pl = tsub.add_parser("plot", parents=[common, select], help="a PNG chart of stored telemetry")
    pl.add_argument("metric", nargs="+", help="metric aliases or DCGM names, e.g. gpu_util power")
    pl.add_argument("--output", "-o", required=True, help="PNG file to write")
    pl.set_defaults(handler=_cmd_tele_plot)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", help="data directory (env DGX_SPARK_MCP_HOME)")
    common.add_argument("--allowed-roots", help="directories file tools may read, os.pathsep-separated (env DGX_SPARK_MCP_ALLOWED_ROOTS)")
    common.add_argument("--log-level", help="DEBUG, INFO, WARNING, ERROR or CRITICAL; logs go to stderr (env DGX_SPARK_MCP_LOG_LEVEL)")

    parser = argparse.ArgumentParser(
        prog="dgx-spark-mcp",
        description="MCP server for NVIDIA GPU machines and Apache Spark jobs. With no command, serves MCP on stdio.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", parents=[common], help="run the MCP server (default: stdio)")
    serve.add_argument("--transport", choices=["stdio", "streamable-http", "sse"], default="stdio")
    serve.add_argument("--host", default="127.0.0.1", help="HTTP bind address (default loopback)")
    serve.add_argument("--port", type=int, default=8765, help="HTTP port (default 8765)")
    serve.add_argument("--auth-token", help="bearer token every HTTP request must carry (env DGX_SPARK_MCP_AUTH_TOKEN)")
    serve.set_defaults(handler=_cmd_serve)

    hardware = sub.add_parser("hardware", parents=[common], help="this machine's hardware, or a named profile's")
    hardware.add_argument("--profile", help="a named profile (see 'profiles') instead of this machine")
    hardware.add_argument("--json", action="store_true", help="print the detect_hardware tool's JSON")
    hardware.set_defaults(handler=_cmd_hardware)

    profiles = sub.add_parser("profiles", parents=[common], help="the named hardware profiles")
    profiles.add_argument("--json", action="store_true", help="print the list_hardware_profiles tool's JSON")
    profiles.set_defaults(handler=_cmd_profiles)

    gpus = sub.add_parser("gpus", parents=[common], help="which GPUs are free now")
    gpus.add_argument("--min-free-gib", type=float, default=1.0, help="GiB a job needs free (default 1)")
    gpus.add_argument("--max-util", type=float, default=10.0, help="highest utilisation %% still free (default 10)")
    gpus.add_argument("--json", action="store_true", help="print the check_gpu_availability tool's JSON")
    gpus.set_defaults(handler=_cmd_gpus)

    tune = sub.add_parser("tune", parents=[common], help="a Spark configuration for a job on given hardware")
    tune.add_argument("--data-size", required=True, help="input size, e.g. 800MB, 500GiB, 1.5TB, or bytes")
    tune.add_argument("--workload", default="etl", choices=["etl", "sql-analytics", "ml-training", "ml-inference", "streaming", "graph"])
    tune.add_argument("--hardware", help="a profile name or a JSON node spec (default: this machine)")
    tune.add_argument("--nodes", type=int, default=1, help="worker nodes (default 1)")
    tune.add_argument("--deploy-mode", default="standalone", choices=["local", "standalone", "yarn", "kubernetes"])
    tune.add_argument("--gpu", default="auto", choices=["auto", "on", "off"], help="RAPIDS Accelerator (default auto)")
    tune.add_argument("--spark-version", help="target Spark version (default: the installed PySpark's)")
    tune.add_argument("--current", metavar="FILE", help="a spark-defaults.conf to start from ('-' for stdin)")
    tune.add_argument("--output", choices=["conf", "submit", "k8s"], help="print only this form of the configuration")
    tune.add_argument("--json", action="store_true", help="print the optimize_spark_config tool's JSON")
    tune.set_defaults(handler=_cmd_tune)

    est = sub.add_parser("estimate", parents=[common], help="resources, runtime range, feasibility and cost of a job")
    est.add_argument("--description", help="what the job does, in words (decides the workload class)")
    est.add_argument("--data-size", help="input size, e.g. 800MB, 500GiB, 1.5TB, or bytes")
    est.add_argument("--operations", help="comma-separated: scan, filter, join, aggregate, sort, window, udf-python, ml-train, ml-infer, write")
    est.add_argument("--deadline", help="when it must finish: seconds, or 2h, 30m, 1h30m")
    est.add_argument("--hardware", help="a profile name or a JSON node spec (default: this machine)")
    est.add_argument("--nodes", type=int, default=1, help="worker nodes (default 1)")
    est.add_argument("--gpu", default="auto", choices=["auto", "on", "off"], help="RAPIDS Accelerator (default auto)")
    est.add_argument("--workload", choices=["etl", "sql-analytics", "ml-training", "ml-inference", "streaming", "graph"],
                     help="the workload class, when known (default: read from the description)")
    est.add_argument("--json", action="store_true", help="print the estimate_resources tool's JSON")
    est.set_defaults(handler=_cmd_estimate)

    chk = sub.add_parser("check", parents=[common], help="check a Spark config, spark-submit line or source file")
    chk.add_argument("file", metavar="FILE", help="spark-defaults.conf, a script with spark-submit, a .py/.ipynb/.scala/.sql source, or - for stdin")
    chk.add_argument("--format", default="auto", choices=["auto", "conf", "submit", "source", "json"], help="how to read FILE (default auto)")
    chk.add_argument("--hardware", help="a profile name, 'this', or a JSON node spec, for the hardware rules (default: skip them)")
    chk.add_argument("--deploy-mode", choices=["local", "standalone", "yarn", "kubernetes"], help="cluster manager (default: from spark.master)")
    chk.add_argument("--language", choices=["python", "scala", "java", "sql", "r"], help="the job's language when FILE does not show it")
    chk.add_argument("--json", action="store_true", help="print the check_spark_config tool's JSON")
    chk.set_defaults(handler=_cmd_check)

    evl = sub.add_parser("eventlog", parents=[common], help="analyze a Spark event log (file or eventlog_v2_* directory)")
    evl.add_argument("path", metavar="PATH", help="an event log in any Spark codec, or a rolling eventlog_v2_<app-id> directory")
    evl.add_argument("--executors", help="executor counts for the what-if, comma-separated (default: 10%%-500%% of the observed)")
    evl.add_argument("--limit", type=int, default=20, help="most jobs, stages, ... to list (default 20)")
    evl.add_argument("--workload", choices=["etl", "sql-analytics", "ml-training", "ml-inference", "streaming", "graph"],
                     help="what the job does, kept with the run for estimate's calibration (default: from the app name)")
    evl.add_argument("--hardware", help="where it ran: a profile name or a machine label")
    evl.add_argument("--json", action="store_true", help="print the analyze_event_log tool's JSON")
    evl.set_defaults(handler=_cmd_eventlog)

    dia = sub.add_parser("diagnose", parents=[common], help="why a Spark job or Airflow task failed, from its log")
    dia.add_argument("file", metavar="FILE", help="a Spark driver/executor log, event log or Airflow task log (plain, .gz, .zst), or - for stdin")
    dia.add_argument("--kind", choices=["spark_driver", "spark_executor", "spark_event_log", "airflow", "airflow3_json", "text"],
                     help="the kind of log (default: detected from the first lines)")
    dia.add_argument("--hardware", help="size the fixes for: a profile name, 'this', or a JSON node spec")
    dia.add_argument("--limit", type=int, default=20, help="most findings to print (default 20)")
    dia.add_argument("--json", action="store_true", help="print the diagnose_log tool's JSON")
    dia.set_defaults(handler=_cmd_diagnose)

    pln = sub.add_parser("plan", parents=[common], help="analyze a Spark query plan (EXPLAIN output, JSON plan, or SQL)")
    pln.add_argument("file", metavar="FILE", nargs="?", help="EXPLAIN output or a sparkPlanInfo JSON file, or - for stdin")
    pln.add_argument("--sql", help="a SELECT to EXPLAIN through local PySpark instead of FILE ('-' reads it from stdin)")
    pln.add_argument("--schema", metavar="FILE", help="with --sql: a file of CREATE TABLE statements for the tables it reads")
    pln.add_argument("--connect-url", help="with --sql: EXPLAIN on a Spark Connect server (sc://host:15002)")
    pln.add_argument("--json", action="store_true", help="print the analyze_query_plan tool's JSON")
    pln.set_defaults(handler=_cmd_plan)

    _add_telemetry(sub, common)

    ask = sub.add_parser("ask", parents=[common], help="a question answered by the local model from structured findings")
    ask.add_argument("question")
    ask.add_argument("--log", help="a Spark or Airflow log to diagnose for context")
    ask.add_argument("--event-log", help="a Spark event log to analyze for context")
    ask.add_argument("--plan", help="a query plan file (EXPLAIN output or JSON) to analyze for context")
    ask.add_argument("--config", help="a Spark config file to check for context")
    ask.add_argument("--max-tokens", type=int, default=512, help="longest answer in tokens (default 512)")
    ask.add_argument("--json", action="store_true", help="print the tool's JSON output")
    ask.set_defaults(handler=_cmd_ask)

    eng = sub.add_parser("engine", parents=[common], help="which local LLM engine ask would use, and its recent latency")
    eng.add_argument("--json", action="store_true", help="print the tool's JSON output")
    eng.set_defaults(handler=_cmd_engine)

    config = sub.add_parser("config", parents=[common], help="print the effective settings")
    config.add_argument("--json", action="store_true")
    config.set_defaults(handler=_cmd_config)
    return parser


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']} (got {e.get('input')!r})" for e in exc.errors())


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args([*(argv if argv is not None else sys.argv[1:]), "serve"])
    try:
        settings = _settings(args)
    except ValidationError as exc:
        print(f"dgx-spark-mcp: invalid settings: {_problems(exc)}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    try:
        args.handler(args, settings)
    except DgxSparkError as exc:
        print(f"dgx-spark-mcp: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        print(f"dgx-spark-mcp: {_problems(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`... | head`): stop quietly, and keep Python from complaining at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return 0
