"""bench/load.py --quick: concurrent MCP clients over streamable HTTP must all get answers.

A real server subprocess on a loopback port, five real SDK clients calling a mix of tools for
five seconds. Stops concurrency faults (store races, sessions that break under parallel calls,
a server that dies under load) from reaching users as failed tool calls.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

LOAD = Path(__file__).resolve().parent.parent / "bench" / "load.py"
KEYS = {"clients", "seconds", "calls", "errors", "error_list", "throughput_calls_per_s", "p50_ms", "p99_ms",
        "per_tool", "server_peak_rss_mb"}


def test_concurrent_clients_under_load_get_no_failed_calls(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(LOAD), "--quick"], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert proc.stdout.strip(), proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert KEYS <= report.keys()
    assert report["errors"] == 0, report["error_list"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert report["clients"] == 5
    assert report["calls"] > 0 and report["server_peak_rss_mb"] > 0
    assert len(report["headline"]) <= 300 and f"{report['calls']:,} calls, 0 errors (target 0: met)" in report["headline"]
    assert set(report["per_tool"]) == {
        "list_hardware_profiles", "check_gpu_availability", "optimize_spark_config", "check_spark_config",
        "estimate_resources", "diagnose_log", "analyze_query_plan", "ingest_telemetry", "list_gpus",
        "query_telemetry", "telemetry_report", "ask",
    }
    assert all(t["calls"] > 0 for t in report["per_tool"].values())
    assert list(tmp_path.iterdir()) == []
