"""One check function per rule of ``data/best-practices.json``, registered by rule id.

A check reads the configuration through :class:`.context.Context` (typed values, Spark's
defaults, the hardware) and returns its findings, or :class:`Skip` with the reason it could not
judge.  The registry test walks both directions: every rule has a check, every check a rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..check_models import Finding
    from ..rules import Rule
    from .context import Context

__all__ = ["CHECKS", "LAST", "Skip", "check", "load_checks"]


@dataclass(frozen=True)
class Skip:
    """The rule could not be evaluated; ``reason`` says why and what would let it run."""

    reason: str


CheckFn = Callable[["Context", "Rule"], "list[Finding] | Skip"]
CHECKS: dict[str, CheckFn] = {}
LAST: set[str] = set()
"""Checks that read what the other checks found (e.g. values they could not parse): run last."""


def check(rule_id: str, *, last: bool = False) -> Callable[[CheckFn], CheckFn]:
    def register(fn: CheckFn) -> CheckFn:
        if rule_id in CHECKS:
            raise RuntimeError(f"two checks for rule {rule_id}")
        CHECKS[rule_id] = fn
        if last:
            LAST.add(rule_id)
        return fn

    return register


def load_checks() -> dict[str, CheckFn]:
    """Import every check module (each registers its checks) and return the registry."""
    from . import key_names, memory, rapids, scheduling, security  # noqa: F401

    return CHECKS
