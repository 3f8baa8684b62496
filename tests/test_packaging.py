"""Packaging: data files ship in the wheel; start-up imports none of the heavy libraries."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from .conftest import REPO

HEAVY = ["duckdb", "pyspark", "torch", "transformers", "matplotlib", "numpy", "pandas"]


@pytest.mark.slow
def test_wheel_contains_the_root_data_files(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(REPO)],
        check=True, capture_output=True,
    )
    (wheel,) = tmp_path.glob("dgx_spark_mcp-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for data_file in (REPO / "data").glob("*.json"):
        assert f"dgx_spark_mcp/data/{data_file.name}" in names
    assert "dgx_spark_mcp/server.py" in names
    assert any(n.endswith("entry_points.txt") for n in names)


def test_building_the_server_imports_no_heavy_library() -> None:
    code = (
        "import sys, json\n"
        "from dgx_spark_mcp.server import build_server\n"
        "from dgx_spark_mcp.settings import Settings\n"
        "build_server(Settings.load())\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == []
