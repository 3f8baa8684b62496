"""Spark physical plans, in every form Spark prints them, read into one typed node tree.

Forms understood:

* EXPLAIN simple / extended / cost / codegen text: ``*(n) Name args`` lines drawn with ``+-``/``:-``;
  extended output is cut to its ``== Physical Plan ==`` section (the optimized logical plan is kept
  only for its ``Statistics(sizeInBytes=…, rowCount=…)`` estimates);
* EXPLAIN FORMATTED text: a ``+- * Name (id)`` tree followed by ``(id) Name`` detail blocks
  (Output, PushedFilters, PartitionFilters, ReadSchema, Arguments, …) and optional subqueries;
* AQE: ``AdaptiveSparkPlan isFinalPlan=…`` with ``== Final Plan ==`` / ``== Initial Plan ==``;
  only the final (or only) plan is kept, because the initial one is what AQE replaced;
* the JSON ``sparkPlanInfo`` tree of event logs (``nodeName``, ``simpleString``, ``children``,
  ``metadata``); ``WholeStageCodegen`` and ``InputAdapter`` wrappers are folded away.

Accelerated operators keep their real name and carry ``accelerator`` (gpu, photon, comet,
gluten) plus a canonical ``operator`` without the prefix/suffix, so one rule matches
``BroadcastNestedLoopJoin`` and ``GpuBroadcastNestedLoopJoin`` alike.

The forms are read in :mod:`.text_plan` and :mod:`.json_plan`, one node's text in :mod:`.operators`,
into the models of :mod:`.nodes`; this module picks the reader and re-exports the models, so
callers import the parser alone.
"""

from __future__ import annotations

import json
from typing import Any

from ...errors import BadInputError
from ...json_depth import check_json_depth
from .json_plan import parse_json
from .nodes import (
    ExchangeInfo,
    JoinInfo,
    ParsedPlan,
    PlanEstimate,
    PlanForm,
    PlanNode,
    ScanInfo,
)
from .operators import split_accelerator
from .text_plan import parse_text

__all__ = [
    "ExchangeInfo", "JoinInfo", "ParsedPlan", "PlanEstimate", "PlanForm", "PlanNode", "ScanInfo", "parse_plan",
    "split_accelerator",
]


def parse_plan(text: str | dict[str, Any] | list[Any]) -> ParsedPlan:
    """Any EXPLAIN output or sparkPlanInfo JSON → :class:`ParsedPlan`; BadInputError when it is neither.

    ``text`` may also be the JSON already decoded (an MCP client decodes an argument that looks like JSON).
    """
    if isinstance(text, dict | list):
        check_json_depth(text, "the plan")
        return parse_json(text)
    stripped = text.strip()
    if not stripped:
        raise BadInputError("the plan is empty; paste EXPLAIN output, a sparkPlanInfo JSON tree, or give SQL")
    if stripped[0] in "{[":
        check_json_depth(stripped, "the plan")
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise BadInputError(f"the plan starts like JSON but is not valid JSON ({exc.msg} at line {exc.lineno}); "
                                "give the sparkPlanInfo object whole") from None
        return parse_json(data)
    return parse_text(stripped)
