"""MCP resources: read-only views an agent can attach as context."""

import functools
from collections.abc import Callable
from typing import ParamSpec

from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from pydantic import BaseModel

from ..errors import BadInputError, DgxSparkError

__all__ = ["as_json", "resource_errors"]

P = ParamSpec("P")


def as_json(model: BaseModel) -> str:
    """A resource's text: compact JSON without empty optional fields, as the tools answer."""
    from ..tools.answers import compact, compact_json

    return compact_json(compact(model))


def resource_errors(fn: Callable[P, str]) -> Callable[P, str]:
    """A bad name becomes 'not found' (-32602); anything we could not do, a resource error with our message."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> str:
        try:
            return fn(*args, **kwargs)
        except BadInputError as exc:
            raise ResourceNotFoundError(str(exc)) from exc
        except DgxSparkError as exc:
            raise ResourceError(str(exc)) from exc

    return wrapper
