"""How a command prints a result: the tool's JSON (``--json``), or text for people; and the flags that choose it.

Every command that faces a tool takes the same ``--json`` (exactly the tool's structured output) and, where the
tool has one, the same ``--detail summary|full``; paged lists take ``--limit`` and ``--cursor`` as the tools do.
They are declared here once, so each reads alike in every command's ``--help``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel

__all__ = ["detail_flag", "emit", "footer", "json_flag", "page_flags"]


def emit(result: BaseModel, as_json: bool, render: Callable[[Any], str]) -> None:
    if as_json:
        from ..tools.answers import compact  # the tool's structured output, exactly

        print(json.dumps(compact(result), indent=2))
    else:
        print(render(result))


def footer(notes: Sequence[str], more: str | None, *, note: str = "Note", more_label: str = "More") -> list[str]:
    """The lines that end an answer's text: its notes, then where more is.  The labels follow the offline
    analysis the answer mirrors (the log diagnosis writes ``note:`` and ``more:``)."""
    return [f"{note}: {n}" for n in notes] + ([f"{more_label}: {more}"] if more else [])


def detail_flag(parser: argparse.ArgumentParser, full: str) -> None:
    """``--detail``, as the tools' ``detail``; ``full`` says what full adds."""
    parser.add_argument("--detail", choices=["summary", "full"], default="summary", help=f"{full} (default summary)")


def json_flag(parser: argparse.ArgumentParser, tool: str | None = None) -> None:
    """``--json``: print ``tool``'s structured output instead of the text."""
    parser.add_argument("--json", action="store_true",
                        help=f"print the {tool} tool's JSON" if tool else "print the tool's JSON output")


def page_flags(parser: argparse.ArgumentParser, items: str, default: int = 20) -> None:
    """``--limit`` and ``--cursor`` of a paged list of ``items``."""
    parser.add_argument("--limit", type=int, default=default, help=f"{items} a page (default {default})")
    parser.add_argument("--cursor", help="the next_cursor of the previous page")
