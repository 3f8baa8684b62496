"""How a command prints a result: the tool's JSON (``--json``), or text for people."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

__all__ = ["emit"]


def emit(result: BaseModel, as_json: bool, render: Callable[[Any], str]) -> None:
    if as_json:
        from ..tools.answers import compact  # the tool's structured output, exactly

        print(json.dumps(compact(result), indent=2))
    else:
        print(render(result))
