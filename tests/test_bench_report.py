"""bench/run_all.py: every benchmark script in one JSON report, and the README's table from it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

BENCH = Path(__file__).resolve().parent.parent / "bench"


def test_the_report_holds_each_chosen_benchmark_its_command_and_figures(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    proc = subprocess.run(
        [sys.executable, str(BENCH / "run_all.py"), "--quick", "--only", "check_config,store_connections",
         "--out", str(out), "--markdown"],
        capture_output=True, text=True, timeout=600, cwd=cwd,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == str(out)  # the report's path comes last
    report = json.loads(out.read_text())
    assert [b["benchmark"] for b in report["benchmarks"]] == ["check_config", "store_connections"]
    for entry in report["benchmarks"]:
        assert entry["exit_code"] == 0 and isinstance(entry["json"], dict) and entry["json"]
        assert entry["command"].startswith(f"python bench/{entry['benchmark']}.py")
        headline = entry["json"]["headline"]  # one sentence from this run's figures, shown as the table's figures
        assert isinstance(headline, str) and 0 < len(headline) <= 300 and f"| {headline} |" in proc.stdout
    table = [line for line in proc.stdout.splitlines() if line.startswith("| ")]
    assert table[0] == "| benchmark | command | figures |"
    assert len(table) == 3 and all("`python bench/" in row for row in table[1:])
    assert list(cwd.iterdir()) == []


def test_an_unknown_benchmark_name_is_refused_with_the_choices(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(BENCH / "run_all.py"), "--only", "nope"], capture_output=True,
                          text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode != 0
    assert "unknown benchmark(s): nope.py" in proc.stderr and "cold_start.py" in proc.stderr
