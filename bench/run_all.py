"""Run every benchmark in bench/ and write one report.

    python bench/run_all.py [--quick] [--only load,cold_start] [--timeout S] [--out FILE] [--markdown]

Each bench/*.py script (not this one, nor the input makers telemetry_data.py and agent_inputs.py) runs
in its own subprocess with this interpreter, in an empty temporary working directory, under a per-script
timeout; each prints one JSON object on stdout. The report (JSON) holds, per script, the
command, its wall seconds, the exit code, and the parsed JSON or, when there is none, the tail
of its output. It is written to ``--out`` (default: a new file under the system temp dir, never
the repository) and its path is printed last on stdout.

``--quick`` passes ``--quick`` to the scripts whose argparse declares it, and to the others
small sizes from QUICK_ARGS (only flags the script declares), for a smoke run in minutes.
``--only`` takes script names with or without ``.py``. ``--markdown`` prints a table
(benchmark, command, figures) for the README before the path: a script's own one-line
``headline`` when its JSON has one (figures, the baseline and the ratio in words), else its key
figures. Exits 1 when a script failed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
NOT_BENCHMARKS = {"run_all.py", "telemetry_data.py", "agent_inputs.py"}
QUICK_ARGS: dict[str, list[str]] = {
    # Scripts without --quick: small sizes for a smoke run (each flag is passed only if declared).
    "check_config.py": ["--runs", "3"],
    "cold_start.py": ["--runs", "3"],
    "diagnose_throughput.py": ["--mib", "20", "--runs", "1"],
    "eventlog_parse.py": ["--runs", "1", "--synthetic-mb", "10"],
    "plan_analysis.py": ["--runs", "3"],
    "store_connections.py": ["--runs", "20"],
    "tuning_value.py": ["--gib", "0.05", "--repeats", "1"],
}
FULL_TIMEOUT_S = 3600.0
QUICK_TIMEOUT_S = 600.0
KEY_FIGURE = re.compile(
    r"ratio|median|p50|p99|per_s|rss|error|accuracy|precision|recall|f1|top1|speed|throughput|calls|clients|seconds|_s$|_ms$|mb$",
    re.I,
)
TAIL_CHARS = 3000


def scripts(only: list[str] | None) -> list[Path]:
    found = sorted(p for p in BENCH.glob("*.py") if p.name not in NOT_BENCHMARKS and not p.name.startswith("_"))
    if not only:
        return found
    wanted = [name if name.endswith(".py") else f"{name}.py" for name in only]
    names = {p.name: p for p in found}
    unknown = [w for w in wanted if w not in names]
    if unknown:
        raise SystemExit(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(sorted(names))}")
    return [names[w] for w in wanted]


def declared_flags(script: Path) -> set[str]:
    """The option strings the script's argparse declares (read from its source, not by running it)."""
    source = script.read_text(encoding="utf-8")
    return set(re.findall(r"add_argument\(\s*[\"'](--[\w-]+)[\"']", source))


def command_for(script: Path, quick: bool) -> list[str]:
    command = [sys.executable, str(script)]
    if not quick:
        return command
    flags = declared_flags(script)
    if "--quick" in flags:
        return [*command, "--quick"]
    extra = QUICK_ARGS.get(script.name, [])
    pairs = [extra[i:i + 2] for i in range(0, len(extra), 2)]
    for flag, value in pairs:
        if flag in flags:
            command += [flag, value]
    return command


def last_json_object(stdout: str) -> dict[str, Any] | None:
    """The script's JSON: the whole stdout, else the last line-started object that parses."""
    text = stdout.strip()
    if not text:
        return None
    try:
        value = json.loads(text)
        return value if isinstance(value, dict) else {"value": value}
    except json.JSONDecodeError:
        pass
    decoder = json.JSONDecoder()
    starts = [m.start() for m in re.finditer(r"(?m)^\{", text)]
    for start in reversed(starts):
        try:
            value, _ = decoder.raw_decode(text[start:])
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    return None


def run_one(script: Path, quick: bool, timeout: float) -> dict[str, Any]:
    command = command_for(script, quick)
    shown = " ".join(["python", f"bench/{script.name}", *command[2:]])
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-cwd-") as cwd:
        # Its own process group, so a timeout also ends what it started (load.py's server).
        proc = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
            code: int | None = proc.returncode
            timed_out = False
        except subprocess.TimeoutExpired:
            code, timed_out = None, True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate()
    entry: dict[str, Any] = {
        "benchmark": script.stem, "command": shown, "seconds": round(time.monotonic() - start, 1),
        "exit_code": code, "timed_out": timed_out,
    }
    result = last_json_object(stdout)
    if result is not None:
        entry["json"] = result
    if code != 0 or result is None:
        entry["error_tail"] = (stderr[-TAIL_CHARS:] + ("\n--- stdout ---\n" + stdout[-TAIL_CHARS:] if stdout else "")).strip()
    return entry


def key_figures(result: dict[str, Any] | None, limit: int = 8) -> str:
    if not result:
        return ""
    scalars = [(k, v) for k, v in result.items() if isinstance(v, (int, float, bool, str)) and not isinstance(v, str)
               or (isinstance(v, str) and len(v) <= 40)]
    chosen = [(k, v) for k, v in scalars if KEY_FIGURE.search(k)] or scalars
    return ", ".join(f"{k}={v}" for k, v in chosen[:limit])


def markdown(entries: list[dict[str, Any]]) -> str:
    lines = ["| benchmark | command | figures |", "|---|---|---|"]
    for e in entries:
        if e["exit_code"] == 0 and "json" in e:
            figures = str(e["json"].get("headline") or key_figures(e["json"]))
        elif e["timed_out"]:
            figures = f"timed out after {e['seconds']} s"
        else:
            figures = f"failed (exit {e['exit_code']})" + (f": {key_figures(e.get('json'))}" if e.get("json") else "")
        lines.append(f"| {e['benchmark']} | `{e['command']}` | {figures.replace('|', '/')} |")
    return "\n".join(lines)


def default_out() -> Path:
    folder = Path(tempfile.gettempdir()) / "dgx-spark-mcp-bench"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"report-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="--quick (or small sizes) for every script: a smoke run")
    parser.add_argument("--only", help="comma-separated script names, e.g. load,cold_start")
    parser.add_argument("--timeout", type=float, help=f"per-script seconds (default {FULL_TIMEOUT_S:g}, quick {QUICK_TIMEOUT_S:g})")
    parser.add_argument("--out", type=Path, help="where to write the report (default: a new file under the temp dir)")
    parser.add_argument("--markdown", action="store_true", help="also print a README table")
    args = parser.parse_args()
    only = [name.strip() for name in args.only.split(",") if name.strip()] if args.only else None
    chosen = scripts(only)
    timeout = args.timeout or (QUICK_TIMEOUT_S if args.quick else FULL_TIMEOUT_S)
    out = (args.out or default_out()).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)

    started = datetime.now(UTC)
    entries = []
    for script in chosen:
        print(f"running {script.name} ...", file=sys.stderr, flush=True)
        entry = run_one(script, args.quick, timeout)
        status = "ok" if entry["exit_code"] == 0 else ("timed out" if entry["timed_out"] else f"exit {entry['exit_code']}")
        print(f"  {script.name}: {status} in {entry['seconds']} s", file=sys.stderr, flush=True)
        entries.append(entry)
        report = {"started_utc": started.isoformat(timespec="seconds"), "quick": args.quick, "timeout_s": timeout,
                  "python": sys.version.split()[0], "benchmarks": entries}
        out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")  # after each: a partial report survives
    if not entries:
        out.write_text(json.dumps({"started_utc": started.isoformat(timespec="seconds"), "benchmarks": []}) + "\n")
    if args.markdown:
        print(markdown(entries))
    print(out)
    if any(e["exit_code"] != 0 for e in entries):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
