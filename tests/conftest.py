"""Shared fixtures: isolated settings, recorded NVML machines, an in-process MCP client."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from dgx_spark_mcp.hardware.nvml_recording import ReplayNvml, load_recording
from dgx_spark_mcp.server import build_server
from dgx_spark_mcp.settings import Settings

if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
    # Hypothesis keeps its example database and, at collection, a cache of the constants of local
    # source files under ./.hypothesis: tests write nothing into the current directory, so it lives
    # in a temporary directory for the run (set here, before any test module is collected).
    import tempfile

    from hypothesis.configuration import set_hypothesis_home_dir

    _HYPOTHESIS_HOME = tempfile.TemporaryDirectory(prefix="hypothesis-")
    set_hypothesis_home_dir(_HYPOTHESIS_HOME.name)

NVML_FIXTURES = Path(__file__).parent / "fixtures" / "nvml"
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", allowed_roots=[str(tmp_path)], log_level="WARNING")


@pytest.fixture
def machine() -> Callable[[str], ReplayNvml]:
    """A replayed NVML of a recorded machine: machine('gb10'), machine('dgx-h100')."""

    def load(name: str) -> ReplayNvml:
        return load_recording(NVML_FIXTURES / f"{name}.json")[1]

    return load


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[Client]:
    """A client of a server on this machine's real (absent) NVML."""
    async with Client(build_server(settings), raise_exceptions=True) as c:
        yield c


@pytest.fixture
def server_env(tmp_path: Path) -> dict[str, str]:
    """Environment for a server subprocess: its own data dir, nothing from the developer's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DGX_SPARK_MCP_")}
    env["DGX_SPARK_MCP_HOME"] = str(tmp_path / "home")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def server_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "dgx_spark_mcp", *args]


def structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return dict(result.structured_content)


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One local SparkSession for the whole test run: a JVM start costs seconds. Mark its users slow."""
    import shutil

    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("no Java here: PySpark needs a JVM")
    import logging

    from pyspark.sql import SparkSession

    # py4j logs every command at DEBUG, and its finalizers log after pytest has closed the
    # captured streams ("--- Logging error ---" at exit): keep it to warnings.
    logging.getLogger("py4j").setLevel(logging.WARNING)
    work = tmp_path_factory.mktemp("spark")
    session = (
        SparkSession.builder.master("local[2]")
        .appName("dgx-spark-mcp-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.warehouse.dir", str(work / "warehouse"))
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={work}")
        .getOrCreate()
    )
    yield session
    session.stop()
