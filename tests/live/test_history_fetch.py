"""Event logs fetched from a real Spark History Server: found by reference, cached and bounded, and analysed exactly
as the same log on disk is."""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from pydantic import SecretStr

from dgx_spark_mcp.errors import BadInputError, CouldNotDoError, UnavailableError
from dgx_spark_mcp.live.history import DONE, cache_root, fetch_event_log
from dgx_spark_mcp.live.servers import SparkServer
from dgx_spark_mcp.live.spark_servers import remembered
from dgx_spark_mcp.server import build_server

from ..conftest import structured
from .shs import HistoryServer, bearer_proxy

pytestmark = pytest.mark.slow

TOKEN = "shs-tok-9c41e7a2b8d05f36"  # noqa: S105 - a test credential; the point is that it never shows up


def _without(data: Any, *paths: str) -> Any:
    """``data`` with the dotted ``paths`` removed (the parts that name where the log was read)."""
    for path in paths:
        node, *rest = path.split(".")
        if isinstance(data, dict) and node in data:
            if rest:
                data = {**data, node: _without(data[node], ".".join(rest))}
            else:
                data = {k: v for k, v in data.items() if k != node}
    return data


@pytest.mark.anyio
@pytest.mark.parametrize("role", ["rolling", "zstd", "slow", "truncated", "running"])
async def test_an_app_analysed_through_the_history_server_equals_its_log_read_from_disk(
        history_server: HistoryServer, tmp_path: Path, role: str) -> None:
    fetched = history_server.settings(tmp_path / "fetched")
    on_disk = history_server.settings(tmp_path / "disk", roots=[history_server.files[role].parent, tmp_path])
    args = {"detail": "full", "limit": 1000}
    async with Client(build_server(fetched), raise_exceptions=True) as client:
        remote = structured(await client.call_tool("analyze_event_log", {"app": history_server.ids[role], **args}))
    async with Client(build_server(on_disk), raise_exceptions=True) as client:
        local = structured(await client.call_tool("analyze_event_log",
                                                  {"path": str(history_server.files[role]), **args}))
    assert remote["source"] == f"shs/{history_server.ids[role]}" and "source" not in local
    assert remote["reading"]["files"] == local["reading"]["files"]
    assert _without(remote, "source", "reading.path", "history") == _without(local, "reading.path", "history")


@pytest.mark.anyio
async def test_a_diagnosis_through_the_history_server_has_the_findings_of_the_log_on_disk(
        history_server: HistoryServer, tmp_path: Path) -> None:
    fetched = history_server.settings(tmp_path / "fetched")
    on_disk = history_server.settings(tmp_path / "disk", roots=[history_server.files["failing"].parent])
    app = f"shs/{history_server.ids['failing']}"
    async with Client(build_server(fetched), raise_exceptions=True) as client:
        remote = structured(await client.call_tool("diagnose_log", {"app": app, "detail": "full"}))
    async with Client(build_server(on_disk), raise_exceptions=True) as client:
        local = structured(await client.call_tool("diagnose_log", {"path": str(history_server.files["failing"]),
                                                                   "detail": "full"}))
    assert remote["source"] == app and remote["kind"] == local["kind"] == "spark_event_log"
    name = history_server.files["failing"].name
    for finding in remote["findings"]:
        for evidence in finding["evidence"]:
            assert evidence.get("file") in (None, f"{app}:{name}")  # the cache's path never shows
    assert [_without(f, "evidence") for f in remote["findings"]] == [_without(f, "evidence") for f in local["findings"]]
    assert [[_without(e, "file") for e in f["evidence"]] for f in remote["findings"]] == \
        [[_without(e, "file") for e in f["evidence"]] for f in local["findings"]]
    assert any(f["category"] == "python_udf_error" for f in remote["findings"])


def test_an_app_is_fetched_once_then_served_from_the_cache(history_server: HistoryServer, tmp_path: Path) -> None:
    settings = history_server.settings(tmp_path / "home")
    first = fetch_event_log(settings, history_server.ids["rolling"])
    again = fetch_event_log(settings, f"shs/{history_server.ids['rolling']}")
    assert (first.from_cache, again.from_cache) == (False, True)
    assert first.path == again.path and first.path.name == "eventlog_v2_local-1623876083964"
    assert sorted(p.name for p in first.path.iterdir()) == sorted(
        p.name for p in history_server.files["rolling"].iterdir())
    assert first.path.is_relative_to(cache_root(settings)) and first.source == f"shs/{first.app_id}"
    assert remembered(settings, first.app_id) == "shs"


def test_the_cache_stays_within_its_bound_dropping_the_least_recently_used(
        history_server: HistoryServer, tmp_path: Path) -> None:
    settings = history_server.settings(tmp_path / "home", live_cache_mib=1)
    failing = fetch_event_log(settings, history_server.ids["failing"])  # 0.28 MB
    slow = fetch_event_log(settings, history_server.ids["slow"])  # 0.33 MB
    time.sleep(0.05)
    assert fetch_event_log(settings, history_server.ids["failing"]).from_cache  # used again: now the newest
    rolling = fetch_event_log(settings, history_server.ids["rolling"])  # 0.55 MB: over 1 MiB in all
    kept = {marker.parent.parent.name for marker in cache_root(settings).rglob(DONE)}
    assert kept == {failing.app_id, rolling.app_id} and slow.app_id not in kept
    assert sum(f.stat().st_size for f in cache_root(settings).rglob("*") if f.is_file()) <= 1 << 20
    assert not fetch_event_log(settings, history_server.ids["slow"]).from_cache


def test_a_log_larger_than_the_file_limit_is_refused_not_unpacked(history_server: HistoryServer, tmp_path: Path) -> None:
    settings = history_server.settings(tmp_path / "home", max_file_mib=1)
    with pytest.raises(CouldNotDoError, match="unpacks to more than 1 MiB.*DGX_SPARK_MCP_MAX_FILE_MIB"):
        fetch_event_log(settings, history_server.ids["oversized"])
    assert not list(cache_root(settings).rglob(DONE))


def test_an_unknown_app_names_the_closest_ids_and_an_unknown_server_the_known_ones(
        history_server: HistoryServer, tmp_path: Path) -> None:
    settings = history_server.settings(tmp_path / "home")
    near = history_server.ids["failing"][:-2] + "00"
    with pytest.raises(BadInputError, match=rf"no application '{near}' on shs \(closest: shs/local-") as exc:
        fetch_event_log(settings, near)
    assert f"shs/{history_server.ids['failing']}" in str(exc.value)
    with pytest.raises(BadInputError, match=r"unknown Spark server 'prod'; known: shs, and 'local'"):
        fetch_event_log(settings, f"prod/{history_server.ids['failing']}")
    with pytest.raises(BadInputError, match="write the app id"):
        fetch_event_log(settings, "shs//x")


def test_attempts_are_chosen_by_reference_and_never_guessed(history_server: HistoryServer, tmp_path: Path) -> None:
    settings = history_server.settings(tmp_path / "home")
    app = history_server.ids["attempts"]
    with pytest.raises(BadInputError, match=rf"has 2 attempts \(2, 1\); name one: shs/{app}/2 is the latest"):
        fetch_event_log(settings, app)
    second = fetch_event_log(settings, f"shs/{app}/2")
    assert (second.attempt, second.path.name, second.source) == ("2", f"{app}_2", f"shs/{app}/2")
    with pytest.raises(BadInputError, match="has no attempt '3'; its attempts: 2, 1"):
        fetch_event_log(settings, f"shs/{app}/3")


def test_an_app_the_server_has_not_read_yet_is_unavailable_not_unknown(
        history_server: HistoryServer, tmp_path: Path) -> None:
    """150 logs dropped at once queue behind the server's one replay thread, newest first: the oldest, the one asked
    for, is not listed while the others are read, and the server's start page says it is reading."""
    failing, filler_id, late_id = history_server.ids["failing"], "local-1000000000700", "local-1000000000777"
    text = history_server.files["failing"].read_text().replace(failing, filler_id)
    staging = tmp_path / "staging"
    staging.mkdir()
    for i in range(150):
        (staging / f"filler-{i}").write_text(text.replace('"App Name":"failing-etl"', '"App Name":"filler"'))
    late = staging / late_id
    late.write_text(text.replace(filler_id, late_id).replace('"App Name":"failing-etl"', '"App Name":"late-arrival"'))
    os.utime(late, (time.time() - 86400, time.time() - 86400))
    for path in staging.iterdir():
        shutil.move(path, history_server.log_dir / path.name)
    settings = history_server.settings(tmp_path / "home")
    deadline = time.monotonic() + 30
    with pytest.raises(UnavailableError, match=rf"shs has not listed '{late_id}' yet: it is still reading \d+ event"):
        while time.monotonic() < deadline:
            try:
                fetch_event_log(settings, f"shs/{late_id}")
            except BadInputError:  # not seen yet: the next scan starts within a second
                time.sleep(0.05)
                continue
            pytest.fail("the late log was listed before the server was seen reading it")
    while late_id not in {a["id"] for a in history_server.listed()}:  # read at last (and the server settled)
        assert time.monotonic() < deadline + 60, "the late log was never listed"
        time.sleep(0.2)
    assert fetch_event_log(settings, late_id).app_id == late_id


def test_a_bearer_token_reaches_its_server_and_is_never_shown(history_server: HistoryServer, tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with bearer_proxy(history_server.url, TOKEN) as proxy:
        good = history_server.settings(tmp_path / "home", spark_servers=[
            SparkServer(name="secure", url=proxy.url, token=SecretStr(TOKEN))])
        fetched = fetch_event_log(good, history_server.ids["failing"])
        assert fetched.server == "secure" and proxy.authorizations and set(proxy.authorizations) == {f"Bearer {TOKEN}"}
        wrong = history_server.settings(tmp_path / "other", spark_servers=[
            SparkServer(name="secure", url=proxy.url, token=SecretStr(TOKEN[::-1]))])
        with pytest.raises(CouldNotDoError, match="refused the credentials") as exc:
            fetch_event_log(wrong, f"secure/{history_server.ids['failing']}")
    for shown in (str(exc.value), caplog.text, repr(fetched), str(good.public_view())):
        assert TOKEN not in shown and TOKEN[::-1] not in shown
