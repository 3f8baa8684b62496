"""Property-based fuzzing of every tool through a real in-process MCP client.

For every tool the server lists (read from ``tools/list``, so a tool added later is fuzzed too),
arguments are generated from the tool's own input JSON schema: in-range values, values out of
range, wrong types on purpose, missing and extra properties, hostile strings (``../`` traversal,
``/proc/self/environ``, ``/dev/zero``, NUL bytes, unicode, very long text).  The property: the
server never dies and never crashes on an argument — every call answers a normal result or an
error result whose text says why (never the SDK's bare "Error executing tool X", which is what an
unexpected exception becomes, never a traceback, never a protocol error), and the client keeps
working for the next call.

Examples per tool: ``FUZZ_EXAMPLES`` (default 100, ~40 s for the whole file on 2 cores);
``FUZZ_EXAMPLES=2000 pytest tests/test_fuzz_tools.py`` for the "thousands of cases" run.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.types import TextContent

from dgx_spark_mcp.server import build_server
from dgx_spark_mcp.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures"
CWD_AT_IMPORT = sorted(os.listdir(os.getcwd()))
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))
CALL_TIMEOUT_S = 60.0
"""A call that takes longer is a hang: the test fails rather than blocking the suite."""

FUZZ_SETTINGS = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    database=None,  # no .hypothesis directory in the current directory
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

# --------------------------------------------------------------------------------------------
# A hermetic server: tmp home, one allowed root holding a few small fixture files.
# --------------------------------------------------------------------------------------------

DRIVER_LOG = """\
24/06/01 12:00:00 INFO SparkContext: Running Spark version 3.5.1
24/06/01 12:00:05 ERROR Executor: Exception in task 0.0 in stage 1.0 (TID 1)
java.lang.OutOfMemoryError: Java heap space
\tat java.util.Arrays.copyOf(Arrays.java:3236)
24/06/01 12:00:06 ERROR TaskSetManager: Task 0 in stage 1.0 failed 4 times; aborting job
"""
CONF = "spark.executor.memory 200g\nspark.executor.cores 64\nspark.sql.shuffle.partitions 1\nspark.foo.bar 1\n"


def _make_root(base: Path) -> Path:
    """The allowed root: real inputs the tools accept, and the hostile files they must refuse."""
    root = base / "root"
    root.mkdir()
    (base / "outside.log").write_text("secret outside the roots\n")
    shutil.copy(FIXTURES / "eventlogs" / "corpus" / "spark2-eventlog.zstd", root / "app.zstd")
    shutil.copytree(FIXTURES / "eventlogs" / "corpus" / "eventlog_v2_local-1623876083964",
                    root / "eventlog_v2_local-1623876083964")
    shutil.copy(FIXTURES / "plans" / "extended" / "spark223__sql2.txt", root / "plan.txt")
    shutil.copy(FIXTURES / "telemetry" / "dcgm_long.csv", root / "dcgm.csv")
    shutil.copy(FIXTURES / "telemetry" / "dcgm_exporter.prom", root / "metrics.prom")
    (root / "driver.log").write_text(DRIVER_LOG)
    (root / "spark-defaults.conf").write_text(CONF)
    (root / "empty.log").write_text("")
    (root / "blob.bin").write_bytes(bytes(range(256)) * 8)
    (root / "sub").mkdir()
    (root / "link-out.log").symlink_to(base / "outside.log")
    (root / "link-zero").symlink_to("/dev/zero")
    (root / "loop").symlink_to(root / "loop")
    os.mkfifo(root / "pipe.log")
    return root


def _settings(base: Path, root: Path) -> Settings:
    # engine_url 'none': ask never probes loopback ports; duckdb: telemetry queries start no JVM.
    return Settings(home=base / "home", allowed_roots=[str(root)], log_level="WARNING",
                    engine_url="none", telemetry_engine="duckdb")


def _listed_tools() -> list[dict[str, Any]]:
    """name and input schema of every tool a fresh server lists, read through a real client."""

    async def read() -> list[dict[str, Any]]:
        with tempfile.TemporaryDirectory() as tmp:
            base = Path(tmp)
            async with Client(build_server(_settings(base, base))) as c:
                return [{"name": t.name, "schema": t.input_schema} for t in (await c.list_tools()).tools]

    return anyio.run(read)


TOOLS = _listed_tools()


# --------------------------------------------------------------------------------------------
# Strategies from JSON schema
# --------------------------------------------------------------------------------------------

HOSTILE_STRINGS = [
    "", " ", "\x00", "a\x00b", "\n\r\t", "-1", "0", "1e309", "NaN", "Infinity", "null", "true", "{}", "[]",
    "../../../../etc/passwd", "..", "~", "~root/.ssh/id_rsa", "~nosuchuser-fuzz/x.log", "n" * 300, "/", "/etc/shadow", "/proc/self/environ",
    "/proc/self/mem", "/dev/zero", "/dev/random", "/dev/stdin", "C:\\Windows\\win.ini", "\\\\server\\share",
    "file:///etc/passwd", "' OR 1=1 --", "'; DROP TABLE samples; --", "\"", "${jndi:ldap://x/a}", "{{7*7}}",
    "%s%n%x", "\u202egnp.exe", "\ud7ff\ue000\U0010ffff", "日本語のログ", "🔥" * 50, "\u0000" * 10,
    "sc://127.0.0.1:1", "spark://127.0.0.1:1", "local[*]", "yarn", "http://169.254.169.254/latest/meta-data",
]
DOMAIN_STRINGS = [
    "dgx-spark", "dgx-h100", "dgx-h200", "dgx-a100-80gb", "dgx-b200", "this", "auto", "on", "off",
    "1.5TB", "800MB", "500GiB", "0B", "-5GB", "99999999999999PB", "2h", "30m", "1h30m", "0s", "-1h",
    "last 1h", "last 7d", "last 0m", "now", "2025-06-01T12:00:00Z", "2025-13-45T99:99:99", "10s", "1m", "1d", "0s",
    "gpu_util", "power", "fb_used", "gpu_temp", "DCGM_FI_DEV_GPU_UTIL", "xid", "etl", "sql-analytics",
    "3.5.1", "4.0.0", "2.4.8", "99.99.99", "spark.executor.memory=8g", "spark-submit --executor-memory 8g app.py",
    "GPU-00000000-0000-0000-0000-000000000001", "node-a01", "2026-03-02T08:00:00Z", "2026-03-03", "host-a", "why did stage 12 fail?",
    "== Physical Plan ==\n*(1) Project [id#0]\n+- *(1) Scan parquet [id#0]",
    "SELECT * FROM t", "CREATE TABLE t (id INT) USING parquet",
]


def _long_strings() -> st.SearchStrategy[str]:
    return st.builds(lambda s, n: s * n, st.sampled_from(["a", "../", "\x00", "é", "line\n", "{"]),
                     st.integers(1_000, 60_000))


PATH_PROPERTIES = {"path", "log_path", "event_log_path"}


def _strings(root: Path, name: str | None) -> st.SearchStrategy[str]:
    """Strings for property ``name``: hostile, random and long ones, and ones the tool understands
    (fixture files for paths, sizes, profiles, times, metrics otherwise) so calls also get past parsing."""
    inside = [str(root / n) for n in ("app.zstd", "plan.txt", "dcgm.csv", "metrics.prom", "driver.log",
                                       "spark-defaults.conf", "empty.log", "blob.bin", "sub", "link-out.log",
                                       "link-zero", "loop", "pipe.log", "missing.log",
                                       "eventlog_v2_local-1623876083964")]
    inside += ["~nosuchuser-fuzz/app.log", str(root / ("n" * 300)), str(root / ".." / "outside.log"), str(root) + "/../../../../etc/passwd", str(root) + "/\x00x"]
    understood = st.sampled_from(inside if name in PATH_PROPERTIES else DOMAIN_STRINGS)
    return st.one_of(
        understood, understood, understood,
        st.text(max_size=40),
        st.sampled_from(HOSTILE_STRINGS + DOMAIN_STRINGS + inside),
        _long_strings(),
        st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
    )


JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20),
)
ANY_JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=10,
)
"""Any JSON value: the wrong type for most properties, on purpose."""


def _numbers(schema: dict[str, Any], integer: bool) -> st.SearchStrategy[Any]:
    lo = schema.get("minimum", schema.get("exclusiveMinimum"))
    hi = schema.get("maximum", schema.get("exclusiveMaximum"))
    edges = [v for b in (lo, hi) if b is not None for v in (b - 1, b, b + 1)] + [0, -1, 1, 2**63, -(2**63)]
    if integer:
        edges = [int(e) for e in edges]
        return st.one_of(st.integers(), st.integers(min_value=-(2**70), max_value=2**70), st.sampled_from(edges))
    # The client sends JSON: only finite numbers exist there.
    return st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(min_value=-(2**64), max_value=2**64),
                     st.sampled_from([float(e) for e in edges] + [1e-300, 5e-324, 1.7e308, -1.7e308]))


class SchemaStrategies:
    """Values for one tool's input schema: mostly of the declared type, sometimes anything."""

    def __init__(self, schema: dict[str, Any], root: Path) -> None:
        self.defs = schema.get("$defs", {})
        self.root = root

    def value(self, schema: dict[str, Any], depth: int = 0, name: str | None = None) -> st.SearchStrategy[Any]:
        typed = self._typed(schema, depth, name)
        return st.one_of(typed, typed, typed, ANY_JSON)  # ~1 in 4 of the wrong type on purpose

    def _typed(self, schema: dict[str, Any], depth: int, name: str | None = None) -> st.SearchStrategy[Any]:
        strings = _strings(self.root, name)
        if "$ref" in schema:
            return self._typed(self.defs[schema["$ref"].rsplit("/", 1)[-1]], depth, name)
        if "anyOf" in schema or "oneOf" in schema:
            return st.one_of([self._typed(s, depth, name) for s in schema.get("anyOf", schema.get("oneOf"))])
        if "enum" in schema:
            return st.one_of(st.sampled_from(schema["enum"]), st.sampled_from(schema["enum"]), strings)
        if "const" in schema:
            return st.just(schema["const"])
        kind = schema.get("type")
        if kind == "string":
            return strings
        if kind in ("integer", "number"):
            return _numbers(schema, integer=kind == "integer")
        if kind == "boolean":
            return st.booleans()
        if kind == "null":
            return st.none()
        if kind == "array":
            items = self.value(schema.get("items", {}), depth + 1, name) if depth < 3 else ANY_JSON
            return st.lists(items, max_size=schema.get("maxItems", 6) + 2)
        if kind == "object" or "properties" in schema:
            if depth >= 3:
                return st.dictionaries(st.text(max_size=8), JSON_SCALARS, max_size=3)
            return self.arguments(schema, depth + 1)
        return ANY_JSON

    def arguments(self, schema: dict[str, Any], depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
        """An object for ``schema``: each property present or not (required ones mostly present),
        of its type or not, plus sometimes keys the schema does not know."""
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        extra_values = self.value(schema["additionalProperties"], depth + 1) if isinstance(
            schema.get("additionalProperties"), dict) else JSON_SCALARS

        @st.composite
        def build(draw: st.DrawFn) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for name, sub in props.items():
                keep = draw(st.integers(0, 9)) < (9 if name in required else 6)
                if keep:
                    out[name] = draw(self.value(sub, depth, name))
            out.update(draw(st.dictionaries(st.text(max_size=12), extra_values, max_size=2 if props else 4)))
            return out

        return build()


# --------------------------------------------------------------------------------------------
# Constraints on the few arguments that start heavy things, and nothing else.
# --------------------------------------------------------------------------------------------

def _loopback_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        host = (urlsplit(value.strip()).hostname or "").lower()
    except ValueError:
        return False
    return host.startswith("127.") or host in ("localhost", "localhost.localdomain", "::1", "0.0.0.0", "0")


def constrain(tool: str, args: dict[str, Any]) -> dict[str, Any]:
    args = dict(args)
    if tool == "analyze_query_plan" and isinstance(args.get("sql"), str):
        # A string sql is EXPLAINed by a local PySpark session: a JVM start per call (seconds). Wrong types
        # still go through (refused by validation); the SQL path has its own tests in tests/diagnosis.
        del args["sql"]
    if tool == "sample_gpus":
        # sample_gpus sleeps duration_s (up to 300 s) on a machine with GPUs: keep in-range durations at
        # 0.2 s at most. Out-of-range ones (<= 0, > 300) and wrong types are kept: validation refuses them.
        d = args.get("duration_s")
        if isinstance(d, (int, float)) and not isinstance(d, bool) and 0.2 < d <= 300:
            args["duration_s"] = 0.2
    if args.get("engine") == "spark":
        # engine='spark' starts a PySpark session (a JVM) per call; tests/telemetry/test_engines.py covers it.
        args["engine"] = "duckdb"
    if tool == "ingest_telemetry" and _loopback_url(args.get("url")):
        # A loopback URL is really scraped (up to 10 s): a port another test's server listens on would be
        # hit. Keep one port nobody listens on, so the refused-connection path is still fuzzed.
        args["url"] = "http://127.0.0.1:1/metrics"
    return args


# --------------------------------------------------------------------------------------------
# The client, kept open across examples on a blocking portal
# --------------------------------------------------------------------------------------------

class CrashLog(logging.Handler):
    """The server logs an unexpected exception (with its traceback) before it answers the bare crash text."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + "".join(traceback.format_exception(*record.exc_info))
        self.records.append(text)


class Fuzzer:
    def __init__(self, portal: BlockingPortal, client: Client, root: Path, crashes: CrashLog) -> None:
        self.portal, self.client, self.root, self.crashes = portal, client, root, crashes
        self.outcomes: dict[str, dict[str, int]] = {}
        """Per tool: answers, refusals by argument validation, refusals by the tool itself."""

    def count(self, tool: str, outcome: str) -> None:
        per_tool = self.outcomes.setdefault(tool, {"answered": 0, "invalid_arguments": 0, "refused": 0})
        per_tool[outcome] += 1

    def call(self, tool: str, args: dict[str, Any]) -> Any:
        async def go() -> Any:
            with anyio.fail_after(CALL_TIMEOUT_S):
                return await self.client.call_tool(tool, args)

        return self.portal.call(go)

    def still_serving(self) -> None:
        """A cheap request answered by the same session (ping is legacy-only in this protocol version)."""
        assert self.portal.call(self.client.list_tools).tools


@pytest.fixture(scope="module")
def fuzzer() -> Iterator[Fuzzer]:
    crashes = CrashLog()
    logging.getLogger().addHandler(crashes)
    with tempfile.TemporaryDirectory() as tmp, start_blocking_portal(backend="asyncio") as portal:
        base = Path(tmp)
        root = _make_root(base)
        with portal.wrap_async_context_manager(Client(build_server(_settings(base, root)))) as client:
            f = Fuzzer(portal, client, root, crashes)
            # Some telemetry in the store, so the query, report and plot tools reach past "no data".
            assert not f.call("ingest_telemetry", {"path": str(root / "dcgm.csv")}).is_error
            yield f
    if os.environ.get("FUZZ_STATS"):  # where the examples ended, e.g. FUZZ_STATS=/tmp/fuzz.json
        Path(os.environ["FUZZ_STATS"]).write_text(json.dumps(f.outcomes, indent=1, sort_keys=True))
    logging.getLogger().removeHandler(crashes)
    assert sorted(os.listdir(os.getcwd())) == CWD_AT_IMPORT, "the fuzz run wrote into the current directory"


def check_answer(fuzzer: Fuzzer, tool: str, args: dict[str, Any], result: Any) -> None:
    shown = json.dumps(args, default=repr)[:2000]
    texts = [c.text for c in result.content if isinstance(c, TextContent)]
    if result.is_error:
        message = "\n".join(texts).strip()
        assert message, f"{tool}({shown}) answered an error with no text"
        crash = "\n".join(fuzzer.crashes.records[-1:])
        assert message != f"Error executing tool {tool}", (
            f"{tool}({shown}) crashed with an unexpected exception (the agent reads only '{message}'):\n{crash}"
        )
        assert "Traceback (most recent call last)" not in message, f"{tool}({shown}) leaked a traceback: {message}"
        fuzzer.count(tool, "invalid_arguments" if "validation error for" in message else "refused")
    else:
        assert result.content, f"{tool}({shown}) answered an empty result"
        fuzzer.count(tool, "answered")
    fuzzer.still_serving()  # the server is still there for the next call


@pytest.mark.parametrize("tool", TOOLS, ids=[t["name"] for t in TOOLS])
def test_no_tool_argument_crashes_the_server(fuzzer: Fuzzer, tool: dict[str, Any]) -> None:
    name = tool["name"]
    strategies = SchemaStrategies(tool["schema"], fuzzer.root)

    @FUZZ_SETTINGS
    @given(args=strategies.arguments(tool["schema"]))
    def run(args: dict[str, Any]) -> None:
        args = constrain(name, args)
        check_answer(fuzzer, name, args, fuzzer.call(name, args))

    run()


def test_a_tool_added_later_cannot_escape_the_fuzzing(fuzzer: Fuzzer) -> None:
    """The fuzzed set is what the server lists now, and every tool in it is called at least once."""
    listed = {t.name for t in fuzzer.portal.call(fuzzer.client.list_tools).tools}
    assert listed == {t["name"] for t in TOOLS}
    assert len(listed) >= 16  # list_hosts and plot_telemetry merged into list_gpus and query_telemetry


@FUZZ_SETTINGS
@given(name=st.one_of(st.text(max_size=30), st.sampled_from(["", "\x00", "detect_hardware\x00", "../ask"])),
       args=st.dictionaries(st.text(max_size=8), JSON_SCALARS, max_size=3))
def test_unknown_tool_names_do_not_crash_the_server(fuzzer: Fuzzer, name: str, args: dict[str, Any]) -> None:
    if name in {t["name"] for t in TOOLS}:
        return
    result = fuzzer.call(name, args)
    assert result.is_error and result.content[0].text.strip()
    fuzzer.still_serving()


# Crashes this fuzzing found, kept as fixed examples (the random search finds them only now and then).
FOUND = [
    pytest.param(tool, {**extra, arg: "~nosuchuser-fuzz/app.log"}, id=f"{tool}.{arg}-unknown-user-home")
    for tool, arg, extra in [("diagnose_log", "path", {}), ("analyze_event_log", "path", {}),
                             ("check_spark_config", "path", {}), ("analyze_query_plan", "path", {}),
                             ("ingest_telemetry", "path", {}), ("ask", "log_path", {"question": "q"})]
] + [
    pytest.param("ask", {"question": "q", arg: value, "hardware": False}, id=f"ask.{arg}-{label}")
    for arg in ("plan", "config")
    for label, value in (("name-too-long", "a" * 1000), ("unknown-user-home", "~nosuchuser-fuzz/p.txt"))
] + [
    pytest.param(tool, {**extra, "hardware": hardware}, id=f"{tool}.hardware-{label}")
    for tool, extra in [("diagnose_log", {"text": "dgx-spark"}), ("check_spark_config", {"config": {}}),
                        ("optimize_spark_config", {"data_size": "1GB"}), ("estimate_resources", {"data_size": "1GB"})]
    for label, hardware in (("empty-spec", {}), ("negative-cores", {"cpu_cores": -1, "memory_gib": 8}))
] + [
    # A cost of Infinity, which JSON cannot carry: the SDK refused the tool's own output (FUZZ_EXAMPLES=2000).
    pytest.param("telemetry_report", {"start": "", "overrides": {"overhead_fraction": 9.077231849087454e303}},
                 id="telemetry_report.overhead-overflows-the-cost"),
]


@pytest.mark.parametrize(("tool", "args"), FOUND)
def test_arguments_that_crashed_a_tool_now_get_a_reason(fuzzer: Fuzzer, tool: str, args: dict[str, Any]) -> None:
    check_answer(fuzzer, tool, args, fuzzer.call(tool, args))
