"""Commands: ``ask`` (the ask tool: a question answered by the local model from structured findings) and ``engine``
(engine_status: which local LLM engine ask would use); ``--json`` prints exactly the tool's structured output."""

from __future__ import annotations

import argparse
from typing import Any

from ..settings import Settings
from .output import detail_flag, emit, json_flag

__all__ = ["add_commands"]


def _cmd_ask(args: argparse.Namespace, settings: Settings) -> None:
    from ..reasoning.ask import ask, summarize_answer
    from ..reasoning.render import render_answer

    streamed: list[str] = []

    def on_token(text: str) -> None:
        if not args.json:  # the answer as it is written; --json prints the whole result at the end
            streamed.append(text)
            print(text, end="", flush=True)

    result = ask(args.question, settings, log=args.log, event_log=args.event_log, plan=args.plan, config=args.config,
                 max_tokens=args.max_tokens, on_token=on_token)
    if streamed:
        print()
    shown = result if args.detail == "full" else summarize_answer(result)
    emit(shown, args.json, lambda r: render_answer(r, streamed=bool(streamed)))


def _cmd_engine(args: argparse.Namespace, settings: Settings) -> None:
    from ..reasoning.render import render_engine_status
    from ..reasoning.status import engine_status

    emit(engine_status(settings), args.json, render_engine_status)


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    ask = sub.add_parser("ask", parents=[common], help="a question answered by the local model from structured findings")
    ask.add_argument("question")
    ask.add_argument("--log", help="a Spark or Airflow log to diagnose for context")
    ask.add_argument("--event-log", help="a Spark event log to analyze for context")
    ask.add_argument("--plan", help="a query plan file (EXPLAIN output or JSON) to analyze for context")
    ask.add_argument("--config", help="a Spark config file to check for context")
    ask.add_argument("--max-tokens", type=int, default=512, help="longest answer in tokens (default 512)")
    detail_flag(ask, "full adds every context block with its ranking, and the dropped ones")
    json_flag(ask)
    ask.set_defaults(handler=_cmd_ask)

    eng = sub.add_parser("engine", parents=[common], help="which local LLM engine ask would use, and its recent latency")
    json_flag(eng)
    eng.set_defaults(handler=_cmd_engine)
