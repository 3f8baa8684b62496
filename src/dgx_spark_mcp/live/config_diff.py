"""The Spark properties two runs of a job differ in, the ones that change performance first, the noise left out.

Two runs of one job always differ in ids, ports, hosts, times and temporary paths (``spark.app.id``,
``spark.driver.port``, ``spark.app.startTime``); such differences say nothing about speed and would
bury the one that does.  They are dropped: by key (:data:`NOISE`), and for keys with no known effect, when
the two values are equal once digits and temporary paths are blanked.  What is left is ranked: the keys
that decide a run's shape (:data:`RANKED`: executor memory, cores and instances, shuffle partitions, AQE,
serializer, broadcast threshold, dynamic allocation, RAPIDS) in that order, then other performance keys
(:data:`PERFORMANCE_PREFIXES`), then the rest by name.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from pydantic import BaseModel

__all__ = ["ConfigDifference", "NOISE", "RANKED", "config_differences", "spark_properties"]

RANKED = (
    "spark.executor.memory", "spark.executor.memoryOverhead", "spark.executor.memoryOverheadFactor",
    "spark.memory.offHeap.enabled", "spark.memory.offHeap.size", "spark.executor.cores", "spark.executor.instances",
    "spark.sql.shuffle.partitions", "spark.default.parallelism", "spark.sql.adaptive.enabled",
    "spark.sql.adaptive.coalescePartitions.enabled", "spark.sql.adaptive.skewJoin.enabled",
    "spark.sql.adaptive.advisoryPartitionSizeInBytes", "spark.serializer", "spark.sql.autoBroadcastJoinThreshold",
    "spark.sql.adaptive.autoBroadcastJoinThreshold", "spark.dynamicAllocation.enabled",
    "spark.dynamicAllocation.minExecutors", "spark.dynamicAllocation.maxExecutors",
    "spark.dynamicAllocation.initialExecutors", "spark.plugins", "spark.rapids.sql.enabled",
    "spark.rapids.sql.concurrentGpuTasks", "spark.executor.resource.gpu.amount", "spark.task.resource.gpu.amount",
    "spark.rapids.memory.pinnedPool.size", "spark.rapids.memory.gpu.pool",
)
RAPIDS_PREFIXES = ("spark.rapids.", "spark.executor.resource.gpu.", "spark.task.resource.gpu.")
PERFORMANCE_PREFIXES = (
    "spark.sql.", "spark.memory.", "spark.shuffle.", "spark.executor.", "spark.driver.memory", "spark.driver.cores",
    "spark.driver.maxResultSize", "spark.task.", "spark.locality.", "spark.speculation", "spark.kryo",
    "spark.io.compression.", "spark.network.timeout", "spark.reducer.", "spark.broadcast.", "spark.storage.",
    "spark.files.maxPartitionBytes", "spark.dynamicAllocation.", "spark.scheduler.", "spark.cores.max", "spark.master",
)
NOISE = re.compile(
    r"^spark\.app\.(id|name|startTime|submitTime|attempt\.id|initial\.(jar|file|archive)\.urls)$"
    r"|(^|\.)(host|hostname|port|bindAddress|address)$|^spark\.driver\.(host|port|appUIAddress)"
    r"|^spark\.ui\.|^spark\.eventLog\.|^spark\.history\.|^spark\.repl\.|^spark\.sql\.warehouse\.dir$"
    r"|^spark\.org\.apache\.hadoop\.yarn\.server\.webproxy|appId|\.pod\.?[nN]ame|podNamePrefix|^spark\.yarn\.tags$"
    r"|^spark\.submit\.pyFiles$|^spark\.sql\.execution\.(id|root\.id)$|^spark\.jobGroup\.id$"
)
_BLANKS = re.compile(r"/tmp/[^\s,:;]*|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f-]{27,}|\d+")
ENVIRONMENT_EVENT = b'"SparkListenerEnvironmentUpdate"'
MAX_LINES_BEFORE_ENVIRONMENT = 10_000


class ConfigDifference(BaseModel):
    key: str
    a: str | None = None
    b: str | None = None


def spark_properties(files: tuple[Path, ...]) -> dict[str, str]:
    """Every Spark property of a run, from its event log's environment event (near the start of the first file)."""
    from ..diagnosis.reading.codecs import LogLines

    for file in files[:1]:
        for number, line in enumerate(LogLines(file)):
            if number > MAX_LINES_BEFORE_ENVIRONMENT:
                break
            if ENVIRONMENT_EVENT not in line:
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue
            props = event.get("Spark Properties") or {}
            pairs = props.items() if isinstance(props, dict) else props
            return {str(k): str(v) for k, v in pairs}
    return {}


def _rank(key: str) -> tuple[int, int, str]:
    if key in RANKED:
        return (0, RANKED.index(key), key)
    if key.startswith(RAPIDS_PREFIXES):
        return (0, len(RANKED), key)
    if key.startswith(PERFORMANCE_PREFIXES):
        return (1, 0, key)
    return (2, 0, key)


def _noise(key: str, a: str | None, b: str | None) -> bool:
    if key in RANKED or key.startswith(RAPIDS_PREFIXES):
        return False
    if NOISE.search(key):
        return True
    return _rank(key)[0] == 2 and a is not None and b is not None and _BLANKS.sub("#", a) == _BLANKS.sub("#", b)


def config_differences(a: dict[str, str], b: dict[str, str]) -> list[ConfigDifference]:
    """The properties set differently (or in one run only), ranked, without the noise."""
    found = [ConfigDifference(key=key, a=a.get(key), b=b.get(key)) for key in a.keys() | b.keys()
             if a.get(key) != b.get(key) and not _noise(key, a.get(key), b.get(key))]
    return sorted(found, key=lambda d: _rank(d.key))
