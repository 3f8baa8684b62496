"""What an answer costs an agent: its compact JSON (as the tools send it) in o200k_base tokens, as
bench/agent_tokens.py counts them."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel

from dgx_spark_mcp.tools.answers import compact, compact_json


@cache
def _encoding() -> Any:
    import warnings

    with warnings.catch_warnings():  # bpe_openai reads its tables through importlib.resources' deprecated open_binary
        warnings.simplefilter("ignore", DeprecationWarning)
        import bpe_openai

        return bpe_openai.get_encoding("o200k_base")


def answer_tokens(result: BaseModel) -> int:
    text = compact_json(compact(result))
    return sum(len(_encoding().encode(text[i:i + 100_000])) for i in range(0, len(text), 100_000))
