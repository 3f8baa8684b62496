"""A tiny random-weight Mistral checkpoint built offline, for tests of the local engines.

Follows local-llm.md section 6: a byte-level BPE tokenizer trained on realistic Spark and
Airflow log lines (so log text tokenizes into a few hundred ids, like a real model would see),
a Mistral chat template, and a 2-layer Mistral with 123k parameters.  Random weights produce
gibberish: tests assert structure, token counts and streaming, never text.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["CHAT_TEMPLATE", "LOG_LINES", "build_tiny_mistral"]

# Mistral's instruct format: a system message is folded into the first user turn.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% set ns = namespace(system='') %}"
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{% set ns.system = message['content'] + '\n\n' %}"
    "{% elif message['role'] == 'user' %}[INST] {{ ns.system }}{{ message['content'] }} [/INST]{% set ns.system = '' %}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] }}{{ eos_token }}"
    "{% endif %}"
    "{% endfor %}"
)

_SPARK = [
    "24/05/13 10:21:{s:02d} INFO SparkContext: Running Spark version 3.5.1",
    "24/05/13 10:21:{s:02d} INFO DAGScheduler: Submitting ResultStage {n} (MapPartitionsRDD[{m}] at count) with 200 missing tasks",
    "24/05/13 10:21:{s:02d} WARN TaskSetManager: Lost task {n}.0 in stage {m}.0 (TID {t}) (10.0.0.{n} executor {m}): java.lang.OutOfMemoryError: Java heap space",
    "24/05/13 10:21:{s:02d} ERROR Executor: Exception in task {n}.1 in stage {m}.0 (TID {t})",
    "24/05/13 10:21:{s:02d} INFO BlockManagerInfo: Added broadcast_{n}_piece0 in memory on 10.0.0.{m}:42{n}1 (size: 38.2 KiB, free: 2.1 GiB)",
    "24/05/13 10:21:{s:02d} WARN YarnAllocator: Container killed by YARN for exceeding memory limits. 9.{n} GB of 9 GB physical memory used",
    "24/05/13 10:21:{s:02d} INFO ShuffleBlockFetcherIterator: Getting {t} (1.{n} GiB) non-empty blocks including {m} local blocks",
    "24/05/13 10:21:{s:02d} ERROR TaskSchedulerImpl: Lost executor {n} on 10.0.0.{m}: Executor heartbeat timed out after 120000 ms",
    "24/05/13 10:21:{s:02d} INFO RapidsExecutorPlugin: RAPIDS Accelerator 24.04.0 using cudf 24.04.0, GPU {n}",
    "24/05/13 10:21:{s:02d} WARN GpuOverrides: ! <SortMergeJoinExec> cannot run on GPU because not all expressions can be replaced",
]
_AIRFLOW = [
    "[2024-05-13, 10:2{n}:{s:02d} UTC] {{taskinstance.py:1{m}38}} INFO - Dependencies all met for <TaskInstance: etl_daily.load_{n} manual__2024-05-13 [queued]>",
    "[2024-05-13, 10:2{n}:{s:02d} UTC] {{taskinstance.py:2{m}99}} ERROR - Task failed with exception",
    "[2024-05-13, 10:2{n}:{s:02d} UTC] {{spark_submit.py:4{m}1}} INFO - Identified spark driver pod: etl-daily-driver-{t}",
    "[2024-05-13, 10:2{n}:{s:02d} UTC] {{standard_task_runner.py:1{m}4}} INFO - Started process {t} to run task",
    "[2024-05-13, 10:2{n}:{s:02d} UTC] {{taskinstance.py:1{m}45}} INFO - Marking task as UP_FOR_RETRY. dag_id=etl_daily, task_id=transform_{n}",
]


def _log_lines() -> list[str]:
    lines = []
    for i in range(100):
        pool = _SPARK if i % 3 else _AIRFLOW
        template = pool[i % len(pool)]
        lines.append(template.format(s=i % 60, n=i % 9, m=(i * 7) % 13, t=1000 + i * 37))
    return lines


LOG_LINES = _log_lines()


def build_tiny_mistral(directory: Path) -> Path:
    """Write a tiny Mistral checkpoint (tokenizer, weights, generation config) into ``directory``."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from tokenizers.trainers import BpeTrainer
    from transformers import GenerationConfig, MistralConfig, MistralForCausalLM, PreTrainedTokenizerFast

    directory.mkdir(parents=True, exist_ok=True)
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = BpeTrainer(
        vocab_size=512,
        special_tokens=["<unk>", "<s>", "</s>", "<pad>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    bpe.train_from_iterator(LOG_LINES, trainer=trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=bpe, unk_token="<unk>", bos_token="<s>", eos_token="</s>", pad_token="<pad>"
    )
    tok.chat_template = CHAT_TEMPLATE

    cfg = MistralConfig(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        max_position_embeddings=512,
        sliding_window=None,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    model = MistralForCausalLM(cfg)
    model.generation_config = GenerationConfig(
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id
    )
    model.save_pretrained(directory)
    tok.save_pretrained(directory)

    # transformers v5 writes "TokenizersBackend"; older releases (TRT-LLM's pinned 4.57) reject it,
    # while "PreTrainedTokenizerFast" loads in both.
    config_path = directory / "tokenizer_config.json"
    tok_config = json.loads(config_path.read_text())
    tok_config["tokenizer_class"] = "PreTrainedTokenizerFast"
    config_path.write_text(json.dumps(tok_config, indent=2))
    return directory
