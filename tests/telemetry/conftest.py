from __future__ import annotations

import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "telemetry"


@pytest.fixture
def fixture_file(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Copy a file of tests/fixtures/telemetry under tmp_path (the allowed root) and return its path."""

    def copy(name: str) -> Path:
        target = tmp_path / name
        shutil.copyfile(FIXTURES / name, target)
        return target

    return copy
