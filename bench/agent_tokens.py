"""What an agent pays to read this server: tokens of every default answer, and of tools/list.

    python bench/agent_tokens.py [--scale full|small] [--work DIR] [--save-before]

Makes the fixed set of calls in bench/agent_inputs.py (every tool, small and huge inputs: a 1 GiB
log, a 100,000-task event log, a 1,000-operator plan, a 100 M-row telemetry store, a 2,000-line
PySpark file) through a real MCP client in-process, and counts with a real tokenizer (o200k_base,
from the offline ``bpe-openai`` package) what the model may receive.  Hosts differ: some hand the
model the text blocks, some the structured content (counted as compact JSON), so both are counted
and the larger stands; an image counts as width x height / 750 tokens (Anthropic's rule for
images) on both sides.

tools/list is counted twice: what the model sees of each tool (name, description, input schema:
what hosts put in the model's tool definitions) and the whole wire form (with title, annotations
and output schema).

Prints JSON: per call, per tool (p50, p95, max), over all calls, and tools/list, next to the
figures of ``bench/agent_tokens_before.json`` (the same set measured on the commit named there,
before answers were made summary-first).  ``--save-before`` writes this run as that file.
Targets: every answer p95 <= 2,500 and max <= 8,000 tokens; model-visible tools/list <= 6,000.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import math
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from functools import cache
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from agent_inputs import REPO, SCALES, Call, Inputs, calls, fill_store, history_server, prepare  # noqa: E402

BEFORE = Path(__file__).resolve().parent / "agent_tokens_before.json"
TARGET_P95 = 2_500
TARGET_MAX = 8_000
TARGET_TOOLS_LIST = 6_000


@cache
def _encoding() -> Any:
    import warnings

    with warnings.catch_warnings():  # bpe-openai 0.1.4 reads its tables through the deprecated open_binary
        warnings.simplefilter("ignore", DeprecationWarning)
        import bpe_openai

        return bpe_openai.get_encoding("o200k_base")


CHUNK_CHARS = 100_000
"""The tokenizer refuses very long inputs: longer texts are counted in pieces cut after a comma or space (a
token never spans those in compact JSON often enough to matter for a count)."""


def tokens(text: str) -> int:
    total, start = 0, 0
    while start < len(text):
        end = start + CHUNK_CHARS
        if end < len(text):
            cut = max(text.rfind(",", start, end), text.rfind(" ", start, end))
            end = cut + 1 if cut > start else end
        total += len(_encoding().encode(text[start:end]))
        start = end
    return total


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def png_tokens(data_b64: str) -> int:
    """Width x height / 750, from the PNG header."""
    head = base64.b64decode(data_b64[:64])
    width, height = struct.unpack(">II", head[16:24])
    return math.ceil(width * height / 750)


def count(result: Any) -> dict[str, int]:
    """Tokens of one tool result: its text blocks, its structured content, its images; the larger side stands."""
    texts = [block.text for block in result.content if getattr(block, "type", "") == "text"]
    images = sum(png_tokens(block.data) for block in result.content if getattr(block, "type", "") == "image")
    text_tokens = tokens("\n".join(texts)) if texts else 0
    structured = result.structured_content
    structured_tokens = tokens(compact(structured)) if structured is not None else 0
    return {"tokens": max(text_tokens, structured_tokens) + images, "text_tokens": text_tokens,
            "structured_tokens": structured_tokens, "image_tokens": images}


def tools_list_tokens(tools: list[Any]) -> dict[str, Any]:
    per_tool, wire = {}, 0
    for tool in tools:
        visible = {"name": tool.name, "description": tool.description, "input_schema": tool.input_schema}
        per_tool[tool.name] = tokens(compact(visible))
        wire += tokens(compact(tool.model_dump(mode="json", by_alias=True, exclude_none=True)))
    return {"tools": len(tools), "model_visible": sum(per_tool.values()), "wire_with_output_schemas": wire,
            "per_tool": per_tool}


def percentile(values: list[int], q: float) -> int:
    """Nearest-rank percentile (q in 0..100): with few values it is the largest, never an interpolation."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def summarize(values: list[int]) -> dict[str, int]:
    return {"calls": len(values), "p50": round(statistics.median(values)), "p95": percentile(values, 95),
            "max": max(values)}


def settings_for(work: Path, history_url: str) -> Any:
    """This run's settings: a History Server named 'shs'; no Airflow; no driver UI probed but one closed port."""
    from dgx_spark_mcp.live.servers import SparkServer
    from dgx_spark_mcp.settings import Settings
    from tests.live.history_process import free_port

    return Settings(home=work / "home", allowed_roots=[str(work), str(REPO / "tests" / "fixtures")],
                    log_level="WARNING", engine_url="none", spark_servers=[SparkServer(name="shs", url=history_url)],
                    spark_ui_ports=[free_port()])


async def run_calls(inputs: Inputs, settings: Any, call_set: list[Call]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every call through a real in-process MCP client; the rows, and tools/list's figures."""
    from mcp import Client

    from dgx_spark_mcp.hardware.nvml_recording import load_recording
    from dgx_spark_mcp.server import build_server

    replay = load_recording(REPO / "tests" / "fixtures" / "nvml" / "dgx-h100.json")[1]
    rows: list[dict[str, Any]] = []
    async with Client(build_server(settings)) as here, Client(build_server(settings, nvml=replay)) as h100:
        clients = {"here": here, "dgx-h100": h100}
        listed = tools_list_tokens((await here.list_tools()).tools)
        from dgx_spark_mcp.server import INSTRUCTIONS

        listed["instructions"] = tokens(INSTRUCTIONS)  # hosts put the server's instructions into the context too
        filled = False
        for call in call_set:
            if call.tool != "ingest_telemetry" and not filled:
                await asyncio.to_thread(fill_store, settings, inputs)
                filled = True
            began = time.perf_counter()
            result = await clients[call.server].call_tool(call.tool, call.arguments)
            rows.append({"label": call.label, "tool": call.tool, **count(result), "is_error": bool(result.is_error),
                         "expect_error": call.expect_error, "seconds": round(time.perf_counter() - began, 2)})
            print(f"{rows[-1]['tokens']:>9,} {call.tool}: {call.label}", file=sys.stderr, flush=True)
    return rows, listed


def report(rows: list[dict[str, Any]], listed: dict[str, Any], scale: str) -> dict[str, Any]:
    by_tool: dict[str, list[int]] = {}
    for row in rows:
        by_tool.setdefault(row["tool"], []).append(row["tokens"])
    overall = summarize([row["tokens"] for row in rows])
    return {"benchmark": "agent_tokens", "scale": scale, "tokenizer": "o200k_base (bpe-openai)",
            "commit": _commit(), "overall": overall,
            "per_tool": {tool: summarize(values) for tool, values in sorted(by_tool.items())},
            "tools_list": listed, "calls": rows,
            "meets_target": overall["p95"] <= TARGET_P95 and overall["max"] <= TARGET_MAX
            and listed["model_visible"] <= TARGET_TOOLS_LIST}


def _commit() -> str | None:
    proc = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    return proc.stdout.strip() or None


def with_before(out: dict[str, Any]) -> dict[str, Any]:
    """This run's figures next to the saved ones of the same scale."""
    if not BEFORE.exists():
        return out
    before = json.loads(BEFORE.read_text(encoding="utf-8"))
    if before.get("scale") != out["scale"]:
        return out
    out["before"] = {"commit": before["commit"], "overall": before["overall"],
                     "tools_list": {k: before["tools_list"][k] for k in ("tools", "model_visible", "wire_with_output_schemas")},
                     "per_tool": before["per_tool"]}
    then = {row["label"]: row["tokens"] for row in before["calls"]}
    for row in out["calls"]:
        row["before"] = then.get(row["label"])
    return out


def headline(out: dict[str, Any]) -> str:
    o, t = out["overall"], out["tools_list"]
    text = (f"{o['calls']} calls ({out['scale']} inputs), tokens per answer p50 {o['p50']:,}, p95 {o['p95']:,} "
            f"(target <= {TARGET_P95:,}), max {o['max']:,} (target <= {TARGET_MAX:,}); tools/list {t['model_visible']:,} "
            f"model-visible for {t['tools']} tools (target <= {TARGET_TOOLS_LIST:,}), {t['wire_with_output_schemas']:,} "
            f"with output schemas")
    if "before" in out:
        b = out["before"]
        text += (f"; before ({b['commit']}): p95 {b['overall']['p95']:,}, max {b['overall']['max']:,}, "
                 f"tools/list {b['tools_list']['model_visible']:,}")
    return text + f"; targets {'met' if out['meets_target'] else 'missed'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=sorted(SCALES), default="full")
    parser.add_argument("--work", type=Path, help="where inputs are generated (default: a temporary directory)")
    parser.add_argument("--save-before", action="store_true", help=f"write this run as {BEFORE.name}")
    parser.add_argument("--quick", action="store_true", help="the small scale (for bench/run_all.py --quick)")
    args = parser.parse_args()
    scale = SCALES["small" if args.quick else args.scale]
    with tempfile.TemporaryDirectory(prefix="agent-tokens-") as tmp:
        work = args.work or Path(tmp)
        inputs = prepare(work, scale)
        with history_server(work) as url:
            rows, listed = asyncio.run(run_calls(inputs, settings_for(work, url), calls(inputs)))
    out = report(rows, listed, scale.name)
    if args.save_before:
        BEFORE.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    out = with_before(out)
    out["headline"] = headline(out)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
