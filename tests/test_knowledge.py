"""Packaged knowledge files load through importlib.resources and fail naming the file and key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

from dgx_spark_mcp.knowledge import KnowledgeFileError, load_knowledge

from .conftest import REPO


class _WrongShape(BaseModel):
    about: str
    profiles: list[int]


def test_a_file_that_does_not_match_its_model_names_file_and_key() -> None:
    with pytest.raises(KnowledgeFileError) as err:
        load_knowledge("hardware-profiles.json", _WrongShape)
    assert "data/hardware-profiles.json" in str(err.value) and "profiles.0" in str(err.value)


def test_a_missing_file_says_to_reinstall() -> None:
    with pytest.raises(KnowledgeFileError, match="reinstall"):
        load_knowledge("no-such-file.json", _WrongShape)


def test_record_script_refuses_without_a_gpu(tmp_path: Path) -> None:
    out = tmp_path / "machine.json"
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "record_nvml.py"), str(out), "--machine", "test"],
        capture_output=True, text=True,
    )
    assert proc.returncode == 1 and "no GPU stack here" in proc.stderr and not out.exists()
