"""MCP resources: read-only views an agent can attach as context."""

import functools
import json
from collections.abc import Callable
from typing import ParamSpec

from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from pydantic import BaseModel

from ..errors import BadInputError, DgxSparkError

__all__ = ["as_json", "resource_errors"]

P = ParamSpec("P")


def as_json(model: BaseModel) -> str:
    return json.dumps(model.model_dump(mode="json"), indent=2)


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
