"""Paths tools may read: inside the allowed roots, plain files, never through a link out."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dgx_spark_mcp.errors import BadInputError
from dgx_spark_mcp.files import allowed_path
from dgx_spark_mcp.settings import Settings


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "app.log").write_text("ok\n")
    (tmp_path / "outside.log").write_text("secret\n")
    return tmp_path / "root"


@pytest.fixture
def settings(root: Path) -> Settings:
    return Settings(home=root / "home", allowed_roots=[str(root)], log_level="WARNING")


def test_a_file_inside_the_roots_is_allowed(root: Path, settings: Settings) -> None:
    assert allowed_path(root / "app.log", settings) == (root / "app.log").resolve()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda r: r / ".." / "outside.log", "outside the allowed roots"),
        (lambda r: r / "missing.log", "does not exist"),
        (lambda r: r, "is a directory"),
        (lambda r: "", "path is empty"),
        (lambda r: f"{r}/a\x00b", "NUL byte"),
        (lambda r: "~nosuchuser-dgx/app.log", "names no user of this machine"),
    ],
)
def test_refusals_say_why(root: Path, settings: Settings, make: object, message: str) -> None:
    with pytest.raises(BadInputError, match=message):
        allowed_path(make(root), settings)  # type: ignore[operator]


def test_a_symlink_out_of_the_roots_is_refused(root: Path, settings: Settings) -> None:
    link = root / "innocent.log"
    link.symlink_to(root.parent / "outside.log")
    with pytest.raises(BadInputError, match="resolves to"):
        allowed_path(link, settings)


def test_a_fifo_is_refused_without_blocking(root: Path, settings: Settings) -> None:
    fifo = root / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(BadInputError, match="not a regular file"):
        allowed_path(fifo, settings)


def test_directories_only_where_asked(root: Path, settings: Settings) -> None:
    assert allowed_path(root, settings, directory_ok=True) == root.resolve()


@pytest.mark.parametrize(
    ("sample", "binary"),
    [
        (b"spark.executor.memory 8g\n", False),
        (b"24/06/01 12:00:00 INFO x\tok\r\n", False),
        (b"", False),
        (b"HOME=/root\x00PATH=/bin\x00", True),  # /proc/self/environ
        (bytes(range(1, 32)) * 4, True),
    ],
)
def test_binary_data_is_told_from_text(sample: bytes, binary: bool) -> None:
    from dgx_spark_mcp.files import looks_binary

    assert looks_binary(sample) is binary
