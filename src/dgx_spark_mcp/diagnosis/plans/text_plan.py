"""EXPLAIN text read into a :class:`~.nodes.ParsedPlan`: simple, extended, cost, formatted and codegen output.

The ``== … ==`` sections are split first (extended output is cut to its physical plan; the
optimized logical plan is kept only for its ``Statistics(…)`` estimates), then one state
machine walks the ``+-``/``:-`` tree lines and, in formatted mode, the ``(id) Name`` detail
blocks below them.  AQE's Initial Plan is skipped; RAPIDS ``!Exec <X> cannot run on GPU``
lines are kept aside as fallback notes.  Each node's own text is read by :mod:`.operators`.
"""

from __future__ import annotations

import re

from ...errors import BadInputError
from .nodes import ParsedPlan, PlanEstimate, PlanForm, PlanNode
from .operators import OPERATOR_NAME, PlanTree, attach_details, read_node

__all__ = ["parse_text"]

_TREE_LINE = re.compile(r"^((?:[: |]  )*)(?:([+:])- )?(\S.*)$")
_DETAIL_HEADER = re.compile(r"^\((\d+)\) (.+)$")
_DETAIL_FIELD = re.compile(r"^([A-Z][\w ]*?)(?: \[\d+\])?\s?: ?(.*)$")
_SECTION = re.compile(r"^== (.+?) ==$")


def _sections(text: str) -> dict[str, str]:
    sections: dict[str, list[str]] = {}
    current = "Physical Plan"
    for line in text.splitlines():
        header = _SECTION.match(line.strip()) if not line.startswith((" ", "+", ":")) else None
        if header and header.group(1).endswith("Plan"):
            current = header.group(1)
            sections[current] = []
            continue
        sections.setdefault(current, []).append(line)
    return {name: "\n".join(lines) for name, lines in sections.items()}


class _TextReader(PlanTree):
    """A small state machine over the physical section: tree lines, then formatted details."""

    def __init__(self, formatted: bool) -> None:
        super().__init__()
        self.formatted = formatted
        self.unparsed = 0

    def read(self, text: str) -> None:
        mode = "tree"
        stack: list[PlanNode] = []  # the open path from the root, by depth
        skip_depth: int | None = None  # under '== Initial Plan ==': AQE replaced it
        subquery = False
        detail_id: int | None = None
        for raw in text.splitlines():
            line = raw.rstrip()
            if not line.strip():
                if mode == "tree" and stack:
                    mode, stack, skip_depth = "between", [], None
                elif mode == "detail":
                    mode = "between"
                continue
            stripped = line.strip()
            if stripped.startswith("===== Subqueries") or stripped.startswith("Found ") and "WholeStageCodegen" in stripped:
                subquery = stripped.startswith("=====")
                mode = "between"
                continue
            if stripped.startswith("Subquery:") or stripped.startswith("== Subtree"):
                mode, stack, skip_depth = "tree", [], None
                continue
            if stripped == "Generated code:":
                mode = "skip"
                continue
            if mode == "skip":
                continue
            header = _DETAIL_HEADER.match(line) if self.formatted and mode != "tree" else None
            if header:
                detail_id, mode = int(header.group(1)), "detail"
                if detail_id in self.nodes:
                    attach_details(self.nodes[detail_id], {"__header__": header.group(2)})
                continue
            if mode == "detail":
                field = _DETAIL_FIELD.match(stripped)
                if detail_id not in self.nodes:
                    continue  # details of an Initial Plan node AQE replaced
                if field:
                    attach_details(self.nodes[detail_id], {field.group(1).strip(): field.group(2)})
                else:
                    self.unparsed += 1
                continue
            if mode == "between":
                mode, stack, skip_depth = "tree", [], None
            tree = _TREE_LINE.match(line)
            if tree is None:
                self.unparsed += 1
                continue
            depth = len(tree.group(1)) // 3 + (1 if tree.group(2) else 0)
            body = tree.group(3)
            if body.startswith("== ") and body.endswith(" =="):
                # AQE prints its stages' roots at the marker's own depth: skip the Initial Plan's whole block.
                skip_depth = depth if "Initial Plan" in body else None
                continue
            if skip_depth is not None and depth >= skip_depth:
                continue
            skip_depth = None
            while stack and stack[-1].depth >= depth:
                stack.pop()
            parent = stack[-1] if stack else None
            node = read_node(body, len(self.order) + 1, depth, parent.id if parent else None, self.formatted)
            node.subquery = subquery
            if node.id in self.nodes:  # formatted mode reuses an id for a shared subtree: keep one node
                node.id = max(self.nodes) + 1000
            self.add(node, parent)
            stack.append(node)


_STATS = re.compile(r"Statistics\(sizeInBytes=([\d.]+)\s*([KMGTPE]i?B|B)(?:, rowCount=([\d.E+]+))?([^)]*)\)")
_UNITS = {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4, "PiB": 1024**5, "EiB": 1024**6}


def _estimates(text: str) -> list[PlanEstimate]:
    found = []
    for line in text.splitlines():
        match = _STATS.search(line)
        if not match:
            continue
        tree = _TREE_LINE.match(line)
        name = OPERATOR_NAME.match(tree.group(3)) if tree else None
        size = float(match.group(1)) * _UNITS.get(match.group(2), 1)
        rows = float(match.group(3)) if match.group(3) else None
        found.append(PlanEstimate(
            operator=name.group(1) if name else "?",
            size_bytes=int(size) if size < 2**63 else None,  # 'EiB' estimates mean 'unknown, huge'
            row_count=int(rows) if rows is not None and rows < 2**63 else None,
            runtime="isRuntime=true" in match.group(4),
        ))
    return found


_RAPIDS_NOTE = re.compile(r"^\s*[!*@#]\s*(Exec|Expression|Partitioning|Output|Input|Scan) <")


_COMET_NOTE = re.compile(r"\s*\[COMET: ([^\]]+)\]")
"""Comet's fallback explain (spark.comet.explainFallback.enabled) tags each operator it leaves to Spark:
``+- HashAggregate [COMET: HashAggregate is not native because ...]``."""


def parse_text(text: str) -> ParsedPlan:
    # RAPIDS prints its GPU-or-not verdicts (spark.rapids.sql.explain) as '!Exec <X> cannot run on GPU ...'
    # lines; people paste them with the plan. They are evidence of CPU fallback, not tree lines.
    notes = [line.strip() for line in text.splitlines() if _RAPIDS_NOTE.match(line)]
    if notes:
        text = "\n".join(line for line in text.splitlines() if not _RAPIDS_NOTE.match(line))
    if "[COMET: " in text:  # the verdicts become notes ('!Comet: ...'); the tree lines stay, untagged
        notes += [f"!Comet: {m.group(1).strip()}" for m in _COMET_NOTE.finditer(text)]
        text = _COMET_NOTE.sub("", text)
    sections = _sections(text)
    physical = sections.get("Physical Plan", "")
    if not ("Physical Plan" in text or re.search(r"^\s*[+:]- ", physical, re.MULTILINE)
            or "WholeStageCodegen subtrees" in text[:200] or notes):
        raise BadInputError(
            f"the text does not look like a Spark plan (no '== Physical Plan ==' header and no '+- ' tree lines; it "
            f"starts {text[:60]!r}); paste the output of df.explain(mode=...) or EXPLAIN FORMATTED, or give the SQL"
        )
    formatted = bool(re.search(r"^\(\d+\) \S", physical, re.MULTILINE))
    codegen = text.lstrip().startswith("Found ") and "WholeStageCodegen subtrees" in text[:200]
    reader = _TextReader(formatted)
    reader.read(physical)
    nodes = reader.finish()
    if codegen and not nodes and not notes:
        raise BadInputError(
            "this EXPLAIN CODEGEN output has no whole-stage-codegen subtrees, so it shows no operators; run "
            "EXPLAIN FORMATTED (or df.explain('formatted')) and give that instead"
        )
    if not nodes and not notes:
        raise BadInputError(
            "no physical plan found in the text: expected Spark EXPLAIN output (a '== Physical Plan ==' section or "
            "a tree of '+- Operator' lines) or a sparkPlanInfo JSON tree; paste the output of df.explain() or "
            "EXPLAIN FORMATTED <query>"
        )
    form: PlanForm = "codegen" if codegen else "formatted" if formatted else (
        "extended" if any(k.endswith("Logical Plan") for k in sections) else "simple")
    logical = sections.get("Optimized Logical Plan", "") + "\n" + physical
    return ParsedPlan(form=form, nodes=nodes, adaptive=reader.adaptive, final_plan=reader.final_plan,
                      estimates=_estimates(logical), unparsed_lines=reader.unparsed, fallback_notes=notes[:50])
