"""The known-keys API, and data/spark-keys.json against the JVM of the installed PySpark."""

from __future__ import annotations

import importlib.metadata
import json
from typing import Any

import pytest

from dgx_spark_mcp.knowledge import load_knowledge
from dgx_spark_mcp.optimizers.keys import SparkKeysFile, deprecated, is_known, lookup, spark_keys_version, suggest
from dgx_spark_mcp.optimizers.sizes import parse_spark_size

from ..conftest import REPO


@pytest.mark.parametrize(
    "key",
    [
        "spark.executor.memory",  # core
        "spark.sql.adaptive.enabled",  # SQL
        "spark.sql.warehouse.dir",  # static SQL
        "spark.kubernetes.container.image",  # kubernetes
        "spark.yarn.queue",  # yarn
        "spark.master",  # curated: SparkConf.setMaster, no ConfigEntry
        "spark.rapids.sql.concurrentGpuTasks",  # RAPIDS configs page
        "spark.rapids.shuffle.multiThreaded.reader.threads",  # RAPIDS advanced page
        "spark.rapids.sql.expression.Abs",  # RAPIDS family
        "spark.executor.resource.gpu.amount",  # {resourceName} family
        "spark.hadoop.fs.s3a.endpoint",  # spark.hadoop.*
        "spark.kubernetes.driver.label.team",  # prefix constant read from the JVM
        "spark.sql.catalog.iceberg.type",  # catalog options
        "spark.yarn.executor.memoryOverhead",  # deprecated but still read
    ],
)
def test_known_keys(key: str) -> None:
    assert is_known(key)


@pytest.mark.parametrize(
    "key", ["spark.executor.memroy", "spark.foo", "executor.memory", "spark.sql.hive.verifyPartitionPath",
            "spark.executor.resource.gpu.amount.extra"],
)
def test_unknown_and_removed_keys(key: str) -> None:
    assert not is_known(key)


def test_suggest_finds_typos_and_case_mistakes() -> None:
    assert suggest("spark.executor.memroy")[0] == "spark.executor.memory"
    assert suggest("spark.sql.shuffle.partition")[0] == "spark.sql.shuffle.partitions"
    assert suggest("spark.Executor.Memory") == ["spark.executor.memory"]
    assert suggest("spark.rapids.sql.concurentGpuTasks")[0] == "spark.rapids.sql.concurrentGpuTasks"
    assert suggest("spark.zzzz.qqqq.wwww") == []


def test_deprecated_keys_name_their_replacement_and_version() -> None:
    old = deprecated("spark.yarn.executor.memoryOverhead")
    assert old is not None and old.replacement == "spark.executor.memoryOverhead" and old.since == "2.3"
    rapids = deprecated("spark.rapids.memory.gpu.pooling.enabled")
    assert rapids is not None and rapids.replacement == "spark.rapids.memory.gpu.pool"
    removed = deprecated("spark.sql.hive.verifyPartitionPath")
    assert removed is not None and removed.removed and removed.replacement == "spark.sql.files.ignoreMissingFiles"
    assert deprecated("spark.executor.memory") is None


def test_lookup_gives_defaults_and_the_family_a_key_belongs_to() -> None:
    info = lookup("spark.executor.memory")
    assert info is not None and info.origin == "spark" and info.known is not None and info.known.default == "1g"
    family = lookup("spark.executor.resource.fpga.amount")
    assert family is not None and family.pattern == "spark.executor.resource.{resourceName}.amount"


def test_machine_dependent_defaults_are_not_recorded() -> None:
    """The generator must not write this machine's host name or working directory into the file."""
    for key in ("spark.driver.host", "spark.sql.warehouse.dir", "spark.sql.session.timeZone"):
        info = lookup(key)
        assert info is not None and info.known is not None
        assert info.known.computed and info.known.default is None


def test_the_keys_file_is_from_the_installed_pyspark() -> None:
    """Fast staleness check; the slow test below compares every key with the live JVM."""
    assert spark_keys_version() == importlib.metadata.version("pyspark"), (
        "data/spark-keys.json was generated from another PySpark: run scripts/gen_spark_keys.py"
    )


def test_spark_size_strings_are_binary_and_strict() -> None:
    assert parse_spark_size("4g") == parse_spark_size("4gb") == 4 * 1024**3
    assert parse_spark_size("512m") == 512 * 1024**2
    assert parse_spark_size("1t") == 1024**4
    assert parse_spark_size("4096", "m") == 4 * 1024**3
    assert parse_spark_size("10MB") == 10 * 1024**2
    assert parse_spark_size("-1") == -1
    for bad in ("1.5g", "4 g", "4x", ""):
        with pytest.raises(ValueError):
            parse_spark_size(bad)


def _diff(live: dict[str, Any], committed: dict[str, Any]) -> list[str]:
    lines = [f"only in the JVM: {k}" for k in sorted(set(live) - set(committed))]
    lines += [f"only in the file: {k}" for k in sorted(set(committed) - set(live))]
    lines += [f"differs: {k}: JVM {live[k]} file {committed[k]}" for k in sorted(set(live) & set(committed))
              if live[k] != committed[k]]
    return lines


@pytest.mark.slow
def test_spark_keys_file_matches_the_live_jvm(spark: Any) -> None:
    from dgx_spark_mcp.optimizers.spark_registry import read_registry

    live = json.loads(read_registry(spark).model_dump_json(exclude_defaults=True))
    committed = json.loads(load_knowledge("spark-keys.json", SparkKeysFile).model_dump_json(exclude_defaults=True))
    assert live["spark_version"] == committed["spark_version"]
    for part in ("keys", "deprecated"):
        problems = _diff(live[part], committed[part])
        assert not problems, f"data/spark-keys.json is stale ({part}); run scripts/gen_spark_keys.py:\n" + "\n".join(
            problems[:15]
        )
    assert live["prefixes"] == committed["prefixes"] and live["config_objects"] == committed["config_objects"]


@pytest.mark.slow
def test_sampled_keys_resolve_in_the_jvm_registry(spark: Any) -> None:
    """Independently of the generator's code: every 40th key is a ConfigEntry with the recorded default."""
    entries = spark._jvm.org.apache.spark.internal.config.ConfigEntry
    committed = load_knowledge("spark-keys.json", SparkKeysFile)
    sample = list(committed.keys.items())[::40]
    assert len(sample) > 30
    for key, known in sample:
        entry = entries.findEntry(key)
        assert entry is not None, f"{key} is not a ConfigEntry of Spark {spark.version}"
        if known.default is not None:
            assert entry.defaultValueString() == known.default, key


def test_rapids_keys_file_records_its_sources() -> None:
    data = json.loads((REPO / "data" / "rapids-keys.json").read_text(encoding="utf-8"))
    docs = {entry["doc"] for entry in data["keys"].values()}
    assert docs <= set(data["sources"]), "every RAPIDS key names a page listed in 'sources'"
    assert all(k.startswith("spark.rapids.") for k in data["keys"])


CORPUS = REPO / "tests" / "fixtures" / "eventlogs" / "corpus"  # a copy of the shared sample corpus


def _spark_properties(path: Any) -> dict[str, str]:
    """The 'Spark Properties' of an event log's SparkListenerEnvironmentUpdate (plain or zstd)."""
    import io

    import zstandard

    raw = path.read_bytes()
    if path.suffix == ".zstd":
        raw = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(raw)).read()
    for line in raw.decode("utf-8", errors="replace").splitlines():
        if '"SparkListenerEnvironmentUpdate"' in line:
            return dict(json.loads(line)["Spark Properties"])
    return {}


# malformed_json_eventlog breaks its one environment line on purpose: nothing to read there.
EVENT_LOGS = sorted(p for p in CORPUS.glob("*eventlog*") if p.is_file() and "malformed" not in p.name)


@pytest.mark.parametrize("log", EVENT_LOGS, ids=lambda p: p.name)
def test_every_key_of_real_applications_is_known(log: Any) -> None:
    assert len(EVENT_LOGS) >= 8, "the corpus copy under tests/fixtures/eventlogs/corpus is incomplete"
    """Real Spark 2.2-3.5 and RAPIDS runs (NVIDIA/spark-rapids-tools test logs, see corpus/SOURCES.md)."""
    properties = _spark_properties(log)
    assert properties, f"{log.name} has no environment update"
    unknown = [k for k in properties if not is_known(k) and deprecated(k) is None]
    assert unknown == []
