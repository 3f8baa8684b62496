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
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, Field

from ...errors import BadInputError
from ...json_depth import check_json_depth

__all__ = [
    "ExchangeInfo", "JoinInfo", "ParsedPlan", "PlanEstimate", "PlanNode", "ScanInfo", "parse_plan",
]

Accelerator = Literal["gpu", "photon", "comet", "gluten"]
PlanForm = Literal["simple", "extended", "formatted", "codegen", "json"]

TEXT_CHARS = 400
"""A node's quoted text is cut here: a 400-column scan line says what it reads; more is noise."""
DETAIL_CHARS = 1000


class JoinInfo(BaseModel):
    join_type: str | None = Field(description="Inner, LeftOuter, LeftSemi, Cross, ... as Spark prints it.")
    build_side: Literal["left", "right"] | None = Field(description="The side hashed or broadcast, when shown.")
    condition: str | None = Field(default=None, description="The join condition besides the keys, when shown.")


class ExchangeInfo(BaseModel):
    kind: Literal["shuffle", "broadcast"]
    partitioning: str | None = Field(
        description="hash, range, single, round_robin, broadcast, or None when the plan does not show it."
    )
    partitions: int | None = Field(description="Partition count the exchange writes (1 for single), when shown.")
    keys: str | None = Field(default=None, description="The partitioning expressions, when shown.")


class ScanInfo(BaseModel):
    format: str | None = Field(description="parquet, orc, csv, json, delta, ... when shown.")
    table: str | None = Field(description="The catalog table, when the scan names one.")
    location: str | None = Field(description="The file index and path(s), cut to 300 characters.")
    pushed_filters: list[str] | None = Field(description="Filters the source evaluates; None: not shown.")
    partition_filters: list[str] | None = Field(description="Partition-pruning filters; None: not shown.")
    data_filters: list[str] | None = Field(default=None, description="Filters on data columns; None: not shown.")
    read_schema: str | None = Field(description="The columns read, cut to 300 characters.")
    partitioned: bool | None = Field(
        description="True when the plan shows a partitioned table (CatalogFileIndex, PartitionCount, a partition "
        "filter, output columns that are not in the read schema); None when it cannot tell."
    )
    partition_columns: list[str] = Field(
        default_factory=list, description="Columns the scan outputs but does not read from files: partition columns."
    )


class PlanNode(BaseModel):
    id: int = Field(description="The plan's own operator id (formatted mode), else the order in the tree (1-based).")
    name: str = Field(description="The operator as printed, e.g. 'GpuShuffledHashJoin', 'Scan parquet'.")
    operator: str = Field(description="Canonical operator without accelerator prefix/suffix, e.g. 'ShuffledHashJoin'.")
    accelerator: Accelerator | None = Field(description="Which accelerator runs it; None = plain Spark on CPU.")
    text: str = Field(description="The node's line in the plan, trimmed and cut to 400 characters.")
    depth: int
    parent: int | None = Field(description="The parent node's id; None for a root.")
    children: list[int] = Field(default_factory=list)
    codegen_id: int | None = Field(default=None, description="Whole-stage codegen stage, when the plan shows one.")
    subquery: bool = Field(default=False, description="Part of a subquery plan rather than the main one.")
    details: dict[str, str] = Field(default_factory=dict, description="Formatted-mode details / JSON metadata.")
    join: JoinInfo | None = None
    exchange: ExchangeInfo | None = None
    scan: ScanInfo | None = None

    def full_text(self) -> str:
        """The line plus its details: rules look at both, since formatted mode moves arguments down."""
        return " ".join([self.text, *self.details.values()])


class PlanEstimate(BaseModel):
    """An optimizer estimate printed as ``Statistics(sizeInBytes=…, rowCount=…)`` (EXPLAIN COST, AQE stages)."""

    operator: str
    size_bytes: int | None
    row_count: int | None
    runtime: bool = Field(description="True when AQE measured it at run time (isRuntime=true).")


class ParsedPlan(BaseModel):
    form: PlanForm
    nodes: list[PlanNode]
    adaptive: bool = Field(description="An AdaptiveSparkPlan (AQE) root was seen.")
    final_plan: bool | None = Field(description="AQE isFinalPlan: True = after execution; None = not adaptive.")
    estimates: list[PlanEstimate] = Field(default_factory=list)
    unparsed_lines: int = Field(default=0, description="Lines that were neither tree nor details (kept out).")
    fallback_notes: list[str] = Field(
        default_factory=list,
        description="RAPIDS explain lines ('!Exec <X> cannot run on GPU because ...') found with the plan.",
    )


# --- operator names ---------------------------------------------------------------------

_PREFIXES: tuple[tuple[str, Accelerator], ...] = (("Gpu", "gpu"), ("Photon", "photon"), ("Comet", "comet"))
_GLUTEN_SUFFIXES = ("ExecTransformer", "Transformer")
_JOIN_TYPES = re.compile(
    r"\b(Inner|Cross|LeftOuter|RightOuter|FullOuter|LeftSemi|LeftAnti|LeftSingle|ExistenceJoin\([^)]*\))\b"
)
_BUILD = re.compile(r"\bBuild(Left|Right)\b")
_PARTITIONING = re.compile(
    r"\b(?:gpu)?(hashpartitioning|rangepartitioning|roundrobinpartitioning|singlepartition)\b", re.IGNORECASE
)


def split_accelerator(name: str) -> tuple[str, Accelerator | None]:
    """('GpuFilter') -> ('Filter', 'gpu'); ('FilterExecTransformer') -> ('Filter', 'gluten')."""
    for prefix, accel in _PREFIXES:
        if name.startswith(prefix) and len(name) > len(prefix) and name[len(prefix)].isupper():
            return name[len(prefix):], accel
    for suffix in _GLUTEN_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)], "gluten"
    return name, None


def _top_level_split(text: str, sep: str = ",") -> list[str]:
    """Split on ``sep`` outside brackets/parentheses: filter lists nest freely."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([{<":
            depth += 1
        elif ch in ")]}>" and depth:
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    tail = text[start:].strip()
    if tail:
        parts.append(tail)
    return parts


def _filter_list(value: str | None) -> list[str] | None:
    if value is None:
        return None
    value = value.strip()
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1]
    return [part for part in _top_level_split(value) if part]


_SCAN_KEYS = re.compile(
    r"(?:^|, |\s)(Batched|DataFilters|Format|Location|PartitionFilters|PushedFilters|ReadSchema|PartitionCount|"
    r"PartitionSchema|SelectedBucketsCount|RuntimeFilters|PushedAggregation|PushedGroupBy|DictionaryFilters): "
)


def _inline_fields(text: str) -> dict[str, str]:
    """``Key: value, Key: value`` pairs of a simple-mode scan line."""
    found = list(_SCAN_KEYS.finditer(text))
    fields = {}
    for i, match in enumerate(found):
        end = found[i + 1].start() if i + 1 < len(found) else len(text)
        fields[match.group(1)] = text[match.end():end].strip().rstrip(",")
    return fields


def _cut(text: str | None, limit: int = 300) -> str | None:
    return None if text is None else (text if len(text) <= limit else text[: limit - 1] + "…")


# --- one node's text ---------------------------------------------------------------------

_CODEGEN_STAR = re.compile(r"^\*(?:\((\d+)\))?\s*(?=[A-Z])")  # '*(3) Sort' (2.x+: id) or '*Sort' (2.x)
_FORMATTED_ID = re.compile(r"\s\((\d+)\)$")
_NAME = re.compile(r"^(Execute [\w$]+|[A-Za-z_][\w$]*)")
_CODEGEN_DETAIL = re.compile(r"\[codegen id : (\d+)\]")
_STATS = re.compile(r"Statistics\(sizeInBytes=([\d.]+)\s*([KMGTPE]i?B|B)(?:, rowCount=([\d.E+]+))?([^)]*)\)")
_UNITS = {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4, "PiB": 1024**5, "EiB": 1024**6}


def _partition_columns(body: str, fields: dict[str, str]) -> list[str]:
    """Output columns missing from ReadSchema: a file scan reads data columns and adds the partition values."""
    schema = fields.get("ReadSchema", "")
    # a schema or column list cut short (details are bounded) cannot be compared: say nothing
    if not (schema.startswith("struct<") and schema.endswith(">")) or not _reads_files(fields.get("Location")):
        return []
    inner = schema[len("struct<"):-1]
    read = {part.split(":", 1)[0].strip("` ").lower() for part in _top_level_split(inner)}
    output = fields.get("Output")
    if output is None:  # simple mode: 'FileScan parquet db.t[id#1,d#2] Batched: ...'
        bracket = re.search(r"\[([^\]]*)\]", body.split(" Batched:", 1)[0])
        output = bracket.group(0) if bracket else None
    if output is None or not output.rstrip().endswith("]"):
        return []
    names = [re.sub(r"#\d+L?$", "", col).strip("` ") for col in _filter_list(output) or []]
    return [n for n in names if n and n.lower() not in read and not n.startswith("_")]


def _reads_files(location: str | None) -> bool:
    return bool(location) and "FileIndex" in str(location)


def _scan_info(body: str, details: dict[str, str]) -> ScanInfo:
    fields = {**_inline_fields(body), **details}
    fmt = fields.get("Format")
    table = None
    head = re.match(r"^(?:\w+Scan|Scan)\s+([\w-]+)\s*([^\s\[(]*)", body)
    if head and head.group(1) not in ("parquet", "orc", "csv", "json", "text", "avro", "delta") and fmt is None:
        head = None
    if head:
        fmt = fmt or head.group(1)
        table = head.group(2) or None
    if table is None:
        hive = re.search(r"HiveTableRelation \[`?([\w.`]+)", body)
        table = hive.group(1).replace("`", "") if hive else None
    location = fields.get("Location")
    partition_filters = _filter_list(fields.get("PartitionFilters"))
    partition_columns = _partition_columns(body, fields)
    partitioned: bool | None = True if partition_columns else None
    if location and re.match(r"(CatalogFileIndex|PrunedInMemoryFileIndex)", location):
        partitioned = True
    if "PartitionCount" in fields or "PartitionSchema" in fields or partition_filters:
        partitioned = True
    return ScanInfo(
        format=fmt.lower() if fmt else None,
        table=table,
        location=_cut(location),
        pushed_filters=_filter_list(fields.get("PushedFilters")),
        partition_filters=partition_filters,
        data_filters=_filter_list(fields.get("DataFilters")),
        read_schema=_cut(fields.get("ReadSchema")),
        partitioned=partitioned,
        partition_columns=partition_columns,
    )


def _exchange_info(operator: str, full: str) -> ExchangeInfo:
    if "Broadcast" in operator:
        return ExchangeInfo(kind="broadcast", partitioning="broadcast", partitions=None)
    match = _PARTITIONING.search(full)
    if match is None:
        return ExchangeInfo(kind="shuffle", partitioning=None, partitions=None)
    kind = match.group(1).lower()
    if kind == "singlepartition":
        return ExchangeInfo(kind="shuffle", partitioning="single", partitions=1)
    # hashpartitioning(k#1, k#2, 200): the last top-level argument is the partition count.
    start = match.end()
    depth, end = 0, len(full)
    for i in range(start, len(full)):
        if full[i] == "(":
            depth += 1
        elif full[i] == ")":
            depth -= 1
            if depth == 0:
                end = i
                break
    args = _top_level_split(full[start + 1:end])
    partitions = int(args[-1]) if args and args[-1].isdigit() else None
    keys = ", ".join(args[:-1]) if partitions is not None else ", ".join(args)
    label = {"hashpartitioning": "hash", "rangepartitioning": "range", "roundrobinpartitioning": "round_robin"}[kind]
    return ExchangeInfo(kind="shuffle", partitioning=label, partitions=partitions, keys=_cut(keys or None, 200))


def _join_info(full: str) -> JoinInfo:
    jt = _JOIN_TYPES.search(full)
    build = _BUILD.search(full)
    cond = re.search(r"Join condition: (.+?)(?:$| Join type:)", full)
    condition = cond.group(1).strip() if cond and cond.group(1).strip() != "None" else None
    return JoinInfo(
        join_type=jt.group(1) if jt else None,
        build_side=build.group(1).lower() if build else None,  # type: ignore[arg-type]
        condition=_cut(condition, 200),
    )


def _node(body: str, node_id: int, depth: int, parent: int | None, formatted: bool,
          details: dict[str, str] | None = None, codegen: int | None = None) -> PlanNode:
    text = body.strip()
    star = _CODEGEN_STAR.match(text)
    if star:
        codegen = int(star.group(1)) if star.group(1) else codegen
        text = text[star.end():]
    elif text.startswith("* "):
        text = text[2:]
    if formatted:
        fid = _FORMATTED_ID.search(text)
        if fid:
            node_id = int(fid.group(1))
            text = text[: fid.start()].rstrip()
    match = _NAME.match(text)
    name = match.group(1) if match else text.split(" ", 1)[0]
    if name == "Scan" and formatted:  # 'Scan parquet db.t': the format belongs to the name
        name = " ".join(text.split()[:2]) if len(text.split()) > 1 else name
    operator, accel = split_accelerator(name.split(" ", 1)[0] if not name.startswith("Execute ") else name)
    details = details or {}
    full = " ".join([text, *details.values()])
    node = PlanNode(id=node_id, name=name, operator=operator, accelerator=accel, text=_cut(text, TEXT_CHARS) or "",
                    depth=depth, parent=parent, codegen_id=codegen, details=details)
    _classify(node, text, full)
    return node


def _classify(node: PlanNode, text: str, full: str) -> None:
    op = node.operator
    if "Join" in op or op == "CartesianProduct":
        node.join = _join_info(full)
    if "Exchange" in op and not op.startswith("Reused"):
        node.exchange = _exchange_info(op, full)
    if (op.endswith("Scan") or op in ("Scan", "FileScan", "BatchScan", "FileSourceScan")) and "Reused" not in op:
        node.scan = _scan_info(text, node.details)


def attach_details(node: PlanNode, details: dict[str, str]) -> None:
    """Formatted mode lists a node's arguments below the tree: merge them and re-read the node."""
    node.details.update({k: v[:DETAIL_CHARS] for k, v in details.items()})
    codegen = _CODEGEN_DETAIL.search(details.get("__header__", ""))
    node.details.pop("__header__", None)
    if codegen:
        node.codegen_id = int(codegen.group(1))
    _classify(node, node.text, node.full_text())


# --- text forms -----------------------------------------------------------------------------

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


class _TextReader:
    """A small state machine over the physical section: tree lines, then formatted details."""

    def __init__(self, formatted: bool) -> None:
        self.formatted = formatted
        self.nodes: dict[int, PlanNode] = {}
        self.order: list[int] = []
        self.unparsed = 0
        self.final_plan: bool | None = None
        self.adaptive = False

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
            node = _node(body, len(self.order) + 1, depth, parent.id if parent else None, self.formatted)
            node.subquery = subquery
            if node.id in self.nodes:  # formatted mode reuses an id for a shared subtree: keep one node
                node.id = max(self.nodes) + 1000
            self._add(node, parent)
            stack.append(node)

    def _add(self, node: PlanNode, parent: PlanNode | None) -> None:
        if node.operator == "AdaptiveSparkPlan":
            self.adaptive = True
            flag = re.search(r"isFinalPlan=(true|false)", node.text)
            if flag:
                self.final_plan = flag.group(1) == "true"
        if parent is not None:
            parent.children.append(node.id)
        self.nodes[node.id] = node
        self.order.append(node.id)

    def finish(self) -> list[PlanNode]:
        for node in self.nodes.values():
            if node.operator == "AdaptiveSparkPlan" and self.final_plan is None:
                flag = re.search(r"isFinalPlan=(true|false)", node.full_text())
                if flag:
                    self.final_plan = flag.group(1) == "true"
        return [self.nodes[i] for i in self.order]


def _estimates(text: str) -> list[PlanEstimate]:
    found = []
    for line in text.splitlines():
        match = _STATS.search(line)
        if not match:
            continue
        tree = _TREE_LINE.match(line)
        name = _NAME.match(tree.group(3)) if tree else None
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


def _parse_text(text: str) -> ParsedPlan:
    # RAPIDS prints its GPU-or-not verdicts (spark.rapids.sql.explain) as '!Exec <X> cannot run on GPU ...'
    # lines; people paste them with the plan. They are evidence of CPU fallback, not tree lines.
    notes = [line.strip() for line in text.splitlines() if _RAPIDS_NOTE.match(line)]
    if notes:
        text = "\n".join(line for line in text.splitlines() if not _RAPIDS_NOTE.match(line))
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


# --- JSON sparkPlanInfo --------------------------------------------------------------------

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


def _parse_json(data: Any) -> ParsedPlan:
    if isinstance(data, dict) and isinstance(data.get("sparkPlanInfo"), dict):
        data = data["sparkPlanInfo"]
    if not isinstance(data, dict) or "nodeName" not in data:
        raise BadInputError(
            "the JSON is not a Spark plan tree: expected a sparkPlanInfo object with nodeName, simpleString and "
            "children (or an event with a 'sparkPlanInfo' key)"
        )
    reader = _TextReader(formatted=False)
    for raw, depth, parent, codegen in _json_nodes(data):
        meta = raw.get("metadata") or {}
        details = {str(k): _detail(v) for k, v in meta.items()} if isinstance(meta, dict) else {}
        body = str(raw.get("simpleString") or raw.get("nodeName") or "?")
        node = _node(body, len(reader.order) + 1, depth, parent, False, details=details, codegen=codegen)
        node_name = str(raw.get("nodeName", "")).strip()
        if node_name and not node_name.startswith("Scan"):
            node.name = node_name
        reader._add(node, reader.nodes.get(parent) if parent else None)
    nodes = reader.finish()
    return ParsedPlan(form="json", nodes=nodes, adaptive=reader.adaptive, final_plan=reader.final_plan)


def parse_plan(text: str | dict[str, Any] | list[Any]) -> ParsedPlan:
    """Any EXPLAIN output or sparkPlanInfo JSON → :class:`ParsedPlan`; BadInputError when it is neither.

    ``text`` may also be the JSON already decoded (an MCP client decodes an argument that looks like JSON).
    """
    if isinstance(text, dict | list):
        check_json_depth(text, "the plan")
        return _parse_json(text)
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
        return _parse_json(data)
    return _parse_text(stripped)
