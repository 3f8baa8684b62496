"""JSON schemas as an agent reads them: the same constraints, without what pydantic adds for people.

pydantic gives every property and model a ``title`` ("Data Size" for ``data_size``), spells a value
of several plain types as ``anyOf: [{type: X}, {type: null}]``, writes ``default: null`` and
``additionalProperties: true`` (both what JSON Schema assumes anyway), and moves every enum into
``$defs`` behind a ``$ref``.  Hosts put the input schemas into the model's context, where these
repeat what the name and ``required`` already say.  :func:`slim` drops the titles, null defaults and
open ``additionalProperties``, writes plain alternatives and ``X or null`` as ``type: [X, Y]`` and puts a definition
used once, that refers to nothing else, in the place that uses it.  Descriptions, enums, bounds and
non-null defaults stay: they are what an agent calls with.
"""

from __future__ import annotations

from typing import Any

__all__ = ["slim"]

_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_VALUES = ("items", "additionalProperties", "not", "contains")
_DEFS = "#/$defs/"


def _plain_types(branches: list[Any]) -> list[str] | None:
    """``[X, Y]`` when every branch is a bare ``{"type": ...}``."""
    if not all(isinstance(b, dict) and set(b) == {"type"} and isinstance(b["type"], str) for b in branches):
        return None
    types = [b["type"] for b in branches]
    return types if len(types) == len(set(types)) else None


def _tidy(schema: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title" or (key == "default" and value is None) or (key == "additionalProperties" and value is True):
            continue
        if key in ("properties", "$defs", "patternProperties") and isinstance(value, dict):
            out[key] = {name: _tidy(sub) if isinstance(sub, dict) else sub for name, sub in value.items()}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [_tidy(sub) if isinstance(sub, dict) else sub for sub in value]
        elif key in _SCHEMA_VALUES and isinstance(value, dict):
            out[key] = _tidy(value)
        else:
            out[key] = value
    if "anyOf" in out and (types := _plain_types(out["anyOf"])) is not None:
        del out["anyOf"]
        out = {"type": types, **out}
    elif "anyOf" in out and (merged := _or_null(out["anyOf"])) is not None:
        del out["anyOf"]
        out = {**merged, **out}
    return out


def _or_null(branches: list[Any]) -> dict[str, Any] | None:
    """``X or null`` for one typed branch X (bounds, enum, items kept): ``type: [X, "null"]``, with null in its enum.
    Keywords like ``minimum`` or ``items`` apply only to values of their own type, so null still passes them."""
    if len(branches) != 2 or {"type": "null"} not in branches:
        return None
    other = branches[0] if branches[1] == {"type": "null"} else branches[1]
    if not isinstance(other, dict) or not isinstance(other.get("type"), str) or "$ref" in other:
        return None
    merged = {**other, "type": [other["type"], "null"]}
    if "enum" in merged:
        merged["enum"] = [*merged["enum"], None]
    return merged


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for item in node for r in _refs(item)]
    return []


def _inline(node: Any, inlined: dict[str, dict[str, Any]]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref in inlined:
            return {**inlined[ref], **{k: _inline(v, inlined) for k, v in node.items() if k != "$ref"}}
        return {k: _inline(v, inlined) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(item, inlined) for item in node]
    return node


def slim(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``schema`` as an agent needs it (see the module's docstring); it accepts the same values."""
    out = _tidy(schema)
    defs = out.get("$defs", {})
    uses = _refs({k: v for k, v in out.items() if k != "$defs"}) + _refs(defs)
    once = {f"{_DEFS}{name}": body for name, body in defs.items()
            if uses.count(f"{_DEFS}{name}") == 1 and not _refs(body)}
    if not once:
        return out
    out = _tidy(_inline(out, once))  # an inlined enum may now read "X or null"
    left = {name: body for name, body in out.pop("$defs").items() if f"{_DEFS}{name}" not in once}
    return {**out, "$defs": left} if left else out
