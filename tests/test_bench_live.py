"""bench/live.py --quick: a real running app, a real History Server over 50 generated apps and a 35.5 MB log; one
JSON object whose figures are all there and make sense (no timing is asserted).  About 100 s with Java 17."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

BENCH = Path(__file__).resolve().parent.parent / "bench"


def test_the_quick_run_prints_every_figure_of_the_three_live_measurements(tmp_path: Path) -> None:
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("no Java here: the History Server and the running app need a JVM")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DGX_SPARK_MCP_")}
    proc = subprocess.run([sys.executable, str(BENCH / "live.py"), "--quick"], capture_output=True, text=True,
                          timeout=300, cwd=cwd, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(proc.stdout)
    assert data["benchmark"] == "live" and data["quick"] is True
    assert isinstance(data["headline"], str) and 0 < len(data["headline"]) <= 300 and "\n" not in data["headline"]

    running = data["running"]
    assert running["warm_first_finding"] == "straggler" and "task " in running["finding"]
    assert running["ui_to_straggler_finding_s"] > 0 and running["straggler_running_s_when_found"] >= 10
    assert running["status_calls_until_found"] >= 1
    assert min(running["cold_call_s"], running["finding_call_s"], running["warm_call_s"]) > 0

    listing = data["listing"]
    generated = listing["generated"]
    assert listing["apps"] == 50 == sum(generated.values()) and generated["running"] >= 1 and generated["failed"] >= 1
    assert listing["shs_start_and_list_s"] > 0
    default = listing["default_call"]
    assert default["returned"] == 20 and default["total"] == 50 == sum(default["counts"].values())
    assert default["counts"]["running"] == generated["running"] and default["counts"]["failed"] >= 1
    assert default["http_requests"] == sum(default["requests_by_path"].values()) > 1
    assert default["requests_by_path"]["/api/v1/applications"] == 1 and default["answer_chars"] > 0
    walk = listing["all_pages"]
    assert walk["calls"] == 3 and walk["apps_seen"] == walk["distinct"] == 50 and walk["seconds"] > 0

    big = data["big_log"]
    assert big["decompressed_mb"] > 30 and 0 < big["file_mb"] < big["decompressed_mb"]
    assert big["download_mb"] > 0 and big["zip_members"] and big["zip_members"][0]["name"].endswith(".zstd")
    assert big["same_analysis"] is True and big["source"].startswith("shs/")
    assert min(big["disk_s"], big["shs_first_s"], big["shs_cached_s"]) > 0 and big["runs"] == 1
    assert big["disk_over_shs_first"] > 0 and big["shs_first_over_cached"] > 0
    assert set(data["meets_target"]) == {"disk_over_first", "first_over_cached"}
    assert list(cwd.iterdir()) == []  # everything went to a temporary directory
