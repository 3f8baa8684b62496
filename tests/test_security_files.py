"""The classic file attacks, against every path argument of every file-reading tool, through a real MCP client.

tests/test_files.py checks :func:`allowed_path` itself and a few tools check one attack each; this is the
whole matrix at the MCP surface: ``../`` traversal and a symlink out of the allowed roots,
``/proc/self/environ``, ``/dev/zero`` (directly and through a link), a FIFO (which would block a reader
forever), a directory and a binary file — each refused as an error result whose text says why, fast.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from dgx_spark_mcp.server import build_server
from dgx_spark_mcp.settings import Settings

pytestmark = pytest.mark.anyio

PATH_ARGUMENTS = [
    ("diagnose_log", "path", {}),
    ("analyze_event_log", "path", {}),
    ("check_spark_config", "path", {}),
    ("analyze_query_plan", "path", {}),
    ("ingest_telemetry", "path", {}),
    ("ask", "log_path", {"question": "why did it fail?", "hardware": False}),
    ("ask", "event_log_path", {"question": "why is it slow?", "hardware": False}),
]
IDS = [f"{tool}.{arg}" for tool, arg, _ in PATH_ARGUMENTS]

OUTSIDE = "outside the allowed roots"
NOT_REGULAR = "not a regular file"
NOT_TEXT = r"binary|not UTF-8|holds no Spark events"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "outside.log").write_text("spark.secret.password hunter2\n")
    (root / "innocent.log").symlink_to(tmp_path / "outside.log")
    (root / "zero.log").symlink_to("/dev/zero")
    os.mkfifo(root / "pipe.log")
    (root / "logs").mkdir()
    (root / "blob.log").write_bytes(bytes(range(256)) * 16)
    return root


def _server_settings(tmp_path: Path, *roots: Path | str) -> Settings:
    return Settings(home=tmp_path / "home", allowed_roots=[str(r) for r in roots], log_level="WARNING",
                    engine_url="none")


@pytest.fixture
async def client(tmp_path: Path, root: Path) -> AsyncIterator[Client]:
    """Allowed root: the fixture directory only, as a user would configure it."""
    async with Client(build_server(_server_settings(tmp_path, root))) as c:
        yield c


@pytest.fixture
async def wide_client(tmp_path: Path, root: Path) -> AsyncIterator[Client]:
    """A careless configuration that allows /dev and /proc/self too: the file checks must still hold."""
    async with Client(build_server(_server_settings(tmp_path, root, "/dev", "/proc/self"))) as c:
        yield c


async def refusal(client: Client, tool: str, arg: str, extra: dict[str, Any], path: str | Path) -> str:
    with anyio.fail_after(30):  # a FIFO or /dev/zero that was opened would block or read forever
        result = await client.call_tool(tool, {**extra, arg: str(path)})
    text = "\n".join(getattr(c, "text", "") for c in result.content)
    assert result.is_error, f"{tool}.{arg}={path!s} was read: {text[:300]}"
    assert text.startswith(f"Error executing tool {tool}: "), text  # a reason, not the bare crash text
    return text


@pytest.mark.parametrize(("tool", "arg", "extra"), PATH_ARGUMENTS, ids=IDS)
async def test_traversal_out_of_the_roots_is_refused(client: Client, root: Path, tool: str, arg: str,
                                                     extra: dict[str, Any]) -> None:
    for path in (root / ".." / "outside.log", f"{root}/logs/../../outside.log", f"{root}/{'../' * 20}etc/passwd"):
        text = await refusal(client, tool, arg, extra, path)
        assert OUTSIDE in text
        assert "hunter2" not in text


@pytest.mark.parametrize(("tool", "arg", "extra"), PATH_ARGUMENTS, ids=IDS)
async def test_a_symlink_out_of_the_roots_is_refused(client: Client, root: Path, tool: str, arg: str,
                                                     extra: dict[str, Any]) -> None:
    text = await refusal(client, tool, arg, extra, root / "innocent.log")
    assert OUTSIDE in text and "resolves to" in text and "hunter2" not in text


@pytest.mark.parametrize(("tool", "arg", "extra"), PATH_ARGUMENTS, ids=IDS)
async def test_proc_and_dev_are_outside_the_default_roots(client: Client, root: Path, tool: str, arg: str,
                                                          extra: dict[str, Any]) -> None:
    for path in ("/proc/self/environ", "/dev/zero", root / "zero.log"):
        assert OUTSIDE in await refusal(client, tool, arg, extra, path)


@pytest.mark.parametrize(("tool", "arg", "extra"), PATH_ARGUMENTS, ids=IDS)
async def test_dev_zero_is_refused_even_inside_the_roots(wide_client: Client, root: Path, tool: str, arg: str,
                                                         extra: dict[str, Any]) -> None:
    for path in ("/dev/zero", root / "zero.log"):
        assert NOT_REGULAR in await refusal(wide_client, tool, arg, extra, path)


@pytest.mark.parametrize(("tool", "arg", "extra"), PATH_ARGUMENTS, ids=IDS)
async def test_proc_self_environ_is_refused_even_inside_the_roots(wide_client: Client, tool: str, arg: str,
                                                                  extra: dict[str, Any]) -> None:
    assert re.search(NOT_TEXT, await refusal(wide_client, tool, arg, extra, "/proc/self/environ"))


@pytest.mark.parametrize(("tool", "arg", "extra"), PATH_ARGUMENTS, ids=IDS)
async def test_a_fifo_is_refused_without_blocking(client: Client, root: Path, tool: str, arg: str,
                                                  extra: dict[str, Any]) -> None:
    assert NOT_REGULAR in await refusal(client, tool, arg, extra, root / "pipe.log")


@pytest.mark.parametrize(("tool", "arg", "extra"), PATH_ARGUMENTS, ids=IDS)
async def test_a_plain_directory_is_refused(client: Client, root: Path, tool: str, arg: str,
                                            extra: dict[str, Any]) -> None:
    # (A rolling eventlog_v2_* directory is an event log and is read: see tests/diagnosis.)
    assert re.search(r"is a directory", await refusal(client, tool, arg, extra, root / "logs"))


@pytest.mark.parametrize(("tool", "arg", "extra"), PATH_ARGUMENTS, ids=IDS)
async def test_a_binary_file_is_refused(client: Client, root: Path, tool: str, arg: str,
                                        extra: dict[str, Any]) -> None:
    assert re.search(NOT_TEXT, await refusal(client, tool, arg, extra, root / "blob.log"))
