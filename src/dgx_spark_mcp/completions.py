"""Argument completion (``completion/complete``): the values a host can offer while a person types.

Hardware profile names complete ``hardware://profiles/{name}`` and the prompts' ``hardware``
argument; rule ids complete ``spark://rules/{rule_id}``.  Anything else gets an empty list, which
tells the host there is nothing to suggest.
"""

from __future__ import annotations

from typing import Any

from mcp.server import MCPServer
from mcp.types import Completion, PromptReference, ResourceTemplateReference

__all__ = ["register", "suggestions"]

MAX_VALUES = 100
"""The protocol's cap on values in one completion."""


def _profiles() -> list[str]:
    from .hardware import list_profiles

    return [p.name for p in list_profiles()]


def _rule_ids() -> list[str]:
    from .optimizers.rules import list_rules

    return [r.id for r in list_rules()]


def suggestions(ref: Any, argument_name: str, typed: str) -> list[str]:
    """The completions of ``argument_name`` of ``ref`` that start with what was ``typed``."""
    if isinstance(ref, ResourceTemplateReference):
        source = {"hardware://profiles/{name}": _profiles, "spark://rules/{rule_id}": _rule_ids}.get(ref.uri)
    elif isinstance(ref, PromptReference) and argument_name == "hardware":
        source = _profiles
    else:
        source = None
    if source is None:
        return []
    return [v for v in source() if v.lower().startswith(typed.lower())][:MAX_VALUES]


def register(mcp: MCPServer) -> None:
    @mcp.completion()
    async def complete(ref: Any, argument: Any, context: Any) -> Completion:
        values = suggestions(ref, argument.name, argument.value or "")
        return Completion(values=values, total=len(values), has_more=False)
