"""Engine speed against the memory-bandwidth ceiling, and the size of the prompt ask sends.

    .venv/bin/python bench/engine.py [--shape tiny|mistral-7b] [--quantizations none,int8,int4] [--bandwidth-tbs TBS]
                                     [--model-dir DIR] [--quantization none|int8|int4] [--log-bytes N] [--quick]

1. Speed.  With --shape, a Mistral with random weights is built in memory (never written to disk) and run through the
   transformers engine (TransformersEngine.from_model: the quantization and generation code a checkpoint gets) once
   per --quantizations entry:
     tiny        the test model's shape (hidden 64, 2 layers; 123k parameters), on the CPU unless CUDA is present;
     mistral-7b  hidden 4096, 32 layers, 32 heads, 8 KV heads, head dim 128, intermediate 14336, vocab 32768
                 (7.25B parameters), constructed on the GPU in bf16. Needs CUDA: refused with a note otherwise.
   Each run reports decode tokens/s and time to first token (medians of --runs), the quantization it really got (int4
   falls back to int8 where torchao's int4 kernels are missing, with the engine's note), the weight bytes resident
   (every parameter and buffer; torchao's quantized tensors counted by their inner data and scales), the bytes one
   decode step reads (all of them but the input embedding table, of which one row), the ceiling
   tokens/s = bandwidth / those bytes, and the fraction of it reached; the KV cache read at the run's mean context is
   given beside it.  Bandwidth: --bandwidth-tbs, else the detected GPU's figure in data/hardware-profiles.json (its
   NVML name matched exactly: NVIDIA H200 4.8 TB/s, NVIDIA H100 80GB HBM3 (SXM) 3.35, NVIDIA GB10 0.273, ...), with
   the profile's source; none on a CPU or an unlisted GPU, and the ceiling is then null.  Random weights could stop
   at any token, so end-of-sequence is switched off: every run decodes --max-tokens.  The tokenizer is a small BPE
   trained here on Spark log lines (padded to the vocabulary with placeholder tokens), not Mistral's.
   Without --shape: the checkpoint in --model-dir through the transformers engine, else the engine the settings
   (DGX_SPARK_MCP_ENGINE_*) resolve; says so when there is none.
2. Prompt (--log-bytes 0 skips it).  A generated Spark executor log of --log-bytes (1 GB by default; --quick: 2 MB)
   is turned into the prompt ask would send that engine (prepare_prompt: findings and hardware as cited blocks in
   the engine's window, --answer-tokens left for the answer), counted exactly as sent: the engine's tokenizer and
   chat template over system prompt, context and question (an estimate without an engine).  The log itself is
   counted with the same tokenizer on --sample-bytes taken in 16 chunks spread over the file and extrapolated to
   its size; the output says so.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from diagnose_throughput import FAILURES, INFO_TEMPLATES, WARN_TEMPLATES, write_log  # noqa: E402

QUESTION = "Why did the failing stages fail and what should I change?"
SPEED_PROMPT = [{"role": "user", "content": "Summarize why a Spark executor runs out of heap memory."}]

SHAPES: dict[str, dict[str, int]] = {
    "tiny": {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
             "num_key_value_heads": 2, "head_dim": 16, "max_position_embeddings": 512},
    "mistral-7b": {"hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
                   "num_key_value_heads": 8, "head_dim": 128, "max_position_embeddings": 32768, "vocab_size": 32768},
}
CHAT_TEMPLATE = (
    "{{ bos_token }}{% set ns = namespace(system='') %}{% for message in messages %}"
    "{% if message['role'] == 'system' %}{% set ns.system = message['content'] + '\n\n' %}"
    "{% elif message['role'] == 'user' %}[INST] {{ ns.system }}{{ message['content'] }} [/INST]{% set ns.system = '' %}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] }}{{ eos_token }}{% endif %}{% endfor %}"
)
SAMPLE_CHUNKS = 16


# ---- the random-weight model ---------------------------------------------------------------------------------


def _log_lines(count: int = 400) -> list[str]:
    import random

    rng = random.Random(3)
    lines = []
    for i in range(count):
        values = {"ts": f"24/07/08 04:{i % 60:02d}:{(i * 7) % 60:02d}", "t": rng.randrange(200), "s": rng.randrange(60),
                  "tid": rng.randrange(10**6), "n": rng.randrange(10**6)}
        pool = FAILURES if i % 20 == 0 else WARN_TEMPLATES if i % 7 == 0 else INFO_TEMPLATES
        lines.extend(rng.choice(pool).format(**values).splitlines())
    return lines


def build_tokenizer(vocab_size: int | None) -> Any:
    """A byte-level BPE trained on Spark log lines with a Mistral chat template; padded to ``vocab_size`` with
    placeholder tokens so that every id a random model emits decodes to text (and is streamed and timed)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from tokenizers.trainers import BpeTrainer
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = BpeTrainer(vocab_size=512, special_tokens=["<unk>", "<s>", "</s>", "<pad>"], show_progress=False,
                         initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator(_log_lines(), trainer=trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, unk_token="<unk>", bos_token="<s>", eos_token="</s>",
                                  pad_token="<pad>")
    tok.chat_template = CHAT_TEMPLATE
    if vocab_size is not None and len(tok) < vocab_size:
        tok.add_tokens([f"<t{i}>" for i in range(len(tok), vocab_size)])
    return tok


def build_model(shape: str, tokenizer: Any, device: str) -> Any:
    """A MistralForCausalLM of ``shape`` with random weights, built directly on ``device`` in the engine's dtype."""
    import torch
    from transformers import GenerationConfig, MistralConfig, MistralForCausalLM

    dims = dict(SHAPES[shape])
    dims.setdefault("vocab_size", len(tokenizer))
    cfg = MistralConfig(**dims, sliding_window=None, tie_word_embeddings=False, bos_token_id=tokenizer.bos_token_id,
                        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    torch.manual_seed(0)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = MistralForCausalLM(cfg)
    finally:
        torch.set_default_dtype(previous)
    # No end of sequence: random weights would stop at random, and every run should decode max_tokens.
    model.generation_config = GenerationConfig(bos_token_id=tokenizer.bos_token_id, eos_token_id=None,
                                               pad_token_id=tokenizer.pad_token_id)
    return model


# ---- bytes and the ceiling -----------------------------------------------------------------------------------


def tensor_bytes(t: Any, seen: set[int]) -> int:
    """Bytes a tensor really holds: a wrapper subclass (torchao's quantized weights) by its inner tensors (packed data,
    scales, zero points); a plain tensor by its elements, once per storage (tied weights count once)."""
    if hasattr(t, "__tensor_flatten__"):
        names, _ = t.__tensor_flatten__()
        return sum(tensor_bytes(getattr(t, name), seen) for name in names if getattr(t, name) is not None)
    key = t.data_ptr()
    if key in seen:
        return 0
    seen.add(key)
    return int(t.numel()) * int(t.element_size())


def weight_bytes(model: Any) -> dict[str, int]:
    """Resident bytes of the weights and what one decode step reads: all but the input embedding table (one row)."""
    seen: set[int] = set()
    resident = sum(tensor_bytes(p, seen) for p in model.parameters()) + sum(tensor_bytes(b, seen) for b in model.buffers())
    embedding = model.get_input_embeddings().weight
    output = model.get_output_embeddings()
    tied = output is not None and output.weight is embedding
    table = tensor_bytes(embedding, set())
    row = table // max(1, int(embedding.shape[0]))
    return {"resident": resident, "embedding_table": table, "per_token": resident if tied else resident - table + row}


def kv_bytes_per_position(model: Any) -> int:
    import torch

    cfg = model.config
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    element = torch.empty(0, dtype=model.dtype).element_size()  # the cache is kept in the compute dtype
    return 2 * cfg.num_hidden_layers * cfg.num_key_value_heads * head_dim * element  # K and V


def gpu_bandwidth(device: str, flag_tbs: float | None) -> tuple[float | None, str]:
    """(TB/s, where it comes from): the flag, else the detected GPU's profile in data/hardware-profiles.json."""
    if flag_tbs is not None:
        return flag_tbs, "--bandwidth-tbs"
    if not device.startswith("cuda"):
        return None, "no GPU: give --bandwidth-tbs for a ceiling"
    import torch

    from dgx_spark_mcp.hardware.profiles import list_profiles

    name = torch.cuda.get_device_name(torch.device(device))
    for profile in list_profiles():
        if profile.gpu is not None and profile.gpu.model.lower() == name.lower():
            figure = profile.gpu.memory_bandwidth_gb_s
            return figure.value / 1000, f"data/hardware-profiles.json {profile.name}: {figure.source}"
    return None, f"{name} is in no hardware profile: give --bandwidth-tbs for a ceiling"


# ---- measuring -----------------------------------------------------------------------------------------------


def engine_speed(engine: Any, runs: int, max_tokens: int) -> dict[str, object]:
    engine.generate(SPEED_PROMPT, max_tokens=4)  # warm-up: first-call compilation and caches
    ttfts, speeds, prompt_tokens = [], [], 0
    for _ in range(runs):
        _, stats = engine.generate(SPEED_PROMPT, max_tokens=max_tokens, timeout_s=600)
        prompt_tokens = stats.prompt_tokens
        if stats.ttft_s is not None:
            ttfts.append(stats.ttft_s)
        if stats.tokens_per_s is not None:
            speeds.append(stats.tokens_per_s)
    return {
        "engine": engine.describe(),
        "runs": runs,
        "max_tokens": max_tokens,
        "prompt_tokens": prompt_tokens,
        "ttft_s_median": statistics.median(ttfts) if ttfts else None,
        "decode_tokens_per_s_median": statistics.median(speeds) if speeds else None,
    }


def shape_runs(args: argparse.Namespace, settings: Any, tmp: Path) -> dict[str, object]:
    import torch

    from dgx_spark_mcp.reasoning.engines.transformers_local import TransformersEngine

    device = "cuda" if torch.cuda.is_available() else "cpu"
    out: dict[str, object] = {"shape": args.shape, "device": device}
    if args.shape == "mistral-7b" and device != "cuda":
        out["refused"] = ("the mistral-7b shape needs CUDA (14.5 GB of bf16 weights built on the GPU); none is "
                          "available here. Run it on a GPU machine, or use --shape tiny for the same code path on CPU")
        return out
    tb_s, source = gpu_bandwidth(device, args.bandwidth_tbs)
    out.update(gpu=torch.cuda.get_device_name(0) if device == "cuda" else None, bandwidth_tb_s=tb_s,
               bandwidth_source=source)
    tokenizer = build_tokenizer(SHAPES[args.shape].get("vocab_size"))
    out["tokenizer"] = f"byte-level BPE trained on Spark log lines, {len(tokenizer)} tokens (not Mistral's)"
    runs = []
    for requested in args.quantizations:
        started = time.perf_counter()
        model = build_model(args.shape, tokenizer, device)
        built_s = time.perf_counter() - started
        parameters = sum(p.numel() for p in model.parameters())
        started = time.perf_counter()
        engine = TransformersEngine.from_model(model, tokenizer, name=f"random {args.shape}", quantization=requested,
                                               device=device)
        quantize_s = time.perf_counter() - started
        if device == "cuda":
            torch.cuda.synchronize()
        size = weight_bytes(engine._model)
        speed = engine_speed(engine, args.runs, args.max_tokens)
        rate = speed["decode_tokens_per_s_median"]
        mean_context = int(speed["prompt_tokens"]) + args.max_tokens // 2  # type: ignore[call-overload]
        kv = kv_bytes_per_position(engine._model) * mean_context
        ceiling = tb_s * 1e12 / size["per_token"] if tb_s else None
        ceiling_kv = tb_s * 1e12 / (size["per_token"] + kv) if tb_s else None
        runs.append({
            "requested": requested,
            "quantization": engine.quantization,
            "notes": list(engine.notes),
            "parameters": parameters,
            "build_s": round(built_s, 2),
            "quantize_s": round(quantize_s, 2),
            "weight_bytes_resident": size["resident"],
            "weight_bytes_per_token": size["per_token"],
            "kv_cache_bytes_per_token_at_mean_context": kv,
            "ceiling_tokens_per_s": round(ceiling, 1) if ceiling else None,
            "ceiling_tokens_per_s_with_kv": round(ceiling_kv, 1) if ceiling_kv else None,
            "decode_tokens_per_s_median": round(rate, 1) if isinstance(rate, float) else rate,
            "ttft_s_median": speed["ttft_s_median"],
            "fraction_of_ceiling": round(rate / ceiling, 3) if ceiling and isinstance(rate, float) else None,
            "peak_gpu_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 1) if device == "cuda" else None,
        })
        if args.log_bytes and "prompt" not in out:
            out["prompt"] = prompt_size(args, settings, engine, tmp)
        engine.close()
        del engine, model
        gc.collect()
        if device == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
    out["runs"] = runs
    return out


def _sample_tokens(path: Path, engine: Any, sample_bytes: int) -> tuple[int, int]:
    """Tokens and bytes of ``SAMPLE_CHUNKS`` whole-line chunks spread evenly over the file."""
    from dgx_spark_mcp.reasoning.engines.base import estimate_tokens

    count = engine.count_tokens if engine is not None else estimate_tokens
    size = path.stat().st_size
    chunk = max(4096, sample_bytes // SAMPLE_CHUNKS)
    tokens = sampled = 0
    with path.open("rb") as f:
        for i in range(SAMPLE_CHUNKS):
            offset = max(0, (size - chunk) * i // max(1, SAMPLE_CHUNKS - 1))
            f.seek(offset)
            data = f.read(chunk)
            start = 0 if offset == 0 else data.find(b"\n") + 1  # whole lines only
            end = data.rfind(b"\n") + 1 or len(data)
            text = data[start:end].decode("utf-8", "replace")
            tokens += count(text)
            sampled += end - start
    return tokens, sampled


def prompt_size(args: argparse.Namespace, settings: Any, engine: Any, tmp: Path) -> dict[str, object]:
    from dgx_spark_mcp.reasoning.ask import prepare_prompt

    log = tmp / "executor.log"
    started = time.perf_counter()
    injected = write_log(log, args.log_bytes)
    written_s = time.perf_counter() - started
    size = log.stat().st_size
    started = time.perf_counter()
    prepared = prepare_prompt(QUESTION, settings, engine, log=str(log), hardware=True, max_tokens=args.answer_tokens)
    build_s = time.perf_counter() - started
    tokens, sampled = _sample_tokens(log, engine, args.sample_bytes)
    log_tokens = round(tokens / sampled * size) if sampled else 0
    method = getattr(engine, "token_count_method", "tokenizer") if engine is not None else "estimate"
    return {
        "log_bytes": size,
        "log_failures_injected": injected,
        "log_tokens": log_tokens,
        "log_tokens_method": f"{method}: {tokens} tokens in {sampled} bytes sampled ({SAMPLE_CHUNKS} chunks spread over "
                             "the file), extrapolated to its size",
        "write_s": round(written_s, 2),
        "ask_build_s": round(build_s, 2),
        "window_tokens": getattr(engine, "context_length", None) if engine is not None else None,
        "answer_tokens": args.answer_tokens,
        "budget_tokens": prepared.budget_tokens,
        "prompt_tokens": prepared.prompt_tokens,
        "prompt_tokens_method": prepared.method,
        "prompt_counts": "the whole prompt as ask sends it: system prompt, context blocks, question, chat template",
        "blocks": [b.id for b in prepared.assembled.blocks],
        "dropped": [b.id for b in prepared.assembled.dropped],
        "reduction_factor": round(log_tokens / max(prepared.prompt_tokens, 1), 1),
    }


def _num(value: float) -> str:
    """A count or rate, short: 7.25B / 268.0M / 1,234 / 56.7."""
    if value >= 1e9:
        return f"{value / 1e9:.2f}B"
    if value >= 1e7:
        return f"{value / 1e6:.1f}M"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def _speed_headline(speed: dict[str, Any], compact: bool = False) -> str:
    """The speed part of the headline: each quantization's tokens/s against the ceiling, or the engine's own speed."""
    if "refused" in speed:
        return f"random-weight {speed['shape']} shape: not run on {speed['device']} (it needs CUDA)"
    if isinstance(speed.get("runs"), list):
        runs = speed["runs"]
        tb_s = speed.get("bandwidth_tb_s")
        lead = f"random-weight {speed['shape']}" + ("" if "mistral" in speed["shape"] else " Mistral")
        if runs and not compact:
            lead += f" ({_num(float(runs[0]['parameters']))} params)"
        lead += f" on {speed.get('gpu') or speed['device']}, decode tokens/s "
        lead += f"vs the {tb_s:g} TB/s ceiling: " if tb_s else "(no bandwidth, no ceiling): "
        parts = []
        for run in runs:
            requested, got = run["requested"], run["quantization"] or "none"
            text = requested if got == requested else f"{requested}->{got}"
            rate, ceiling, fraction = run["decode_tokens_per_s_median"], run["ceiling_tokens_per_s"], run["fraction_of_ceiling"]
            text += f" {_num(rate)}" if isinstance(rate, (int, float)) else " no rate"
            if ceiling and fraction is not None:
                text += f" of {_num(ceiling)} ({fraction:.0%})" if fraction >= 0.1 else f" of {_num(ceiling)} ({fraction:.2%})"
            parts.append(text)
        return lead + ", ".join(parts)
    engine = speed.get("engine")
    if not isinstance(engine, dict):
        return "no local engine reachable, so no speed"
    rate, ttft = speed.get("decode_tokens_per_s_median"), speed.get("ttft_s_median")
    rate_text = _num(rate) if isinstance(rate, (int, float)) else "?"
    ttft_text = f"{ttft * 1000:,.0f} ms" if isinstance(ttft, (int, float)) else "?"
    return (f"{engine.get('kind')} engine {Path(str(engine.get('model'))).name[:40]}: decode {rate_text} tokens/s, "
            f"first token {ttft_text} (median of {speed.get('runs')}; no ceiling without --shape)")


def headline(out: dict[str, Any], compact: bool = False) -> str:
    """One sentence from this run's figures: engine speed (against the bandwidth ceiling where known) and the prompt
    ask sends for the generated log against the log itself; fewer words (``compact``) where it would pass 300 chars."""
    parts = [_speed_headline(out["speed"], compact)] if isinstance(out.get("speed"), dict) else []
    prompt = out.get("prompt")
    if isinstance(prompt, dict):
        log = f"{prompt['log_bytes'] / 1e6:,.0f} MB " + ("log" if compact else "generated log")
        parts.append(f"ask's prompt for a {log} {_num(prompt['prompt_tokens'])} tokens ({prompt['prompt_tokens_method']}) "
                     f"vs {_num(prompt['log_tokens'])} for the log, {_num(prompt['reduction_factor'])}x fewer")
    sentence = "; ".join(parts) + "; no target"
    return headline(out, compact=True) if len(sentence) > 300 and not compact else sentence


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", choices=sorted(SHAPES), help="A random-weight Mistral built in memory.")
    parser.add_argument("--quantizations", default="none,int8,int4",
                        help="With --shape: comma-separated, each of none, int8, int4 (default: all three).")
    parser.add_argument("--bandwidth-tbs", type=float, help="Memory bandwidth in TB/s for the ceiling (default: the "
                        "detected GPU's, from data/hardware-profiles.json).")
    parser.add_argument("--model-dir", type=Path, help="Without --shape: a local checkpoint for the transformers engine.")
    parser.add_argument("--quantization", default="none", choices=["none", "int8", "int4"])
    parser.add_argument("--log-bytes", type=int, default=1 << 30, help="Size of the generated log (0: no prompt part).")
    parser.add_argument("--sample-bytes", type=int, default=4 << 20, help="Bytes of the log counted with the tokenizer.")
    parser.add_argument("--answer-tokens", type=int, default=512, help="Tokens left for the answer (ask's max_tokens).")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--quick", action="store_true", help="A 2 MB log and one short run, for a smoke test.")
    args = parser.parse_args()
    args.quantizations = [q.strip() for q in args.quantizations.split(",") if q.strip()]
    unknown = [q for q in args.quantizations if q not in ("none", "int8", "int4")]
    if unknown:
        parser.error(f"--quantizations: {', '.join(unknown)} unknown; expected none, int8, int4")
    if args.quick:
        args.log_bytes = min(args.log_bytes, 2 << 20)
        args.sample_bytes = min(args.sample_bytes, 256 << 10)
        args.runs, args.max_tokens = 1, 8

    from dgx_spark_mcp.reasoning.engines.resolve import resolve_engine
    from dgx_spark_mcp.settings import Settings

    out: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp) / "home", allowed_roots=[tmp], log_level="WARNING")
        if args.shape is not None:
            out["speed"] = shape_runs(args, settings, Path(tmp))
            speed = out["speed"]
            if isinstance(speed, dict) and "prompt" in speed:
                out["prompt"] = speed.pop("prompt")
        else:
            if args.model_dir is not None:
                from dgx_spark_mcp.reasoning.engines.transformers_local import TransformersEngine

                engine = TransformersEngine(args.model_dir, quantization=args.quantization)
            else:
                engine = resolve_engine(settings)
            out["speed"] = engine_speed(engine, args.runs, args.max_tokens) if engine else {
                "engine": None, "note": "no local engine reachable: give --shape or --model-dir, or start one (see "
                "ask's start_commands)"}
            if args.log_bytes:
                out["prompt"] = prompt_size(args, settings, engine, Path(tmp))
            if engine is not None:
                engine.close()
    print(json.dumps({"headline": headline(out), **out}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
