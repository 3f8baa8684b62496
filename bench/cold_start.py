"""Cold start of the stdio server: spawn -> `initialize` answered, against a one-tool MCPServer.

    python bench/cold_start.py [--runs 15]

Both servers are spawned alternately by the same interpreter, so machine noise hits both;
the figure that matters is the ratio of medians (target: at most 1.15). Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HELLO = '''
from mcp.server import MCPServer

mcp = MCPServer("hello")


@mcp.tool()
def hello(name: str) -> str:
    """Say hello."""
    return f"hello {name}"


mcp.run()
'''

TARGET_RATIO_MAX = 1.15

INITIALIZE = (
    json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}},
        }
    )
    + "\n"
).encode()


def time_to_initialize(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.Popen(command, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(INITIALIZE)
    proc.stdin.flush()
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - start
    if b'"serverInfo"' not in line:
        proc.kill()
        raise RuntimeError(f"{command} answered {line!r}")
    proc.stdin.close()
    proc.wait(timeout=10)
    proc.stdout.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        hello = cwd / "hello_server.py"
        hello.write_text(HELLO)
        commands = {"hello": [sys.executable, str(hello)], "dgx_spark_mcp": [sys.executable, "-m", "dgx_spark_mcp"]}
        for command in commands.values():  # warm the OS file cache for both
            time_to_initialize(command, cwd)
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, command in commands.items():
                samples[name].append(time_to_initialize(command, cwd))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    ratio = medians["dgx_spark_mcp"] / medians["hello"]
    headline = (
        f"stdio cold start (spawn to initialize answered), median of {args.runs}: dgx_spark_mcp "
        f"{medians['dgx_spark_mcp']:.2f} s vs {medians['hello']:.2f} s for a one-tool MCPServer, {ratio:.2f}x "
        f"(target <= {TARGET_RATIO_MAX}x: {'met' if ratio <= TARGET_RATIO_MAX else 'missed'})"
    )
    print(
        json.dumps(
            {
                "benchmark": "stdio_cold_start",
                "headline": headline,
                "runs": args.runs,
                "hello_median_s": round(medians["hello"], 4),
                "dgx_spark_mcp_median_s": round(medians["dgx_spark_mcp"], 4),
                "ratio": round(ratio, 3),
                "target_ratio_max": TARGET_RATIO_MAX,
                "meets_target": ratio <= TARGET_RATIO_MAX,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
