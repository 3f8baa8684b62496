"""spark_app_status on an incomplete application of a real Spark History Server (tests/live/shs.py replays an
``.inprogress`` event log written while one of its stages ran): found by server/app-id, its active stage read
under the History Server's view; a finished application there is an error pointing at analyze_event_log."""

from __future__ import annotations

from pathlib import Path

import pytest

from dgx_spark_mcp.errors import BadInputError
from dgx_spark_mcp.live.running import status

from .shs import HistoryServer

pytestmark = pytest.mark.slow


def test_an_incomplete_application_on_a_history_server_is_reported_as_of_its_last_update(
        history_server: HistoryServer, tmp_path: Path) -> None:
    settings = history_server.settings(tmp_path / "home")
    app_id = history_server.ids["running"]
    answer = status(settings, f"shs/{app_id}")
    assert answer.app is not None and answer.app.ref == f"shs/{app_id}" and answer.app.as_of
    assert answer.app.name == "hourly-backfill" and not answer.missing
    (stage,) = answer.stages
    assert (stage.tasks_done, stage.tasks_total, stage.running) == (7, 8, 1) and stage.stragglers
    assert answer.findings[0].category == "straggler" and answer.findings[0].stage == stage.stage
    assert status(settings, app_id).app.ref == f"shs/{app_id}"  # type: ignore[union-attr]
    # The server alone means the one running there: this one also lists the truncated corpus log as incomplete.
    with pytest.raises(BadInputError, match=r"2 Spark applications are running on shs: .*'hourly-backfill'"):
        status(settings, "shs")


def test_a_finished_application_is_an_error_pointing_at_the_event_log_analysis(
        history_server: HistoryServer, tmp_path: Path) -> None:
    settings = history_server.settings(tmp_path / "home")
    app_id = history_server.ids["skewed"]
    with pytest.raises(BadInputError, match=rf"has finished .*analyze_event_log\(app='shs/{app_id}'\)"):
        status(settings, f"shs/{app_id}")


def test_with_nothing_running_locally_the_answer_lists_the_history_servers_incomplete_apps(
        history_server: HistoryServer, tmp_path: Path) -> None:
    answer = status(history_server.settings(tmp_path / "home"))
    assert answer.app is None and f"shs/{history_server.ids['running']}" in answer.running_apps
    assert "pass one as app" in answer.headline
