"""What every tool of one server process shares: its settings and its seams."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .settings import Settings

__all__ = ["App"]


@dataclass(frozen=True)
class App:
    settings: Settings
    nvml: Any | None = None
    """Stand-in for ``pynvml`` (a recorded replay in tests); None means the real library."""
