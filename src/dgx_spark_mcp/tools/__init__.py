"""MCP tools: thin faces over the domain functions, one module per domain.

Each module has ``tools(app)``, which returns its tool functions marked with :func:`tool`.  The
server does not import them at start: it registers the names, descriptions and schemas shipped
in ``data/tool-schemas.json`` (:mod:`.catalog`) and imports a module when one of its tools is
first called.

This is also the one place that decides how a result and a failure reach the agent: a result
model becomes one compact JSON text plus the same structured content (:mod:`.answers`); our own
errors (:mod:`dgx_spark_mcp.errors`) become ``ToolError`` so their message, which says what to
do, is shown; anything else is a crash the SDK reports without details and logs to stderr.
"""

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, Field

from ..errors import DgxSparkError
from .answers import answer

__all__ = ["READ_ONLY", "Detail", "DetailArg", "ToolOptions", "tool"]

F = TypeVar("F", bound=Callable[..., Any])

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
READ_OR_FETCH = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True)
"""Reads a file, or with ``app`` fetches the application's event log from a History Server: open world."""
READ_LIVE = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=False, open_world_hint=True)
"""Read-only, but the answer comes from servers outside this process (History Servers, driver UIs, Airflow): it
changes as they do."""

Detail = Literal["summary", "full"]
DetailArg = Annotated[Detail, Field(description="'full' adds what the summary leaves out.")]
"""The ``detail`` argument of the rich tools, default ``"summary"``: the summary answers the question and its
``more`` field says what ``detail="full"`` (or a larger limit) adds."""


@dataclass(frozen=True)
class ToolOptions:
    """What the SDK needs beside the function itself to register it."""

    title: str
    annotations: ToolAnnotations


def _delivered(result: Any) -> Any:
    # A CallToolResult is a BaseModel too: one a tool built itself (answer(model, extra=[image])) goes as it is.
    return answer(result) if isinstance(result, BaseModel) and not isinstance(result, CallToolResult) else result


def tool(*, title: str, annotations: ToolAnnotations = READ_ONLY) -> Callable[[F], F]:
    """Mark a function as a tool: errors for the agent, results in their compact form, the docstring as one
    paragraph (the description)."""

    def decorate(fn: F) -> F:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def wrapper(*args: Any, **kwargs: Any) -> Any:
                try:
                    return _delivered(await fn(*args, **kwargs))
                except DgxSparkError as exc:
                    raise ToolError(str(exc)) from exc

        else:

            @functools.wraps(fn)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                try:
                    return _delivered(fn(*args, **kwargs))
                except DgxSparkError as exc:
                    raise ToolError(str(exc)) from exc

        wrapper.__doc__ = " ".join(inspect.cleandoc(fn.__doc__ or "").split())
        wrapper.__tool_options__ = ToolOptions(title=title, annotations=annotations)  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate

