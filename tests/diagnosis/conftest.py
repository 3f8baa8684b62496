"""Settings that may read the event-log fixtures as well as the test's own tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from dgx_spark_mcp.settings import Settings

from .eventlogs import FIXTURES


@pytest.fixture
def log_settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", allowed_roots=[str(tmp_path), str(FIXTURES)], log_level="WARNING")
