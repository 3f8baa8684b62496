"""The JSON ``sparkPlanInfo`` tree of event logs read into a :class:`~.nodes.ParsedPlan`.

Each node's ``simpleString`` is read like a text line (:func:`~.operators.read_node`), its
``metadata`` kept as details; ``WholeStageCodegen`` and ``InputAdapter`` wrappers are folded
away, their codegen stage handed to the nodes below them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from ...errors import BadInputError
from .nodes import DETAIL_CHARS, ParsedPlan
from .operators import PlanTree, read_node

__all__ = ["parse_json"]


def _json_nodes(root: dict[str, Any]) -> Iterator[tuple[dict[str, Any], int, int | None, int | None]]:
    """(node, depth, parent index, codegen id), folding WholeStageCodegen and InputAdapter wrappers."""
    stack: list[tuple[dict[str, Any], int, int | None, int | None]] = [(root, 0, None, None)]
    index = 0
    while stack:
        node, depth, parent, codegen = stack.pop()
        name = str(node.get("nodeName", ""))
        listed = node.get("children")
        children = [c for c in listed if isinstance(c, dict)] if isinstance(listed, list) else []
        wrapper = re.match(r"^WholeStageCodegen \((\d+)\)$", name)
        if wrapper or name == "InputAdapter":
            code = int(wrapper.group(1)) if wrapper else None
            stack.extend((c, depth, parent, code) for c in reversed(children))
            continue
        index += 1
        yield node, depth, parent, codegen
        me = index
        stack.extend((c, depth + 1, me, codegen) for c in reversed(children))


def _detail(value: Any) -> str:
    """A metadata value as text; Spark writes strings, and a nested value is cut while written, not after."""
    if isinstance(value, dict | list):
        return json.dumps(value)[:DETAIL_CHARS]  # the depth was checked, so this cannot recurse out
    return str(value)[:DETAIL_CHARS]


def parse_json(data: Any) -> ParsedPlan:
    if isinstance(data, dict) and isinstance(data.get("sparkPlanInfo"), dict):
        data = data["sparkPlanInfo"]
    if not isinstance(data, dict) or "nodeName" not in data:
        raise BadInputError(
            "the JSON is not a Spark plan tree: expected a sparkPlanInfo object with nodeName, simpleString and "
            "children (or an event with a 'sparkPlanInfo' key)"
        )
    tree = PlanTree()
    for raw, depth, parent, codegen in _json_nodes(data):
        meta = raw.get("metadata") or {}
        details = {str(k): _detail(v) for k, v in meta.items()} if isinstance(meta, dict) else {}
        body = str(raw.get("simpleString") or raw.get("nodeName") or "?")
        node = read_node(body, len(tree.order) + 1, depth, parent, False, details=details, codegen=codegen)
        node_name = str(raw.get("nodeName", "")).strip()
        if node_name and not node_name.startswith("Scan"):
            node.name = node_name
        tree.add(node, tree.nodes.get(parent) if parent else None)
    nodes = tree.finish()
    return ParsedPlan(form="json", nodes=nodes, adaptive=tree.adaptive, final_plan=tree.final_plan)
