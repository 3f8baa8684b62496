"""Settings: environment parsing, defaults, and clear errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from dgx_spark_mcp.settings import Settings


def test_allowed_roots_are_split_on_pathsep_and_resolved(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    monkeypatch.setenv("DGX_SPARK_MCP_ALLOWED_ROOTS", f"{tmp_path / 'a'}{os.pathsep}{tmp_path}/b/../c")
    assert Settings.load().allowed_roots == [tmp_path / "a", tmp_path / "c"]


def test_empty_allowed_roots_is_an_error_that_says_what_to_give(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DGX_SPARK_MCP_ALLOWED_ROOTS", os.pathsep)
    with pytest.raises(ValidationError, match="give at least one directory"):
        Settings.load()


def test_defaults_are_home_and_cwd_and_a_user_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("DGX_SPARK_MCP_"):
            monkeypatch.delenv(key)
    s = Settings.load()
    assert Path.home().resolve() in s.allowed_roots and Path.cwd().resolve() in s.allowed_roots
    assert s.home.name == "dgx-spark-mcp" and s.log_level == "INFO" and s.auth_token is None


def test_settings_never_touch_the_disk(tmp_path: Path) -> None:
    Settings(home=tmp_path / "not-yet")
    assert not (tmp_path / "not-yet").exists()


def test_token_is_masked_in_the_public_view() -> None:
    view = Settings(auth_token="abc").public_view()
    assert view["auth_token"] == "***" and "abc" not in str(view)


def test_flags_win_over_environment_and_empty_variables_are_ignored() -> None:
    env = {"DGX_SPARK_MCP_LOG_LEVEL": "error", "DGX_SPARK_MCP_ENGINE_URL": ""}
    assert Settings.load(env).log_level == "ERROR"
    assert Settings.load(env).engine_url == "auto"
    assert Settings.load(env, log_level="debug").log_level == "DEBUG"


def test_unknown_setting_is_rejected() -> None:
    with pytest.raises(ValidationError, match="extra"):
        Settings(colour="blue")  # type: ignore[call-arg]
