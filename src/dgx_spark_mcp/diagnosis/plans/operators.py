"""One plan node's text read into a :class:`~.nodes.PlanNode`, and the tree the nodes are joined into.

The operator name (accelerator prefix or suffix split off), the codegen stage, and what the
planner rules look at: a join's type and build side, an exchange's partitioning, a scan's
format, filters and partition columns.  Every plan form goes through :func:`read_node` (text
line or JSON ``simpleString``) and :class:`PlanTree`, so the forms cannot read a node differently.
"""

from __future__ import annotations

import re

from .nodes import (
    DETAIL_CHARS,
    TEXT_CHARS,
    Accelerator,
    ExchangeInfo,
    JoinInfo,
    PlanNode,
    ScanInfo,
)

__all__ = ["OPERATOR_NAME", "PlanTree", "attach_details", "read_node", "split_accelerator"]

# --- operator names ---------------------------------------------------------------------

_PREFIXES: tuple[tuple[str, Accelerator], ...] = (("Gpu", "gpu"), ("Photon", "photon"), ("Comet", "comet"))
_GLUTEN_SUFFIXES = ("ExecTransformer", "Transformer")
_JOIN_TYPES = re.compile(
    r"\b(Inner|Cross|LeftOuter|RightOuter|FullOuter|LeftSemi|LeftAnti|LeftSingle|ExistenceJoin\([^)]*\))\b"
)
_BUILD = re.compile(r"\bBuild(Left|Right)\b")
_PARTITIONING = re.compile(
    r"\b(?:gpu)?(hashpartitioning|rangepartitioning|roundrobinpartitioning|singlepartition)(?:ing)?\b", re.IGNORECASE
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
OPERATOR_NAME = re.compile(r"^(Execute [\w$]+|[A-Za-z_][\w$]*)")
_CODEGEN_DETAIL = re.compile(r"\[codegen id : (\d+)\]")


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


def read_node(body: str, node_id: int, depth: int, parent: int | None, formatted: bool,
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
    match = OPERATOR_NAME.match(text)
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


_INSET = re.compile(r"\bINSET\b([^()\n]*)")


def inset_literals(text: str) -> int:
    """The most literals one ``INSET`` in ``text`` tests against: Spark turns an IN list of more than
    spark.sql.optimizer.inSetConversionThreshold values into INSET, printed as ``x INSET v1, v2, ...``."""
    if "INSET" not in text:
        return 0
    return max((m.group(1).count(", ") + 1 for m in _INSET.finditer(text)), default=0)


def _classify(node: PlanNode, text: str, full: str) -> None:
    node.literals = max(node.literals, inset_literals(full))
    op = node.operator
    if "Join" in op or op == "CartesianProduct":
        node.join = _join_info(full)
    if "Exchange" in op and not op.startswith("Reused"):
        node.exchange = _exchange_info(op, full)
    if (op.endswith("Scan") or op in ("Scan", "FileScan", "BatchScan", "FileSourceScan")) and "Reused" not in op:
        node.scan = _scan_info(text, node.details)


def attach_details(node: PlanNode, details: dict[str, str]) -> None:
    """Formatted mode lists a node's arguments below the tree: merge them and re-read the node."""
    node.literals = max(node.literals, *(inset_literals(v) for v in details.values()), 0)
    node.details.update({k: v[:DETAIL_CHARS] for k, v in details.items()})
    codegen = _CODEGEN_DETAIL.search(details.get("__header__", ""))
    node.details.pop("__header__", None)
    if codegen:
        node.codegen_id = int(codegen.group(1))
    _classify(node, node.text, node.full_text())


# --- the tree -------------------------------------------------------------------------------


class PlanTree:
    """The nodes read so far, joined parent to child; notes an AdaptiveSparkPlan root and its isFinalPlan."""

    def __init__(self) -> None:
        self.nodes: dict[int, PlanNode] = {}
        self.order: list[int] = []
        self.final_plan: bool | None = None
        self.adaptive = False

    def add(self, node: PlanNode, parent: PlanNode | None) -> None:
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

