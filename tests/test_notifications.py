"""What the server pushes: resource updates (resources/subscribe and subscriptions/listen) and, for clients
that set a level, its log messages."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, MCPError
from mcp.types import LoggingMessageNotificationParams, ResourceUpdatedNotification

from dgx_spark_mcp.server import build_server
from dgx_spark_mcp.settings import Settings

pytestmark = [pytest.mark.anyio, pytest.mark.filterwarnings("ignore::mcp.MCPDeprecationWarning")]
TELEMETRY = Path(__file__).parent / "fixtures" / "telemetry" / "dcgm_long.csv"


@pytest.fixture
def export(settings: Settings, tmp_path: Path) -> Path:
    return Path(shutil.copy(TELEMETRY, tmp_path / "dcgm.csv"))


class Inbox:
    def __init__(self) -> None:
        self.updated: list[str] = []
        self.logs: list[LoggingMessageNotificationParams] = []

    async def message(self, message: Any) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            self.updated.append(str(message.params.uri))

    async def log(self, params: LoggingMessageNotificationParams) -> None:
        self.logs.append(params)

    async def wait(self, predicate: Any) -> None:
        with anyio.fail_after(5):
            while not predicate():
                await anyio.sleep(0.01)


async def test_a_subscriber_hears_when_an_ingest_changes_the_gpus(settings: Settings, export: Path) -> None:
    inbox, other = Inbox(), Inbox()
    server = build_server(settings)
    async with Client(server, mode="legacy", message_handler=inbox.message) as watcher, \
            Client(server, mode="legacy", message_handler=other.message) as bystander:
        await watcher.subscribe_resource("telemetry://gpus")
        result = await bystander.call_tool("ingest_telemetry", {"path": str(export)})  # another client ingests
        assert not result.is_error
        await inbox.wait(lambda: inbox.updated)
        assert inbox.updated == ["telemetry://gpus"] and other.updated == []

        again = await bystander.call_tool("ingest_telemetry", {"path": str(export)})  # nothing new stored
        assert again.structured_content and again.structured_content["rows_stored"] == 0
        await watcher.unsubscribe_resource("telemetry://gpus")
        export.write_text(export.read_text().replace("2026-03-02", "2026-03-01"))  # new timestamps: rows stored again
        third = await bystander.call_tool("ingest_telemetry", {"path": str(export)})
        assert third.structured_content and third.structured_content["rows_stored"] > 0
        await anyio.sleep(0.2)
    assert inbox.updated == ["telemetry://gpus"]  # neither the no-op ingest nor the one after unsubscribing


async def test_a_listen_stream_hears_the_same_update(settings: Settings, export: Path) -> None:
    server = build_server(settings)
    async with Client(server) as listener, Client(server) as ingester:
        async with listener.listen(resource_subscriptions=["telemetry://gpus"]) as events:
            assert not (await ingester.call_tool("ingest_telemetry", {"path": str(export)})).is_error
            with anyio.fail_after(5):
                async for event in events:
                    assert getattr(event, "uri", None) == "telemetry://gpus"
                    break


async def test_subscribing_to_a_resource_this_server_does_not_have_is_refused(settings: Settings) -> None:
    async with Client(build_server(settings), mode="legacy") as client:
        await client.subscribe_resource("hardware://profiles/dgx-h100")  # a template's resource: fine
        with pytest.raises(MCPError, match="not one of this server's.*resources/list"):
            await client.subscribe_resource("test://watched-resource")
        await client.unsubscribe_resource("test://never-subscribed")  # nothing to undo: not an error


async def test_a_client_that_sets_a_level_gets_the_server_logs_at_or_above_it(settings: Settings) -> None:
    inbox = Inbox()
    log = logging.getLogger("dgx_spark_mcp.tests")
    async with Client(build_server(settings), mode="legacy", logging_callback=inbox.log) as client:
        caps = client.server_capabilities
        assert caps is not None and caps.logging is not None and caps.resources and caps.resources.subscribe
        log.warning("before any level was set")
        await anyio.sleep(0.1)
        assert inbox.logs == []  # nobody asked yet
        await client.set_logging_level("warning")
        await anyio.to_thread.run_sync(log.warning, "a %s from a worker thread", "warning")
        log.error("an error")
        log.info("below the level")
        await inbox.wait(lambda: len(inbox.logs) >= 2)
        await anyio.sleep(0.1)
    assert [(p.level, p.data["message"], p.logger) for p in inbox.logs] == [
        ("warning", "a warning from a worker thread", "dgx_spark_mcp.tests"),
        ("error", "an error", "dgx_spark_mcp.tests"),
    ]
