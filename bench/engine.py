"""Engine speed and ask's prompt size.

    .venv/bin/python bench/engine.py [--model-dir DIR] [--quantization none|int8|int4] [--log-bytes N] [--quick]

1. Time to first token and decode tokens/s of the configured engine: the checkpoint in --model-dir through the
   transformers engine when given, else whatever resolve_engine finds from the settings (DGX_SPARK_MCP_ENGINE_*);
   says so when there is none.
2. The prompt ask builds for a generated Spark log of --log-bytes (1 GB by default; --quick: 2 MB) against the log's
   own size in bytes and in estimated tokens (about 4 characters per token): the structured context is what makes a
   local model usable on a log far larger than any context window.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from diagnose_throughput import write_log  # noqa: E402

QUESTION = "Why did the failing stages fail and what should I change?"


def engine_speed(engine, runs: int, max_tokens: int) -> dict[str, object]:
    messages = [{"role": "user", "content": "Summarize why a Spark executor runs out of heap memory."}]
    engine.generate(messages, max_tokens=4)  # warm-up: first-call compilation and caches
    ttfts, speeds = [], []
    for _ in range(runs):
        _, stats = engine.generate(messages, max_tokens=max_tokens)
        ttfts.append(stats.ttft_s)
        speeds.append(stats.tokens_per_s)
    ttfts = [t for t in ttfts if t is not None]
    speeds = [s for s in speeds if s is not None]
    return {
        "engine": engine.describe(),
        "runs": runs,
        "max_tokens": max_tokens,
        "ttft_s_median": sorted(ttfts)[len(ttfts) // 2] if ttfts else None,
        "decode_tokens_per_s_median": sorted(speeds)[len(speeds) // 2] if speeds else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path, help="A local checkpoint for the transformers engine.")
    parser.add_argument("--quantization", default="none", choices=["none", "int8", "int4"])
    parser.add_argument("--log-bytes", type=int, default=1 << 30)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--quick", action="store_true", help="A 2 MB log and one short run, for a smoke test.")
    args = parser.parse_args()
    if args.quick:
        args.log_bytes, args.runs, args.max_tokens = min(args.log_bytes, 2 << 20), 1, 8

    from dgx_spark_mcp.reasoning.ask import ask
    from dgx_spark_mcp.reasoning.engines.resolve import resolve_engine
    from dgx_spark_mcp.settings import Settings

    out: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp) / "home", allowed_roots=[tmp], log_level="WARNING")
        if args.model_dir is not None:
            from dgx_spark_mcp.reasoning.engines.transformers_local import TransformersEngine

            engine = TransformersEngine(args.model_dir, quantization=args.quantization)
        else:
            engine = resolve_engine(settings)
        out["speed"] = engine_speed(engine, args.runs, args.max_tokens) if engine else {
            "engine": None, "note": "no local engine reachable: give --model-dir or start one (see ask's start_commands)"}

        log = Path(tmp) / "executor.log"
        started = time.perf_counter()
        injected = write_log(log, args.log_bytes)
        written_s = time.perf_counter() - started
        size = log.stat().st_size
        started = time.perf_counter()
        result = ask(QUESTION, settings.model_copy(update={"engine_url": "none"}), log=str(log), hardware=True,
                     engine=None)
        # Counted with the engine's tokenizer when there is one, for a figure comparable with its window.
        prompt_text = "\n\n".join(b.text for b in result.context)
        prompt_tokens = engine.count_tokens(prompt_text) if engine else result.prompt_tokens
        out["prompt"] = {
            "log_bytes": size,
            "log_tokens_estimated": size // 4,  # about 4 bytes per token, as estimate_tokens
            "log_failures_injected": injected,
            "write_s": round(written_s, 2),
            "ask_build_s": round(time.perf_counter() - started, 2),
            "prompt_tokens": prompt_tokens,
            "prompt_tokens_method": engine.token_count_method if engine else "estimate",
            "blocks": [b.id for b in result.context],
            "dropped": [b.id for b in result.dropped],
            "reduction_factor": round((size // 4) / max(prompt_tokens, 1), 1),
        }
        if engine is not None:
            engine.close()
    print(json.dumps(out, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
