"""How a result reaches the agent: one compact rendering, with the structured content beside it.

Left to itself the SDK sends a result twice, as pretty-printed JSON text and as structured
content, each with every null and empty list.  An agent pays for what it reads, so here a
result becomes:

- structured content: the model's JSON without the nulls, empty lists, empty strings and empty
  objects of fields whose default is just as empty.  Such fields are not required by the output
  schema and read back as the same value, so the content stays valid and loses nothing;
- one text block holding the same JSON, compact (no indentation).

The CLI's ``--json`` prints the same dict (:func:`compact`), so it equals the tool's output.
"""

from __future__ import annotations

import json
from typing import Any

from mcp.types import CallToolResult, ContentBlock, TextContent
from pydantic import BaseModel
from pydantic.fields import FieldInfo

__all__ = ["answer", "compact", "compact_json"]


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, (list, dict, str, tuple)) and len(value) == 0)


def _droppable(field: FieldInfo, value: Any) -> bool:
    """An empty value of a field whose default is empty too: leaving it out reads back as the same value."""
    if field.is_required() or not _empty(value):
        return False
    return _empty(field.get_default(call_default_factory=True))


def _prune(value: Any, dumped: Any) -> Any:
    if isinstance(value, BaseModel) and isinstance(dumped, dict):
        out: dict[str, Any] = {}
        for name, field in type(value).model_fields.items():
            key = field.alias or name
            if key not in dumped or _droppable(field, dumped[key]):
                continue
            out[key] = _prune(getattr(value, name), dumped[key])
        for key, item in dumped.items():  # computed fields
            if key not in out and key not in type(value).model_fields and not _empty(item):
                out[key] = item
        return out
    if isinstance(value, (list, tuple)) and isinstance(dumped, list) and len(value) == len(dumped):
        return [_prune(a, b) for a, b in zip(value, dumped, strict=True)]
    if isinstance(value, dict) and isinstance(dumped, dict) and len(value) == len(dumped):
        return {key: _prune(item, dumped[str(key)]) for key, item in value.items() if str(key) in dumped}
    return dumped


def compact(result: BaseModel) -> dict[str, Any]:
    """The result as JSON data, without the empty values of fields whose default is empty."""
    pruned = _prune(result, result.model_dump(mode="json", by_alias=True))
    assert isinstance(pruned, dict)
    return pruned


def compact_json(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def answer(result: BaseModel, extra: list[ContentBlock] | None = None) -> CallToolResult:
    """A tool result: the compact JSON once as text, the same data as structured content (plus any
    ``extra`` blocks, such as a chart)."""
    data = compact(result)
    return CallToolResult(content=[TextContent(type="text", text=compact_json(data)), *(extra or [])],
                          structured_content=data)
