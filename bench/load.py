"""Bounded load test: many MCP clients over streamable HTTP against one server on loopback.

    python bench/load.py [--seconds 60] [--clients 50] [--quick]

Starts ``dgx-spark-mcp serve --transport streamable-http`` on a free loopback port as a
subprocess with its own temporary data dir, its allowed roots set to a temporary directory
holding a small Spark driver log and an EXPLAIN plan copied from tests/fixtures (never the
repository, never the developer's data dir). Then ``--clients`` concurrent SDK clients
(``mcp.Client("http://127.0.0.1:PORT/mcp")``, each its own session) call a fixed mix of tools
in a loop for ``--seconds``: list_hardware_profiles, check_gpu_availability,
optimize_spark_config, check_spark_config, estimate_resources, diagnose_log, analyze_query_plan,
ingest_telemetry (the same small DCGM export again and again: every client contends for the
ingest lock, and nothing is stored twice), list_gpus, query_telemetry, telemetry_report, and ask
with no engine (engine URL ``none``: it assembles the findings context and says no engine runs).
Spark-backed engines are left out: they measure something else.

Reports calls, errors (target: 0; each distinct one listed with its tool and message),
throughput, p50/p99 latency overall and per tool, the server's peak RSS (psutil on the child
and its children, sampled every 50 ms), clients and seconds. ``--quick``: 5 clients for 5 s,
a smoke test. Prints JSON; exits 1 when any call failed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import anyio
import psutil
from mcp import Client

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
DRIVER_LOG = FIXTURES / "diagnosis" / "logs" / "spark_rapids_tools_driverlog_spark330_rapids2310.log"
PLAN = FIXTURES / "plans" / "formatted" / "spark321_aqeshuffle__sql0.txt"
TELEMETRY = FIXTURES / "telemetry" / "dcgm_long.csv"
SMALL_CONFIG = {
    "spark.executor.memory": "4g",
    "spark.executor.cores": "4",
    "spark.sql.shuffle.partitions": "200",
    "spark.serializer": "org.apache.spark.serializer.KryoSerializer",
    "spark.sql.adaptive.enabled": "false",
}


def tool_mix(work: Path) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("list_hardware_profiles", {}),
        ("check_gpu_availability", {}),
        ("optimize_spark_config", {"data_size": "500GB", "workload": "etl", "hardware": "dgx-spark", "nodes": 2}),
        ("check_spark_config", {"config": SMALL_CONFIG, "hardware": "dgx-spark"}),
        ("estimate_resources", {"description": "daily ETL joining orders with customers, then aggregating",
                                "data_size": "200GB", "hardware": "dgx-spark"}),
        ("diagnose_log", {"path": str(work / "driver.log")}),
        ("analyze_query_plan", {"path": str(work / "plan.txt")}),
        ("ingest_telemetry", {"path": str(work / "dcgm.csv")}),
        ("list_gpus", {}),
        ("query_telemetry", {"metrics": ["gpu_util", "power"], "start": "2026-03-02T08:00:00Z",
                             "end": "2026-03-02T09:00:00Z", "bucket": "1m", "limit": 100}),
        ("telemetry_report", {"start": "2026-03-02T08:00:00Z", "end": "2026-03-02T09:00:00Z", "group_by": "host"}),
        ("ask", {"question": "Why did this job fail and what should I change?", "log_path": str(work / "driver.log"),
                 "hardware": False}),
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_command(port: int) -> list[str]:
    exe = Path(sys.executable).parent / "dgx-spark-mcp"
    base = [str(exe)] if exe.exists() else [sys.executable, "-m", "dgx_spark_mcp"]
    return [*base, "serve", "--transport", "streamable-http", "--port", str(port)]


def wait_for_port(proc: subprocess.Popen[bytes], port: int, stderr_path: Path, timeout: float = 60.0) -> float:
    start = time.monotonic()
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return time.monotonic() - start
        except OSError:
            if proc.poll() is not None or time.monotonic() - start > timeout:
                tail = stderr_path.read_text(errors="replace")[-2000:]
                raise SystemExit(f"server did not start (exit {proc.poll()}): {tail}") from None
            time.sleep(0.05)


class RssSampler(threading.Thread):
    """Peak resident set of the server process and any children, sampled every 50 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.peak = 0
        self.stop = threading.Event()

    def sample(self) -> None:
        try:
            total = self.proc.memory_info().rss
            for child in self.proc.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:
                    pass
        except psutil.Error:
            return
        self.peak = max(self.peak, total)

    def run(self) -> None:
        while not self.stop.wait(0.05):
            self.sample()


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f} ms"


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of already sorted values, in ms."""
    if not sorted_values:
        return None
    rank = max(1, min(len(sorted_values), int(-(-q * len(sorted_values) // 100))))
    return round(sorted_values[rank - 1] * 1000, 2)


async def one_client(url: str, index: int, mix: list[tuple[str, dict[str, Any]]], deadline: float,
                     latencies: dict[str, list[float]], errors: list[dict[str, str]]) -> None:
    try:
        async with Client(url, read_timeout_seconds=120) as client:
            i = index  # each client starts at a different tool, so the mix is spread at any moment
            while time.monotonic() < deadline:
                name, args = mix[i % len(mix)]
                i += 1
                start = time.perf_counter()
                try:
                    result = await client.call_tool(name, args)
                except Exception as exc:  # a transport or protocol failure: count it, keep going
                    errors.append({"tool": name, "message": f"{type(exc).__name__}: {exc}"[:500]})
                    continue
                elapsed = time.perf_counter() - start
                if result.is_error:
                    text = " ".join(getattr(c, "text", "") for c in result.content)
                    errors.append({"tool": name, "message": text[:500]})
                else:
                    latencies[name].append(elapsed)
    except Exception as exc:  # the session itself failed (connect, initialize)
        errors.append({"tool": "<session>", "message": f"{type(exc).__name__}: {exc}"[:500]})


async def drive(url: str, clients: int, seconds: float, mix: list[tuple[str, dict[str, Any]]]
                ) -> tuple[dict[str, list[float]], list[dict[str, str]], float]:
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: list[dict[str, str]] = []
    start = time.monotonic()
    deadline = start + seconds
    async with anyio.create_task_group() as tg:
        for index in range(clients):
            tg.start_soon(one_client, url, index, mix, deadline, latencies, errors)
    return latencies, errors, time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="5 clients for 5 s, a smoke test")
    args = parser.parse_args()
    if args.quick:
        args.clients, args.seconds = 5, 5.0

    with tempfile.TemporaryDirectory(prefix="load-bench-") as tmp:
        root = Path(tmp)
        work = root / "work"
        work.mkdir()
        shutil.copyfile(DRIVER_LOG, work / "driver.log")
        shutil.copyfile(PLAN, work / "plan.txt")
        shutil.copyfile(TELEMETRY, work / "dcgm.csv")
        env = {k: v for k, v in os.environ.items() if not k.startswith("DGX_SPARK_MCP_")}
        env.update({"DGX_SPARK_MCP_HOME": str(root / "home"), "DGX_SPARK_MCP_ALLOWED_ROOTS": str(work),
                    "DGX_SPARK_MCP_LOG_LEVEL": "WARNING", "DGX_SPARK_MCP_ENGINE_URL": "none",
                    "PYTHONUNBUFFERED": "1"})
        port = free_port()
        stderr_path = root / "server.stderr"
        with stderr_path.open("wb") as stderr:
            proc = subprocess.Popen(server_command(port), env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=stderr)
        sampler: RssSampler | None = None
        try:
            startup_s = wait_for_port(proc, port, stderr_path)
            sampler = RssSampler(proc.pid)
            sampler.sample()
            idle_rss = sampler.peak
            sampler.start()
            mix = tool_mix(work)
            latencies, errors, elapsed = anyio.run(
                drive, f"http://127.0.0.1:{port}/mcp", args.clients, args.seconds, mix)
            sampler.stop.set()
            sampler.join()
            sampler.sample()
            server_alive = proc.poll() is None
        finally:
            if sampler is not None:
                sampler.stop.set()
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        server_tail = stderr_path.read_text(errors="replace")[-2000:]

    every = sorted(v for values in latencies.values() for v in values)
    calls = len(every) + len(errors)
    distinct = Counter((e["tool"], e["message"]) for e in errors)
    per_tool = {
        name: {"calls": len(values), "p50_ms": percentile(sorted(values), 50), "p99_ms": percentile(sorted(values), 99)}
        for name, values in sorted(latencies.items())
    }
    for tool, _ in distinct:
        per_tool.setdefault(tool, {"calls": 0, "p50_ms": None, "p99_ms": None})
    for name in per_tool:
        per_tool[name]["errors"] = sum(n for (tool, _), n in distinct.items() if tool == name)
    throughput = round(len(every) / elapsed, 1) if elapsed else 0.0
    peak_mb, idle_mb = round(sampler.peak / 2**20, 1), round(idle_rss / 2**20, 1)
    p50, p99 = percentile(every, 50), percentile(every, 99)
    rss_ratio = f" ({peak_mb / idle_mb:.1f}x)" if idle_mb else ""
    headline = (
        f"{args.clients} MCP clients over streamable HTTP on loopback for {elapsed:.0f} s, {len(mix)} tools in turn: "
        f"{calls:,} calls, {len(errors)} errors (target 0: {'met' if not errors else 'missed'}), {throughput} calls/s, "
        f"p50 {_ms(p50)}, p99 {_ms(p99)}; server peak RSS {peak_mb:.0f} MB vs {idle_mb:.0f} MB idle{rss_ratio}"
        + ("" if server_alive else "; the server died")
    )
    report = {
        "headline": headline,
        "clients": args.clients, "seconds": round(elapsed, 2), "calls": calls, "errors": len(errors),
        "error_list": [{"tool": tool, "message": message, "count": n} for (tool, message), n in distinct.most_common(20)],
        "throughput_calls_per_s": throughput,
        "p50_ms": p50, "p99_ms": p99,
        "per_tool": per_tool,
        "server_startup_s": round(startup_s, 2),
        "server_idle_rss_mb": idle_mb, "server_peak_rss_mb": peak_mb,
        "server_alive_at_end": server_alive, "cpus": os.cpu_count(),
    }
    if errors or not server_alive:
        report["server_stderr_tail"] = server_tail
    print(json.dumps(report, indent=2))
    if errors or not server_alive:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
