"""`dgx-spark-mcp ask` and `engine`: the tools' functions on the command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from dgx_spark_mcp.cli import main

LOG = Path(__file__).parents[1] / "fixtures" / "diagnosis" / "labelled" / "handwritten" / "spark" / "spill_spark33.executor.log"


@pytest.fixture
def flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("DGX_SPARK_MCP_ENGINE_URL", "none")
    shutil.copy(LOG, tmp_path / "executor.log")
    return ["--home", str(tmp_path / "home"), "--allowed-roots", str(tmp_path), "--log-level", "WARNING"]


def test_ask_without_an_engine_prints_the_cited_context_and_how_to_start_one(
    capsys: pytest.CaptureFixture[str], flags: list[str], tmp_path: Path
) -> None:
    assert main(["ask", "why is this job slow?", "--log", str(tmp_path / "executor.log"), *flags, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["answer"] is None and result["engine"] is None
    assert [b["id"] for b in result["context"]][:1] == ["F1"] and "Spill to disk" in result["context"][0]["text"]
    assert any("trtllm-serve" in c for c in result["start_commands"])
    assert main(["ask", "why is this job slow?", "--log", str(tmp_path / "executor.log"), *flags, "--detail", "full",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["context"][0]["title"] == "Spill to disk"
    assert main(["ask", "why is this job slow?", "--log", str(tmp_path / "executor.log"), *flags]) == 0
    out = capsys.readouterr().out
    assert "[F1] " in out and "Spill to disk" in out


def test_engine_status_says_none_is_switched_on(capsys: pytest.CaptureFixture[str], flags: list[str]) -> None:
    assert main(["engine", *flags, "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["available"] is False and "none" in status["probe"]["reason"]


def test_ask_with_a_log_outside_the_allowed_roots_exits_2(capsys: pytest.CaptureFixture[str], flags: list[str]) -> None:
    assert main(["ask", "why?", "--log", "/etc/passwd", *flags]) == 2
    assert "/etc/passwd" in capsys.readouterr().err
