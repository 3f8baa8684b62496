"""Tools: (being built for the live-sources issue; registers none yet)."""

from collections.abc import Callable
from typing import Any

from ..app import App

__all__ = ["tools"]


def tools(app: App) -> list[Callable[..., Any]]:
    return []
