"""The command line: ``dgx-spark-mcp [serve|hardware|profiles|gpus|config]``.

Each subcommand is a face over the same function as its MCP tool; ``--json`` prints exactly
the tool's structured output.  With no subcommand the stdio server starts, which is what MCP
hosts run.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from . import __version__
from .errors import DgxSparkError
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

    config = sub.add_parser("config", parents=[common], help="print the effective settings")
    config.add_argument("--json", action="store_true")
    config.set_defaults(handler=_cmd_config)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args([*(argv if argv is not None else sys.argv[1:]), "serve"])
    try:
        settings = _settings(args)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        print(f"dgx-spark-mcp: invalid settings: {problems}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    try:
        args.handler(args, settings)
    except DgxSparkError as exc:
        print(f"dgx-spark-mcp: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0
