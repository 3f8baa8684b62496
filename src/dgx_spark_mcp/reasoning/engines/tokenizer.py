"""The served model's tokenizer, loaded from local files (``DGX_SPARK_MCP_ENGINE_TOKENIZER``).

An OpenAI-compatible server applies its model's chat template and tokenizer where this side cannot
see them.  Given the same files (the model's ``tokenizer.json``, with ``tokenizer_config.json`` or
``chat_template.jinja`` for the template), ask counts and templates its prompt exactly as the
server will.  Nothing is downloaded: the files must be on this machine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...errors import BadInputError, CouldNotDoError

__all__ = ["load_tokenizer"]


def load_tokenizer(location: str) -> Any:
    """A Hugging Face tokenizer from a directory or a ``tokenizer.json`` file.

    A directory loads with ``AutoTokenizer`` (``local_files_only``); a lone ``tokenizer.json`` loads as a fast
    tokenizer, taking its chat template from a ``chat_template.jinja`` beside it when there is one.  The result's
    ``chat_template`` is None when the files carry none: counting is then exact but the template is not.
    """
    path = Path(location).expanduser()
    try:
        from transformers import AutoTokenizer, PreTrainedTokenizerFast
    except ImportError as exc:  # pragma: no cover - transformers is a dependency of the local extra
        raise CouldNotDoError(f"engine_tokenizer needs transformers ({exc}); install dgx-spark-mcp[local]") from exc
    if path.is_dir():
        if not ((path / "tokenizer.json").is_file() or (path / "tokenizer_config.json").is_file()):
            raise BadInputError(
                f"engine_tokenizer {location!r} is a directory without tokenizer.json or tokenizer_config.json; point it "
                "at the served model's tokenizer files (e.g. the checkpoint directory the server loaded)"
            )
        try:
            return AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        except (OSError, ValueError) as exc:
            raise BadInputError(f"engine_tokenizer {location!r} could not be loaded: {exc}") from exc
    if path.is_file() and path.suffix == ".json":
        if path.name == "tokenizer.json" and (path.parent / "tokenizer_config.json").is_file():
            return load_tokenizer(str(path.parent))
        try:
            tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(path))
        except Exception as exc:  # noqa: BLE001 - the tokenizers library raises its own exception type
            raise BadInputError(f"engine_tokenizer {location!r} is not a tokenizer.json the tokenizers library reads: {exc}") from exc
        _name_special_tokens(tokenizer)
        template = path.parent / "chat_template.jinja"
        if template.is_file():
            tokenizer.chat_template = template.read_text(encoding="utf-8")
        return tokenizer
    raise BadInputError(
        f"engine_tokenizer {location!r} is neither a directory nor a tokenizer.json file; give the served model's "
        "tokenizer directory or its tokenizer.json"
    )


# Which added special tokens begin and end a sequence, for the families whose templates use bos_token / eos_token.
_BOS_EOS = (("<s>", "</s>"), ("<|begin_of_text|>", "<|end_of_text|>"), ("<bos>", "<eos>"))


def _name_special_tokens(tokenizer: Any) -> None:
    """A lone tokenizer.json does not say which token is bos or eos (tokenizer_config.json does); a chat template
    that writes ``{{ bos_token }}`` then renders nothing.  Name them from the well-known pairs it defines."""
    vocab = tokenizer.get_vocab()
    for bos, eos in _BOS_EOS:
        if bos in vocab and eos in vocab:
            tokenizer.bos_token, tokenizer.eos_token = bos, eos
            return
