"""What a check sees: the configuration as Spark would read it, its defaults, and the hardware.

Values are read typed (a size, a number, a flag).  A value Spark would refuse is recorded in
``invalid`` (the invalid-value rule reports it) and reads as None, as does a value the source
computes; a check then says nothing about that key rather than guess.  An unset key reads as
Spark's default from ``data/spark-keys.json`` (or the RAPIDS pages) unless ``default=False``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from functools import cache

from ...errors import BadInputError
from ..check_models import Finding, KeyRef
from ..config_sources import ParsedConfig, ParsedKey
from ..keys import lookup
from ..models import ConfigChange, DeployMode
from ..rules import Rule, Severity
from ..sizes import parse_spark_size
from ..sizing import constants
from ..target import Target

__all__ = ["Context", "NEEDS_HARDWARE", "REDACTED", "is_secret", "mib", "gib"]

REDACTED = "*********(redacted)"
RAPIDS_PLUGIN = "com.nvidia.spark.SQLPlugin"
_MIB = 1024**2
NEEDS_HARDWARE = ("needs hardware: pass hardware (a profile name such as 'dgx-h100', 'this' for this machine, "
                  "or a node spec) to evaluate it")


def mib(n_bytes: float) -> str:
    return f"{n_bytes / _MIB:,.0f} MiB"


def gib(n_bytes: float) -> str:
    value = n_bytes / 1024**3
    return f"{value:g}g" if value == int(value) else f"{value:.1f} GiB"


@cache
def _redaction() -> re.Pattern[str]:
    info = lookup("spark.redaction.regex")
    default = info.known.default if info and info.known else None
    return re.compile(default or r"(?i)secret|password|token|access[.]?key|credential")


def is_secret(key: str) -> bool:
    """Keys Spark itself redacts in its UI and logs (the default spark.redaction.regex)."""
    return bool(_redaction().search(key))


def _master_mode(master: str | None) -> DeployMode | None:
    if master is None:
        return None
    m = master.strip().lower()
    if m.startswith("local"):
        return DeployMode.LOCAL
    if m.startswith("yarn"):
        return DeployMode.YARN
    if m.startswith("k8s://"):
        return DeployMode.KUBERNETES
    if m.startswith("spark://"):
        return DeployMode.STANDALONE
    return None


class Context:
    def __init__(
        self,
        parsed: ParsedConfig,
        deploy_mode: DeployMode | None = None,
        language: str | None = None,
        target: Target | None = None,
    ) -> None:
        self.parsed = parsed
        self.conf: dict[str, ParsedKey] = parsed.winners()
        self.target = target
        self.language = language or parsed.language
        self.invalid: dict[str, str] = {}
        master = self.conf.get("spark.master")
        self.deploy: DeployMode | None = deploy_mode or _master_mode(master.value if master else None)

    # --- raw values -----------------------------------------------------------------------

    def is_set(self, key: str) -> bool:
        return key in self.conf

    def default(self, key: str) -> str | None:
        info = lookup(key)
        return info.known.default if info and info.known else None

    def text(self, key: str, default: bool = True) -> str | None:
        """The value written (None if computed), or Spark's default when unset and ``default``."""
        entry = self.conf.get(key)
        if entry is not None:
            return entry.value
        return self.default(key) if default else None

    def _typed(self, key: str, default: bool, parse: Callable[[str], object]) -> object | None:
        raw = self.text(key, default)
        if raw is None:
            return None
        try:
            return parse(raw)
        except (BadInputError, ValueError) as exc:
            if key in self.conf:
                self.invalid[key] = str(exc)
            return None

    def size(self, key: str, unit: str = "b", default: bool = True) -> int | None:
        """Bytes; ``unit`` is the key's own unit for a bare number ('m' for spark.executor.memory)."""
        value = self._typed(key, default, lambda raw: parse_spark_size(raw, unit))
        return value if isinstance(value, int) else None

    def number(self, key: str, default: bool = True) -> float | None:
        def parse(raw: str) -> float:
            value = float(raw.strip())
            if not math.isfinite(value):
                raise ValueError(f"{raw!r} is not a finite number")
            return value

        value = self._typed(key, default, parse)
        return value if isinstance(value, float) else None

    def integer(self, key: str, default: bool = True) -> int | None:
        value = self._typed(key, default, lambda raw: int(raw.strip()))
        return value if isinstance(value, int) else None

    def flag(self, key: str, default: bool = True) -> bool | None:
        def parse(raw: str) -> bool:
            word = raw.strip().lower()
            if word not in ("true", "false"):
                raise ValueError(f"{raw!r} is not a boolean; Spark accepts true or false")
            return word == "true"

        value = self._typed(key, default, parse)
        return value if isinstance(value, bool) else None

    # --- what the configuration means -------------------------------------------------------

    @property
    def rapids(self) -> bool:
        plugins = self.text("spark.plugins") or ""
        return RAPIDS_PLUGIN in {p.strip() for p in plugins.split(",")}

    @property
    def local(self) -> bool:
        return self.deploy is DeployMode.LOCAL

    @property
    def cluster(self) -> bool | None:
        """True on YARN, Kubernetes or standalone; False in local mode; None when unknown."""
        return None if self.deploy is None else self.deploy is not DeployMode.LOCAL

    @property
    def sizes_cluster(self) -> bool:
        """The config sizes executors, so it describes a whole job rather than a snippet."""
        keys = ("spark.executor.memory", "spark.executor.cores", "spark.executor.instances",
                "spark.dynamicAllocation.enabled")
        return any(k in self.conf for k in keys)

    def heap(self) -> int | None:
        return self.size("spark.executor.memory", "m")

    def overhead(self) -> int | None:
        """Executor memory overhead in bytes: explicit, or max(minimum, factor × heap) as Spark computes it."""
        if self.is_set("spark.executor.memoryOverhead"):
            return self.size("spark.executor.memoryOverhead", "m")
        heap = self.heap()
        floor = self.size("spark.executor.minMemoryOverhead", "m")
        factor = self.number("spark.executor.memoryOverheadFactor")
        if heap is None or floor is None or factor is None:
            return None
        if (self.deploy is DeployMode.KUBERNETES and self.language in ("python", "r")
                and not self.is_set("spark.executor.memoryOverheadFactor")):
            factor = constants().overhead_factor_non_jvm.value  # Spark's K8s default for non-JVM jobs
        return max(floor, math.ceil(factor * heap))

    def container(self) -> int | None:
        """heap + overhead + PySpark memory + off-heap: what the cluster manager reserves per executor."""
        heap, overhead = self.heap(), self.overhead()
        if heap is None or overhead is None:
            return None
        pyspark = self.size("spark.executor.pyspark.memory", "m", default=False) or 0
        offheap = (self.size("spark.memory.offHeap.size") or 0) if self.flag("spark.memory.offHeap.enabled") else 0
        return heap + overhead + pyspark + offheap

    # --- building findings ------------------------------------------------------------------

    def ref(self, key: str) -> KeyRef:
        entry = self.conf.get(key)
        if entry is None:
            return KeyRef(key=key)
        value = REDACTED if is_secret(key) and entry.value is not None else entry.value
        return KeyRef(key=key, value=value, line=entry.line, column=entry.column, cell=entry.cell, origin=entry.origin)

    def change(self, rule: Rule, key: str, recommended: str | None, reason: str) -> ConfigChange:
        entry = self.conf.get(key)
        current = entry.value if entry is not None else None
        if current is not None and is_secret(key):
            current = REDACTED
        # No reference here: the finding it belongs to names the rule's document once.
        return ConfigChange(key=key, current_value=current, recommended_value=recommended, reason=reason)

    def finding(
        self,
        rule: Rule,
        message: str,
        keys: list[str],
        fix: list[ConfigChange] | None = None,
        severity: Severity | None = None,
        suggestions: list[str] | None = None,
    ) -> Finding:
        return Finding(
            rule_id=rule.id,
            severity=severity or rule.severity,
            category=rule.category,
            title=rule.title,
            message=message,
            keys=[self.ref(k) for k in keys],
            fix=fix or [],
            suggestions=suggestions or [],
            reference=rule.references[0].url,
        )

    def graded(self, rule: Rule, value: float) -> tuple[str, float, Severity] | None:
        """The highest band ``value`` is above: (label, limit, severity), or None.

        ``value`` is in bytes for size thresholds (GiB, MiB, bytes), else in the threshold's unit."""
        hit = None
        for grade in rule.grades:
            sized = rule.thresholds[grade.threshold].unit in ("GiB", "MiB", "bytes")
            limit = rule.threshold_bytes(grade.threshold) if sized else rule.threshold(grade.threshold)
            if value > limit:
                hit = (grade.label, limit, grade.severity)
        return hit
