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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .. import __version__
from ..errors import BadInputError, DgxSparkError
from ..settings import Settings, configure_logging
from . import airflow, reasoning, spark_live, spark_running
from .output import detail_flag, emit, json_flag
from .telemetry import add_telemetry

__all__ = ["main"]


def _settings(args: argparse.Namespace) -> Settings:
    given = {k: v for k, v in {
        "home": args.home,
        "allowed_roots": args.allowed_roots,
        "log_level": args.log_level,
        "auth_token": getattr(args, "auth_token", None),
        "spark_servers": args.spark_servers,
        "airflow_url": args.airflow_url,
    }.items() if v is not None}
    return Settings.load(**given)


def _cmd_serve(args: argparse.Namespace, settings: Settings) -> None:
    from ..server import run

    run(settings, transport=args.transport, host=args.host, port=args.port)


def _cmd_hardware(args: argparse.Namespace, settings: Settings) -> None:
    from ..hardware import snapshot_for
    from ..hardware.render import render_snapshot
    from ..hardware.summary import summarize_snapshot

    snapshot = snapshot_for(args.profile)
    emit(snapshot if args.detail == "full" else summarize_snapshot(snapshot), args.json, render_snapshot)


def _cmd_profiles(args: argparse.Namespace, settings: Settings) -> None:
    from ..hardware import list_profiles
    from ..hardware.render import render_profiles
    from ..tools.hardware import profile_list

    # The table shows the specs: people at a terminal get them whatever the detail; --json follows --detail.
    emit(profile_list(args.detail), args.json, lambda r: render_profiles(list(list_profiles())))


def _cmd_gpus(args: argparse.Namespace, settings: Settings) -> None:
    from ..hardware import check_availability, snapshot_for
    from ..hardware.render import render_availability

    result = check_availability(snapshot_for(None), args.min_free_gib, args.max_util)
    emit(result, args.json, render_availability)


def _cmd_tune(args: argparse.Namespace, settings: Settings) -> None:
    from ..optimizers.config import TuneRequest, optimize
    from ..optimizers.render import render_config

    hardware = _hardware(args)
    current = _read_current_config(args.current) if args.current else None
    request = TuneRequest(
        workload=args.workload, data_size=args.data_size, hardware=hardware, nodes=args.nodes,
        deploy_mode=args.deploy_mode, gpu=args.gpu, spark_version=args.spark_version, current_config=current,
    )
    result = optimize(request, output=args.output or "conf")
    if args.output and not args.json:
        print(result.rendered, end="" if result.rendered.endswith("\n") else "\n")
        return
    emit(result, args.json, render_config)


def _cmd_estimate(args: argparse.Namespace, settings: Settings) -> None:
    from ..optimizers.estimate_models import EstimateRequest
    from ..optimizers.estimate_render import render_estimate
    from ..optimizers.estimator import estimate

    hardware = _hardware(args)
    operations = [op.strip() for op in args.operations.split(",") if op.strip()] if args.operations else None
    request = EstimateRequest(
        description=args.description, data_size=args.data_size, operations=operations, deadline=args.deadline,
        hardware=hardware, nodes=args.nodes, gpu=args.gpu, workload=args.workload,
    )
    result = estimate(request, settings)
    emit(result if args.detail == "full" else result.summary(), args.json, render_estimate)


def _cmd_check(args: argparse.Namespace, settings: Settings) -> None:
    from ..optimizers.check_render import render_check
    from ..optimizers.config_sources import ConfigFormat
    from ..optimizers.models import DeployMode
    from ..tools.checker import run_check

    hardware = _hardware(args)
    text, path = (sys.stdin.read(), None) if args.file == "-" else (None, args.file)
    deploy = DeployMode(args.deploy_mode) if args.deploy_mode else None
    result = run_check(settings, text, path, ConfigFormat(args.format), hardware, deploy, args.language,
                       detail=args.detail, limit=args.limit)
    emit(result, args.json, render_check)


def _cmd_eventlog(args: argparse.Namespace, settings: Settings) -> None:
    from ..diagnosis.eventlogs.render import render_event_log
    from ..diagnosis.eventlogs.run_history import analyze_and_remember

    counts = None
    if args.executors:
        try:
            counts = [int(part) for part in args.executors.split(",") if part.strip()]
        except ValueError:
            raise BadInputError(f"--executors {args.executors!r} is not a list of whole numbers; write e.g. 2,4,8") from None
    if args.app is not None or args.path is None:
        from ..live.app_analysis import analyze_app, one_source

        one_source(path=args.path, app=args.app)
        result = analyze_app(settings, args.app, counts, args.limit, args.workload, args.hardware, detail=args.detail)
    else:
        result = analyze_and_remember(args.path, settings, counts, args.limit, args.workload, args.hardware,
                                      detail=args.detail)
    emit(result, args.json, render_event_log)


def _cmd_diagnose(args: argparse.Namespace, settings: Settings) -> None:
    from ..diagnosis.logs.diagnose import diagnose_log
    from ..diagnosis.logs.render import render_diagnosis

    hardware = _hardware(args)
    if args.app is not None or args.file is None:
        from ..live.app_analysis import diagnose_app, one_source

        one_source(path=args.file, app=args.app)
        result = diagnose_app(settings, args.app, hardware=hardware, limit=args.limit, kind=args.kind,
                              detail=args.detail)
    else:
        text = sys.stdin.read() if args.file == "-" else None
        result = diagnose_log(args.file, settings, text=text, hardware=hardware, limit=args.limit, kind=args.kind,
                              detail=args.detail)
    emit(result, args.json, render_diagnosis)


def _cmd_plan(args: argparse.Namespace, settings: Settings) -> None:
    from ..diagnosis.plans.analysis import analyze_query_plan
    from ..diagnosis.plans.render import render_plan_analysis

    schema = Path(args.schema).read_text(encoding="utf-8") if args.schema else None
    if args.sql is not None:
        if args.file is not None:
            raise BadInputError("give either FILE (a plan) or --sql, not both")
        sql = sys.stdin.read() if args.sql == "-" else args.sql
        result = analyze_query_plan(None, settings, sql=sql, schema=schema, connect_url=args.connect_url,
                                    detail=args.detail, cursor=args.cursor)
    elif args.file in (None, "-"):
        result = analyze_query_plan(sys.stdin.read(), settings, detail=args.detail, cursor=args.cursor)
    else:
        result = analyze_query_plan(None, settings, path=args.file, detail=args.detail, cursor=args.cursor)
    emit(result, args.json, render_plan_analysis)


def _hardware(args: argparse.Namespace) -> Any:
    """``--hardware``: a profile name (or 'this') as given, a JSON node spec parsed."""
    text = args.hardware
    if text is None or not text.lstrip().startswith("{"):
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInputError(f"--hardware {text!r} is not valid JSON ({exc.msg}); give a profile name or a JSON object") from None


def _read_current_config(path: str) -> dict[str, str]:
    """Any form check_spark_config reads (spark-defaults.conf, spark-submit, source): the keys Spark would use."""
    from ..optimizers.config_sources import parse_config

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


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", help="data directory (env DGX_SPARK_MCP_HOME)")
    common.add_argument("--allowed-roots", help="directories file tools may read, os.pathsep-separated (env DGX_SPARK_MCP_ALLOWED_ROOTS)")
    common.add_argument("--log-level", help="DEBUG, INFO, WARNING, ERROR or CRITICAL; logs go to stderr (env DGX_SPARK_MCP_LOG_LEVEL)")
    common.add_argument("--spark-servers", help="History Servers as name=url,... (env DGX_SPARK_MCP_SPARK_SERVERS; "
                        "credentials only from the environment: DGX_SPARK_MCP_SPARK_SERVERS_<NAME>_TOKEN, ...)")
    common.add_argument("--airflow-url", help="the Airflow API server (env DGX_SPARK_MCP_AIRFLOW_URL; credentials "
                        "only from the environment: DGX_SPARK_MCP_AIRFLOW_TOKEN, or _USERNAME and _PASSWORD)")

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
    detail_flag(hardware, "full adds clocks, ECC counters, PCI ids and every GPU pair")
    json_flag(hardware, "detect_hardware")
    hardware.set_defaults(handler=_cmd_hardware)

    profiles = sub.add_parser("profiles", parents=[common], help="the named hardware profiles")
    detail_flag(profiles, "with --json: full gives every spec with its source")
    json_flag(profiles, "list_hardware_profiles")
    profiles.set_defaults(handler=_cmd_profiles)

    gpus = sub.add_parser("gpus", parents=[common], help="which GPUs are free now")
    gpus.add_argument("--min-free-gib", type=float, default=1.0, help="GiB a job needs free (default 1)")
    gpus.add_argument("--max-util", type=float, default=10.0, help="highest utilisation %% still free (default 10)")
    json_flag(gpus, "check_gpu_availability")
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
    tune.add_argument("--output", choices=["conf", "submit", "k8s"],
                      help="print only this form of the configuration (with --json: the form 'rendered' holds; default conf)")
    json_flag(tune, "optimize_spark_config")
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
    detail_flag(est, "full adds the runtime model's terms and every constant with its source")
    json_flag(est, "estimate_resources")
    est.set_defaults(handler=_cmd_estimate)

    chk = sub.add_parser("check", parents=[common], help="check a Spark config, spark-submit line or source file")
    chk.add_argument("file", metavar="FILE", help="spark-defaults.conf, a script with spark-submit, a .py/.ipynb/.scala/.sql source, or - for stdin")
    chk.add_argument("--format", default="auto", choices=["auto", "conf", "submit", "source", "json"], help="how to read FILE (default auto)")
    chk.add_argument("--hardware", help="a profile name, 'this', or a JSON node spec, for the hardware rules (default: skip them)")
    chk.add_argument("--deploy-mode", choices=["local", "standalone", "yarn", "kubernetes"], help="cluster manager (default: from spark.master)")
    chk.add_argument("--language", choices=["python", "scala", "java", "sql", "r"], help="the job's language when FILE does not show it")
    detail_flag(chk, "full adds every key read with its line")
    chk.add_argument("--limit", type=int, default=10, help="most findings to print (default 10)")
    json_flag(chk, "check_spark_config")
    chk.set_defaults(handler=_cmd_check)

    evl = sub.add_parser("eventlog", parents=[common], help="analyze a Spark event log (file or eventlog_v2_* directory)")
    evl.add_argument("path", metavar="PATH", nargs="?",
                     help="an event log in any Spark codec, or a rolling eventlog_v2_<app-id> directory")
    evl.add_argument("--app", metavar="REF", help="instead of PATH: a History Server application (app-id, server/app-id "
                     "or server/app-id/attempt), its event log fetched")
    evl.add_argument("--executors", help="executor counts for the what-if, comma-separated (default: 10%%-500%% of the observed)")
    evl.add_argument("--limit", type=int, default=20, help="most jobs, stages, ... to list (default 20)")
    evl.add_argument("--workload", choices=["etl", "sql-analytics", "ml-training", "ml-inference", "streaming", "graph"],
                     help="what the job does, kept with the run for estimate's calibration (default: from the app name)")
    evl.add_argument("--hardware", help="where it ran: a profile name or a machine label")
    detail_flag(evl, "full adds the reading, properties, every job, stage, SQL plan and executor")
    json_flag(evl, "analyze_event_log")
    evl.set_defaults(handler=_cmd_eventlog)

    dia = sub.add_parser("diagnose", parents=[common], help="why a Spark job or Airflow task failed, from its log")
    dia.add_argument("file", metavar="FILE", nargs="?",
                     help="a Spark driver/executor log, event log or Airflow task log (plain, .gz, .zst), or - for stdin")
    dia.add_argument("--app", metavar="REF", help="instead of FILE: a History Server application's event log (app-id, "
                     "server/app-id or server/app-id/attempt)")
    dia.add_argument("--kind", choices=["spark_driver", "spark_executor", "spark_event_log", "airflow", "airflow3_json", "text"],
                     help="the kind of log (default: detected from the first lines)")
    dia.add_argument("--hardware", help="size the fixes for: a profile name, 'this', or a JSON node spec")
    dia.add_argument("--limit", type=int, default=20, help="most findings to print (default 20)")
    detail_flag(dia, "full adds every evidence line, the reading statistics and references")
    json_flag(dia, "diagnose_log")
    dia.set_defaults(handler=_cmd_diagnose)

    pln = sub.add_parser("plan", parents=[common], help="analyze a Spark query plan (EXPLAIN output, JSON plan, or SQL)")
    pln.add_argument("file", metavar="FILE", nargs="?", help="EXPLAIN output or a sparkPlanInfo JSON file, or - for stdin")
    pln.add_argument("--sql", help="a SELECT to EXPLAIN through local PySpark instead of FILE ('-' reads it from stdin)")
    pln.add_argument("--schema", metavar="FILE", help="with --sql: a file of CREATE TABLE statements for the tables it reads")
    pln.add_argument("--connect-url", help="with --sql: EXPLAIN on a Spark Connect server (sc://host:15002)")
    detail_flag(pln, "full adds the operator tree, a page at a time")
    pln.add_argument("--cursor", help="with --detail full: the next_cursor of the previous page of the tree")
    json_flag(pln, "analyze_query_plan")
    pln.set_defaults(handler=_cmd_plan)

    add_telemetry(sub, common)
    spark_live.add_commands(sub, common)
    spark_running.add_commands(sub, common)
    airflow.add_commands(sub, common)
    reasoning.add_commands(sub, common)

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
