"""Collects the keys of a configuration: each once, with its value, reason and reference."""

from __future__ import annotations

from typing import Any

from .models import ConfigEntry
from .sizing import constants

__all__ = ["ConfigBuilder"]


class ConfigBuilder:
    """Keys in emission order; setting a key again replaces it (the last decision wins)."""

    def __init__(self) -> None:
        self.entries: dict[str, ConfigEntry] = {}
        self.references = constants().references

    def set(self, key: str, value: Any, reason: str, reference: str) -> None:
        """``reference`` names an entry of data/spark-sizing.json's references (a docs URL)."""
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if reference not in self.references:
            raise KeyError(f"reference {reference!r} is not in data/spark-sizing.json's references")
        self.entries[key] = ConfigEntry(key=key, value=text, reason=reason, ref=reference)
