"""MCP tools: thin faces over the domain functions, one module per domain.

This is the one place that decides how a failure reaches the agent: our own errors
(:mod:`dgx_spark_mcp.errors`) become ``ToolError`` so their message, which says what to do,
is shown; anything else is a crash the SDK reports without details and logs to stderr.
"""

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations

from ..errors import DgxSparkError

__all__ = ["READ_ONLY", "agent_errors", "agent_errors_async"]

P = ParamSpec("P")
R = TypeVar("R")

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)


def agent_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Re-raise this package's errors as ``ToolError`` so the agent reads their message."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except DgxSparkError as exc:
            raise ToolError(str(exc)) from exc

    # The docstring is the tool's description: one paragraph, without source indentation.
    wrapper.__doc__ = " ".join(inspect.cleandoc(fn.__doc__ or "").split())
    return wrapper


def agent_errors_async(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """:func:`agent_errors` for a coroutine tool (one that reports progress through its Context)."""

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return await fn(*args, **kwargs)
        except DgxSparkError as exc:
            raise ToolError(str(exc)) from exc

    wrapper.__doc__ = " ".join(inspect.cleandoc(fn.__doc__ or "").split())
    return wrapper
