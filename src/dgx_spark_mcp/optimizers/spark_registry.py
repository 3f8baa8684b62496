"""What a live Spark JVM knows about its configuration keys: the source of ``data/spark-keys.json``.

Only ``scripts/gen_spark_keys.py`` (which writes the file) and a slow test (which proves the file
still matches the installed PySpark) call this; the server reads the file and never starts a JVM
to check a config.

Where the facts live in Spark:

* every ``ConfigEntry`` registers itself in ``ConfigEntry.knownConfigs`` when the Scala object
  that declares it initialises (``SET -v`` shows the public SQL ones), so the objects are found
  by scanning the jars for classes that use ``ConfigBuilder`` and initialised with
  ``Class.forName(name, true, loader)``;
* ``SparkConf.deprecatedConfigs`` and ``SparkConf.configsWithAlternatives`` (private; read through
  Java reflection), each entry's ``alternatives()``, and ``SQLConf.deprecatedSQLConfigs`` /
  ``removedSQLConfigs`` hold the deprecated and removed keys;
* prefix constants such as ``KUBERNETES_DRIVER_LABEL_PREFIX`` name the key families
  (``spark.kubernetes.driver.label.*``) that no entry lists one by one.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any

from .keys import Deprecation, KnownKey, SparkKeysFile

__all__ = ["config_objects", "jars_dir", "read_registry", "touch_config_objects"]

_BUILDER = b"org/apache/spark/internal/config/ConfigBuilder"
# ConfigBuilder$ is the builder itself.  Tests$ (spark.testing.*) stays in: core code reads
# it at start-up, so leaving it out would make the list depend on what ran before.
_SKIP = {"org.apache.spark.internal.config.ConfigBuilder$"}
_UNDEFINED = "<undefined>"
_KEY_IN_TEXT = re.compile(r"spark\.[A-Za-z0-9_.\-]*[A-Za-z0-9_]")


def jars_dir() -> Path:
    """The jars of the installed PySpark."""
    import pyspark

    return Path(pyspark.__file__).parent / "jars"


def config_objects(jars: Path) -> list[str]:
    """Scala objects (``Foo$`` classes) in the Spark jars that build config entries, sorted."""
    found: set[str] = set()
    for jar in sorted(jars.glob("spark-*.jar")):
        with zipfile.ZipFile(jar) as archive:
            for name in archive.namelist():
                # Top-level objects only: nested ($$anon, Foo$Bar$) classes are initialised by them.
                if not name.endswith("$.class") or name.count("$") != 1:
                    continue
                if _BUILDER in archive.read(name):
                    found.add(name[: -len(".class")].replace("/", "."))
    return sorted(found - _SKIP)


def _java(spark: Any) -> tuple[Any, Any]:
    return spark._jvm, spark.sparkContext._gateway


def _module(jvm: Any, name: str) -> tuple[Any, Any]:
    loader = jvm.java.lang.Thread.currentThread().getContextClassLoader()
    cls = jvm.java.lang.Class.forName(name, True, loader)
    return cls, cls.getField("MODULE$").get(None)


def touch_config_objects(spark: Any, names: list[str]) -> list[str]:
    """Initialise each object so its entries register; returns the ones that could not load."""
    jvm, _ = _java(spark)
    failed = []
    for name in names:
        try:
            _module(jvm, name)
        except Exception:  # noqa: BLE001 - py4j raises its own types; an absent optional class is fine
            failed.append(name)
    return failed


def _option(value: Any) -> str | None:
    return None if value is None or value.isEmpty() else str(value.get())


def _machine_strings(jvm: Any) -> tuple[str, ...]:
    """Values that leak this machine into a default (the host, the working directory)."""
    system = jvm.java.lang.System
    host = jvm.org.apache.spark.util.Utils.localCanonicalHostName()
    return tuple(s for s in (host, system.getProperty("user.dir")) if s)


def _default(entry: Any, machine: tuple[str, ...]) -> tuple[str | None, bool]:
    """The default as text, or (None, True) when Spark computes it from the machine it starts on."""
    text = entry.defaultValueString()
    if entry.getClass().getSimpleName() == "ConfigEntryWithDefaultFunction":
        return None, True  # e.g. a thread count from the cores, the time zone of the host
    if text is not None and any(s in text for s in machine):
        return None, True  # e.g. spark.driver.host, spark.sql.warehouse.dir (the current directory)
    return (None if text in (None, _UNDEFINED) else text), False


def _entries(spark: Any) -> dict[str, KnownKey]:
    jvm, _ = _java(spark)
    machine = _machine_strings(jvm)
    keys: dict[str, KnownKey] = {}
    for entry in jvm.org.apache.spark.internal.config.ConfigEntry.listAllEntries().toArray():
        default, computed = _default(entry, machine)
        keys[entry.key()] = KnownKey(
            default=default,
            computed=computed,
            since=entry.version() or None,
            public=bool(entry.isPublic()),
        )
    # What SET -v lists (SQLConf.getAllDefinedConfs: the public SQL keys); a key there and not in
    # the registry would mean a config object was missed, so it is added rather than lost.
    converters = jvm.scala.jdk.javaapi.CollectionConverters
    for row in converters.asJava(jvm.org.apache.spark.sql.internal.SQLConf.get().getAllDefinedConfs()):
        if row._1() not in keys:
            keys[row._1()] = KnownKey(default=None if row._2() == _UNDEFINED else row._2(), since=row._4() or None)
    return keys


def _scala_map(jvm: Any, value: Any) -> dict[str, Any]:
    return dict(jvm.scala.jdk.javaapi.CollectionConverters.asJava(value))


def _lines(value: Any) -> list[str]:
    """A Scala list of strings, in one call (each py4j call is a round trip)."""
    text = str(value.mkString("\n"))
    return text.split("\n") if text else []


def _private(jvm: Any, gateway: Any, module_name: str, method: str) -> Any:
    cls, module = _module(jvm, module_name)
    accessor = cls.getDeclaredMethod(method, gateway.new_array(jvm.java.lang.Class, 0))
    accessor.setAccessible(True)
    return accessor.invoke(module, gateway.new_array(jvm.java.lang.Object, 0))


def _replacement(note: str, old: str, known: dict[str, KnownKey]) -> str | None:
    named = [k for k in _KEY_IN_TEXT.findall(note or "") if k != old]
    return next((k for k in named if k in known), named[0] if named else None)


def _deprecations(spark: Any, known: dict[str, KnownKey]) -> dict[str, Deprecation]:
    jvm, gateway = _java(spark)
    found: dict[str, Deprecation] = {}
    for key, d in _scala_map(jvm, _private(jvm, gateway, "org.apache.spark.SparkConf$", "deprecatedConfigs")).items():
        note = str(d.deprecationMessage())
        found[key] = Deprecation(replacement=_replacement(note, key, known), since=str(d.version()), note=note,
                                 origin="SparkConf.deprecatedConfigs")
    alternatives = _private(jvm, gateway, "org.apache.spark.SparkConf$",
                            "org$apache$spark$SparkConf$$configsWithAlternatives")
    converters = jvm.scala.jdk.javaapi.CollectionConverters  # resolved once: each lookup is a round trip
    for new_key, olds in _scala_map(jvm, alternatives).items():
        for alt in converters.asJava(olds):
            found[str(alt.key())] = Deprecation(
                replacement=new_key, since=str(alt.version()), note=f"Use {new_key} instead.",
                origin="SparkConf.configsWithAlternatives",
            )
    for entry in jvm.org.apache.spark.internal.config.ConfigEntry.listAllEntries().toArray():
        for old in _lines(entry.alternatives()):
            found.setdefault(old, Deprecation(
                replacement=entry.key(), since=None, note=f"Old name of {entry.key()}.",
                origin="ConfigEntry.alternatives",
            ))
    _, sql = _module(jvm, "org.apache.spark.sql.internal.SQLConf$")
    for key, d in _scala_map(jvm, sql.deprecatedSQLConfigs()).items():
        note = str(d.comment())
        found[key] = Deprecation(replacement=_replacement(note, key, known), since=str(d.version()), note=note,
                                 origin="SQLConf.deprecatedSQLConfigs")
    for key, d in _scala_map(jvm, sql.removedSQLConfigs()).items():
        note = str(d.comment())
        found[key] = Deprecation(replacement=_replacement(note, key, known), since=str(d.version()), note=note,
                                 removed=True, removed_default=str(d.defaultValue()),
                                 origin="SQLConf.removedSQLConfigs")
    return found


def _prefixes(spark: Any, names: list[str]) -> list[str]:
    """Public no-argument String members of the config objects whose value is a 'spark.x.' prefix."""
    jvm, gateway = _java(spark)
    string = jvm.java.lang.Class.forName("java.lang.String")
    public = jvm.java.lang.reflect.Modifier.isPublic
    found: set[str] = set()
    for name in names:
        try:
            cls, module = _module(jvm, name)
        except Exception:  # noqa: BLE001 - already reported by touch_config_objects
            continue
        for method in cls.getDeclaredMethods():
            if method.getParameterCount() or not method.getReturnType().equals(string):
                continue
            if not public(method.getModifiers()):
                continue
            try:
                value = method.invoke(module, gateway.new_array(jvm.java.lang.Object, 0))
            except Exception:  # noqa: BLE001 - an accessor that needs a live context is not a prefix
                continue
            if value and value.startswith("spark.") and value.endswith("."):
                found.add(value + "*")
    return sorted(found)


def read_registry(spark: Any) -> SparkKeysFile:
    """Every key, deprecation and key family the running JVM knows, as ``data/spark-keys.json``."""
    names = config_objects(jars_dir())
    missing = touch_config_objects(spark, names)
    keys = _entries(spark)
    return SparkKeysFile(
        about=(
            "Configuration keys of Apache Spark, read from the JVM of the installed PySpark by "
            "scripts/gen_spark_keys.py (ConfigEntry registry, SET -v, SparkConf/SQLConf deprecation "
            "tables, prefix constants). Generated: do not edit by hand; rerun the script."
        ),
        spark_version=str(spark.version),
        config_objects=[n for n in names if n not in missing],
        keys=dict(sorted(keys.items())),
        deprecated=dict(sorted(_deprecations(spark, keys).items())),
        prefixes=_prefixes(spark, names),
    )
