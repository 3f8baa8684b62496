"""list_spark_apps finds a running application by its driver UI on this machine's loopback, without any setting, with
its active stage and straggler; its event log is not fetched from there (only a History Server serves one)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from dgx_spark_mcp.errors import CouldNotDoError
from dgx_spark_mcp.live.apps import list_apps
from dgx_spark_mcp.live.history import fetch_event_log
from dgx_spark_mcp.settings import Settings

from .running_job import launched, output
from .shs import free_port

pytestmark = pytest.mark.slow

WAIT_S = 240.0


@pytest.fixture(scope="module")
def local_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings whose driver-UI ports hold one running app, once its listing line shows a straggler."""
    work = tmp_path_factory.mktemp("local-ui")
    port = free_port()
    settings = Settings(home=work / "home", allowed_roots=[work], log_level="WARNING", spark_ui_ports=[port])
    with launched(port, work) as proc:
        deadline = time.monotonic() + WAIT_S
        while True:
            assert proc.poll() is None, output(work)
            assert time.monotonic() < deadline, output(work)
            try:
                apps = list_apps(settings, server="local").apps
            except Exception:  # noqa: BLE001 - no UI yet: it answers seconds after the JVM starts
                apps = []
            if apps and "straggler" in apps[0].state:
                break
            time.sleep(2)
        yield settings


def test_a_running_driver_ui_is_listed_with_its_active_stage_and_straggler(local_ui: Settings) -> None:
    port = local_ui.spark_ui_ports[0]
    (app,) = list_apps(local_ui).apps  # no server configured: the loopback UI is found on its own
    assert (app.server, app.name, app.status) == (f"local-{port}", "running-skewed", "running")
    assert app.state.startswith("stage ") and " running for " in app.state and "1 straggler" in app.state
    assert "has not changed" not in app.state  # a live driver, not a stale log
    assert app.duration_ms is not None and app.duration_ms > 0
    with pytest.raises(CouldNotDoError, match="a driver UI serves no event log"):
        fetch_event_log(local_ui, f"local-{port}/{app.id}")
    with pytest.raises(CouldNotDoError, match="a driver UI serves no event log"):
        fetch_event_log(local_ui, app.id)  # an id alone is found on the loopback UI too
