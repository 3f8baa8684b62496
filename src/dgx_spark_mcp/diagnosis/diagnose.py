"""diagnose_log: a failing job's log in, findings with causes, evidence and fixes out.

The pipeline: check the path (allowed roots, no devices, size limit) or take pasted text;
look at the first lines to tell the kind (and refuse binary data); answer from the context
store when this content was diagnosed before; otherwise stream the log into records
(:mod:`.log_reader`), classify each record's innermost cause with the signatures
(:mod:`.signatures`), group repeats by message template (Drain3), and turn each group into a
finding whose fix is sized to the hardware when one is given.  Event logs go through
:func:`.eventlog_analysis.analyze_event_log`, and its task failures become findings here.
"""

from __future__ import annotations

import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from ..errors import BadInputError, CouldNotDoError
from ..files import allowed_path, looks_binary, max_file_bytes
from ..optimizers.models import ConfigChange, DeployMode, ExecutorPlan, Workload
from ..optimizers.sizes import spark_size
from ..settings import Settings
from .failure_text import first_line, message_key
from .findings import DiagnosisFinding, Evidence, Fix, Severity
from .codecs import Codec, LogLines
from .log_reader import ParallelScan, ReadStats, Record, read_records, text_blocks, workers_for
from .logkind import LogKind, detect_kind
from .signatures import ConfigAdvice, Signature, categories, signatures

__all__ = ["DEFAULT_LIMIT", "DiagnoseResult", "Unreadable", "diagnose_log"]

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 20
MAX_LIMIT = 1000
HEAD_LINES = 300
MAX_GROUPS = 2_000
"""Distinct (signature, template) groups kept; further distinct messages are only counted."""
EVIDENCE_LINES = 8
RESULT_VERSION = 1
MAX_EVIDENCE = 6
"""Pieces of evidence kept per finding when the same rule matched in several places."""
HASH_BESIDE_SCAN_BYTES = 64 * 1024**2
"""From this size a plain log is hashed for the context store while it is scanned, not before."""
"""Part of the store key: bump it when the analysis changes, so old stored results are not served."""

_SEVERITY_ORDER = {"critical": 0, "error": 1, "warning": 2, "info": 3}
_DRIVER_THREADS = ("main", "dag-scheduler", "broadcast-exchange", "driver-")
_TASK_MARKERS = ("Lost task", "Exception in task", "(TID ", "in stage ")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?\s*$", re.IGNORECASE)
_UNIT_MIB = {"": 1 / 1024**2, "k": 1 / 1024, "m": 1, "g": 1024, "t": 1024**2, "p": 1024**3}


class Unreadable(BaseModel):
    """What could not be read as it was written; the findings come from the rest."""

    non_utf8_lines: int = Field(description="Lines read in detail that held bytes that are not UTF-8 (replaced by U+FFFD).")
    oversized_lines: int = Field(description="Lines above 128 MiB, skipped.")
    last_line_cut: bool = Field(description="The file stops in the middle of a line.")
    stream_complete: bool = Field(description="False when a compressed stream stops inside a frame (truncated file).")
    problem: str | None = Field(default=None, description="Why decoding stopped early, when it did.")


class DiagnoseResult(BaseModel):
    """A log, read and explained: findings with the most likely root cause first."""

    source: str = Field(description="The path read, or '<text>' for pasted text.")
    kind: str = Field(description="spark_driver, spark_executor, spark_event_log, airflow, airflow3_json or text.")
    kind_detected: bool = Field(description="True when the kind was detected from the content, False when given.")
    codec: str = Field(description="Compression the file was read through (none, gzip, zstd, ...).")
    bytes_read: int = Field(description="Decompressed bytes.")
    lines_read: int
    unreadable: Unreadable
    nested_spark_lines: int = Field(description="Lines of a spark-submit log nested in an Airflow log (diagnosed too).")
    findings: list[DiagnosisFinding] = Field(description="Most likely root cause first; cut to the limit.")
    findings_total: int
    hardware: str | None = Field(description="What the fixes were sized for, when hardware was given.")
    content_hash: str = Field(description="BLAKE3 of the content: the key of the context store.")
    from_store: bool = Field(description="True when this result was served from the context store (same content asked before).")
    notes: list[str]


@dataclass
class _Group:
    signature: Signature | None
    category: str
    first_line: int
    last_line: int
    cause: tuple[int, str]
    header: tuple[int, str]
    groups: dict[str, str | None]
    nested: bool
    python: tuple[tuple[int, str] | None, tuple[int, str] | None]
    """A Python UDF's last traceback frame and its error line."""
    wrappers: dict[str, tuple[int, str]] = field(default_factory=dict)
    severity: Severity = "info"
    occurrences: int = 1
    cluster_id: int | None = None


def _miner() -> Any:
    """A Drain3 template miner configured in code: its default would read drain3.ini from the current directory."""
    from drain3 import TemplateMiner
    from drain3.template_miner_config import TemplateMinerConfig

    config = TemplateMinerConfig()
    config.profiling_enabled = False
    config.drain_sim_th = 0.4  # Drain3's published defaults (log-signatures.md section 6)
    config.drain_depth = 4
    config.drain_max_clusters = MAX_GROUPS
    return TemplateMiner(persistence_handler=None, config=config)


def _on_driver(record: Record, kind: LogKind) -> bool:
    thread = record.thread or ""
    header = record.lines[0] if record.lines else ""
    if thread.startswith(_DRIVER_THREADS) or 'in thread "main"' in header or "broadcast-exchange" in header:
        return True
    return kind is LogKind.SPARK_DRIVER and not any(m in header for m in _TASK_MARKERS)


@dataclass
class _Classified:
    signature: Signature | None
    category: str
    match_groups: dict[str, str | None]
    cause: tuple[int, str]
    wrappers: list[tuple[str, int, str]]
    severity: Severity = "info"
    """Of an unclassified error: error inside a job abort, info otherwise."""


def _classify(record: Record, kind: LogKind) -> _Classified | None:
    """The innermost cause in the record's chain that a signature knows, with the wrappers around it."""
    registry = signatures()
    matcher = registry.matcher
    chain = record.chain()
    # Most records of a big log are WARN lines no signature knows: one search each rules them out.
    candidates = [(n, text) for n, text in chain if matcher.may_match(text)]
    wrappers = [(s.id, n, text) for n, text in candidates for s in matcher.wrappers_in(text)]
    found = None
    for n, text in reversed(candidates):  # innermost first; an outer cause wins only with a stronger signature
        if (hit := matcher.match(text, wrappers=False)) and (found is None or hit[0].priority < found[0][0].priority):
            found = (hit, (n, text))
    if found is None and len(record.lines) > len(chain):
        # Structured tracebacks (Airflow 3 JSON) hold the cause outside the chain's line shapes.
        if hit := matcher.match(record.text(), wrappers=False):
            found = (hit, (record.line_no, record.lines[0]))
    if found is None and wrappers:
        rule_id, n, text = wrappers[-1]
        signature = registry.by_id(rule_id)
        if signature.category == "job_aborted" and (chain[-1][0], chain[-1][1]) != (n, text):
            # A task exception no signature knows, inside a job abort: the task failure is the cause.
            return _Classified(None, "task_failure", {}, chain[-1], wrappers, "error")
        return _Classified(signature, signature.category, {}, (n, text), wrappers)
    if found is None:
        if record.level in ("ERROR", "FATAL") and not kind.airflow and any("Exception" in t or "Error" in t for _, t in chain):
            return _Classified(None, "task_failure", {}, chain[-1], wrappers)
        return None
    (signature, match), cause = found
    category = signature.category
    if signature.driver_category and _on_driver(record, kind):
        category = signature.driver_category
    return _Classified(signature, category, match.groupdict(), cause, wrappers)


class _Findings:
    """Classified records grouped by signature and message template, in bounded memory."""

    def __init__(self, kind: LogKind) -> None:
        self.kind = kind
        self.groups: dict[tuple[str, str, int], _Group] = {}
        self.dropped = 0
        self._miner: Any = None

    def _cluster(self, text: str) -> int:
        """The Drain3 cluster of a cause message: repeats that differ only in values share one."""
        if self._miner is None:
            self._miner = _miner()
        return int(self._miner.add_log_message(first_line(text, 2_000))["cluster_id"])

    def add(self, record: Record) -> None:
        found = _classify(record, self.kind)
        if found is None:
            return
        rule_id = found.signature.id if found.signature else "UNCLASSIFIED_ERROR"
        # An Airflow log is one task's attempt: one finding per signature, however it was worded.
        cluster = 0 if self.kind.airflow and found.signature is not None else self._cluster(found.cause[1])
        key = (rule_id, found.category, cluster)
        group = self.groups.get(key)
        if group is not None:
            group.occurrences += 1
            group.last_line = record.line_no
            return
        if len(self.groups) >= MAX_GROUPS:
            self.dropped += 1
            return
        wrappers = {}
        for wrapper_id, n, text in found.wrappers:
            wrappers.setdefault(wrapper_id, (n, text))
        self.groups[key] = _Group(
            signature=found.signature, category=found.category, first_line=record.line_no, last_line=record.line_no,
            cause=found.cause, header=(record.line_no, record.lines[0]), groups=found.match_groups,
            nested=record.nested, python=record.python_error() if found.category == "python_udf_error" else (None, None),
            wrappers=wrappers, cluster_id=cluster, severity=found.severity,
        )

    def template(self, group: _Group) -> str | None:
        if self._miner is None or group.cluster_id is None:
            return None
        cluster = self._miner.drain.id_to_cluster.get(group.cluster_id)
        return cluster.get_template() if cluster is not None else None


# ---- fixes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Sizing:
    label: str
    plan: ExecutorPlan


def _sizing(hardware: str | dict[str, Any] | None) -> _Sizing | None:
    if hardware is None:
        return None
    from ..optimizers.sizing import size_cpu
    from ..optimizers.target import resolve_target

    target = resolve_target(hardware)
    plan = size_cpu(target.snapshot, 1, Workload.ETL, DeployMode.STANDALONE)
    return _Sizing(label=target.label, plan=plan)


def _mib(text: str) -> float | None:
    match = _SIZE.match(text)
    if match is None:
        return None
    return float(match.group(1)) * _UNIT_MIB[match.group(2).lower()]


def _scaled(value: str, factor: float) -> str:
    """``value`` times ``factor``, written the way Spark reads the key: seconds, a count or a size."""
    plain = value.strip()
    if re.fullmatch(r"\d+", plain):
        return str(max(1, int(int(plain) * factor)))
    if re.fullmatch(r"\d+s", plain):
        return f"{max(1, int(int(plain[:-1]) * factor))}s"
    mib = _mib(plain)
    return spark_size(mib * factor) if mib is not None else plain


def _fit_note(sizing: _Sizing) -> str:
    p = sizing.plan
    return (f"; {p.executors_per_node} executor(s) x {spark_size(p.heap_mib)} heap + {spark_size(p.overhead_mib)} overhead "
            f"fit this node's {p.node_memory_mib / 1024:.0f} GiB ({sizing.label})")


def _change(advice: ConfigAdvice, groups: dict[str, str | None], sizing: _Sizing | None) -> ConfigChange:
    current = groups.get(advice.current_group) if advice.current_group else None
    base = current or advice.default
    reason = advice.reason
    if advice.rule in ("double", "half"):
        recommended = _scaled(base, 2 if advice.rule == "double" else 0.5)
    elif advice.rule.startswith("hardware:"):
        if sizing is None:
            recommended = _scaled(base, 2)
            reason += "; give hardware to size it to the machine"
        else:
            plan = sizing.plan
            wanted = {"hardware:heap": plan.heap_mib, "hardware:driver": plan.heap_mib,
                      "hardware:overhead": plan.overhead_mib,
                      # as optimize_spark_config sizes it: half the driver heap this machine gets
                      "hardware:max_result": _driver_result_mib(plan)}[advice.rule]
            floor = 2 * (_mib(base) or 0)  # never recommend less than doubling what failed
            recommended = spark_size(max(wanted, floor))
            reason += _fit_note(sizing)
    else:
        recommended = advice.rule
    if current:
        reason = f"{reason} (the log shows {current})"
    return ConfigChange(key=advice.key, current_value=current, recommended_value=recommended, reason=reason,
                        reference=advice.reference)


def _driver_result_mib(plan: ExecutorPlan) -> int:
    from ..optimizers.sizing import constants

    c = constants()
    driver_mib = min(c.driver_memory_gib.value * 1024, max(1024, plan.usable_memory_mib // 2))
    return int(driver_mib * c.max_result_fraction.value)


def _fix(signature: Signature, category: str, groups: dict[str, str | None], sizing: _Sizing | None) -> Fix:
    advice = signature.driver_changes if category == signature.driver_category else signature.fix.changes
    return Fix(summary=signature.fix.summary, changes=[_change(a, groups, sizing) for a in advice])


# ---- findings ----------------------------------------------------------------------------


def _finding(group: _Group, template: str | None, source: str | None, sizing: _Sizing | None) -> DiagnosisFinding:
    signature = group.signature
    cause_line, cause_text = group.cause
    lines, numbers = [group.header[1]], [group.header[0]]
    if cause_line != group.header[0] or cause_text != group.header[1]:
        lines.append(cause_text)
        numbers.append(cause_line)
    said = first_line(cause_text, 400)
    frame, error = group.python
    for item in (frame, error):
        if item is not None:
            numbers.append(item[0])
            lines.append(item[1])
    if error is not None:
        said = first_line(error[1], 400)
    if frame is not None:
        said = f"{said} (raised at {frame[1]})"
    evidence = [Evidence(
        file=source, line_numbers=numbers, lines=[first_line(t, 1_000) for t in lines][:EVIDENCE_LINES],
        occurrences=group.occurrences, first_line=group.first_line, last_line=group.last_line, template=template,
        role="cause",
    )]
    for n, text in group.wrappers.values():
        if n != cause_line:
            evidence.append(Evidence(file=source, line_numbers=[n], lines=[first_line(text, 1_000)], role="wrapper"))
    where = " (in the nested spark-submit log)" if group.nested else ""
    if signature is None:
        return DiagnosisFinding(
            category=group.category, rule_id="UNCLASSIFIED_ERROR", severity=group.severity,
            title="Unrecognised error", root_cause=f"An error no signature recognises{where}: {said}", evidence=evidence,
        )
    return DiagnosisFinding(
        category=group.category, rule_id=signature.id, severity=signature.severity, title=signature.title,
        root_cause=f"{signature.root_cause} Seen{where}: {said}", evidence=evidence,
        fix=_fix(signature, group.category, group.groups, sizing),
    )


def _rank(findings: list[tuple[int, int, DiagnosisFinding]]) -> list[DiagnosisFinding]:
    """Most likely root cause first; wrappers (job aborted, Py4J, Airflow task failed) become info next to a cause."""
    registry = signatures()
    wrapper_ids = {s.id for s in registry.signatures if s.wrapper}
    has_cause = any(f.rule_id not in wrapper_ids and f.severity in ("error", "critical") for _, _, f in findings)
    if has_cause:
        findings = [(p, o, f.model_copy(update={"severity": "info"}) if f.rule_id in wrapper_ids else f)
                    for p, o, f in findings]
    findings.sort(key=lambda item: (_SEVERITY_ORDER[item[2].severity], item[0], item[1]))
    return _merge_same_rule([f for _, _, f in findings])


def _merge_same_rule(findings: list[DiagnosisFinding]) -> list[DiagnosisFinding]:
    """One finding per rule: the same error seen as a log line and again inside a wrapper's
    stack trace (Py4J, job aborted) is one cause with two pieces of evidence."""
    merged: dict[tuple[str, str], DiagnosisFinding] = {}
    for finding in findings:
        key = (finding.rule_id, finding.category)
        first = merged.get(key)
        if first is None:
            merged[key] = finding.model_copy(update={"evidence": list(finding.evidence)})
        else:
            first.evidence.extend(finding.evidence[: max(0, MAX_EVIDENCE - len(first.evidence))])
    return list(merged.values())


def _event_log_findings(path: Path, settings: Settings, limit: int, sizing: _Sizing | None) -> tuple[list[DiagnosisFinding], Any]:
    from .eventlog_analysis import analyze_event_log

    analysis = analyze_event_log(path, settings, limit=MAX_LIMIT)
    registry = signatures()
    vocabulary = categories().names()
    ranked: list[tuple[int, int, DiagnosisFinding]] = []
    for order, failure in enumerate(analysis.task_failures):
        said = f"{failure.error_class}: {failure.message}" if failure.error_class else failure.message
        hit = registry.match(said, wrappers=False)
        signature = hit[0] if hit and hit[0].category in (failure.category, "executor_oom") else None
        severity = "info" if failure.reason == "TaskKilled" else "error"
        evidence = [Evidence(file=str(path), lines=[first_line(said, 1_000)], occurrences=failure.count,
                             template=message_key(first_line(said)))]
        stages = ", ".join(map(str, failure.stage_ids[:10]))
        ranked.append((signature.priority if signature else 80, order, DiagnosisFinding(
            category=failure.category, rule_id=signature.id if signature else f"EVENTLOG_{failure.reason.upper()}",
            severity=severity, title=signature.title if signature else f"Task failures: {failure.reason}",
            root_cause=(f"{signature.root_cause if signature else 'Tasks failed.'} {failure.count} task failure(s) "
                        f"({failure.reason}) in stage(s) {stages}: {first_line(said, 400)}"),
            evidence=evidence, fix=_fix(signature, failure.category, {}, sizing) if signature else None,
        )))
    # Killed tasks (info) do not cover a category: the job's own failure message may name the real cause.
    covered = {f.category for _, _, f in ranked if f.severity in ("error", "critical")}
    for order, finding in enumerate(analysis.findings):
        hit = registry.match(finding.message, wrappers=False) if finding.category == "job_aborted" else None
        if hit is not None and hit[0].category not in covered:
            # The job's failure message quotes the cause (maxResultSize is a job-level abort, not a task failure).
            signature = hit[0]
            covered.add(signature.category)
            ranked.append((signature.priority, order, DiagnosisFinding(
                category=signature.category, rule_id=signature.id, severity=signature.severity, title=signature.title,
                root_cause=f"{signature.root_cause} {first_line(finding.message, 400)}",
                evidence=[Evidence(file=str(path), lines=[first_line(finding.message, 1_000)])],
                fix=_fix(signature, signature.category, hit[1].groupdict(), sizing),
            )))
        if finding.category not in vocabulary or finding.category in covered:
            continue
        priority = registry.by_id("JOB_ABORTED").priority if finding.category == "job_aborted" else 70
        ranked.append((priority, len(ranked) + order, DiagnosisFinding(
            category=finding.category, rule_id=finding.rule_id, severity=finding.severity,
            title=finding.rule_id.replace("_", " ").capitalize(), root_cause=finding.message,
            evidence=[Evidence(file=str(path), lines=[first_line(finding.message, 1_000)], role="context")],
        )))
    ranked += [(90, len(ranked) + i, f) for i, f in enumerate(_event_log_plan_findings(analysis, path, covered))]
    return _rank(ranked), analysis


def _pasted_event_log_findings(data: bytes, settings: Settings, limit: int,
                               sizing: _Sizing | None) -> tuple[list[DiagnosisFinding], Any]:
    """Pasted event-log lines go through the same file reader: written to a private temporary
    file under the data dir, read with that directory as the only allowed root, then deleted."""
    import tempfile

    settings.home.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pasted-eventlog-", dir=settings.home) as folder:
        path = Path(folder) / "eventlog"
        path.write_bytes(data)
        private = settings.model_copy(update={"allowed_roots": [Path(folder).resolve()]})
        findings, analysis = _event_log_findings(path, private, limit, sizing)
    for finding in findings:
        for evidence in finding.evidence:
            evidence.file = None  # the temporary file is gone; the evidence is the pasted text
    return findings, analysis


def _event_log_plan_findings(analysis: Any, path: Path, covered: set[str]) -> list[DiagnosisFinding]:
    """What the SQL executions' final plans show (a Python UDF, a cartesian product, ...), once per category.

    They rank after every failure: a plan shape explains slowness, not why a job failed.
    """
    from ..errors import BadInputError
    from .plan_findings import find_plan_issues
    from .plan_parser import parse_plan

    by_category: dict[str, DiagnosisFinding] = {}
    for sql in analysis.sql:
        if not sql.plan.strip():
            continue
        try:
            plan = parse_plan(sql.plan)
        except BadInputError:
            continue  # an operator tree cut short is not a plan to judge
        for finding in find_plan_issues(plan, str(path)):
            if finding.category in covered:
                continue
            seen = by_category.get(finding.category)
            if seen is None:
                finding.root_cause = f"SQL execution {sql.execution_id}: {finding.root_cause}"
                by_category[finding.category] = finding
            elif seen.evidence:
                seen.evidence[0].occurrences += 1
    return list(by_category.values())


# ---- entry point -------------------------------------------------------------------------


def _head(blocks: Any) -> list[bytes]:
    lines: list[bytes] = []
    for buf, start, end in blocks:
        lines.extend(buf[start:end].split(b"\n"))
        if len(lines) >= HEAD_LINES:
            break
    return lines[:HEAD_LINES]


def _refuse_binary(head: list[bytes], name: str) -> None:
    sample = b"\n".join(head)[: 1 << 16]
    if looks_binary(sample):
        raise BadInputError(
            f"{name} is binary data, not a text log (NUL or control bytes in its first {len(sample)} bytes); give a "
            "Spark or Airflow log (plain, .gz or .zst), or a Spark event log"
        )


def _kind(given: str | None, head: list[bytes]) -> tuple[LogKind, bool]:
    if given is None:
        return detect_kind([line.decode("utf-8", "replace") for line in head]), True
    try:
        return LogKind(given), False
    except ValueError:
        raise BadInputError(
            f"kind {given!r} is not known; use one of {', '.join(k.value for k in LogKind)} or omit it to detect the kind"
        ) from None


@dataclass
class _Input:
    """What was asked about: a file (with its reader), a rolling event-log directory, or pasted bytes."""

    label: str
    path: Path | None = None
    reader: LogLines | None = None
    data: bytes | None = None


def _open_input(source: str | Path, settings: Settings, text: str | None) -> _Input:
    if text is not None:
        data = text.encode("utf-8", "surrogateescape")
        if len(data) > max_file_bytes(settings):
            raise BadInputError(f"the pasted text is {len(data)} bytes, above the {settings.max_file_mib} MiB limit; "
                                "give the log's path, or set DGX_SPARK_MCP_MAX_FILE_MIB")
        return _Input(label="<text>", data=data)
    path = allowed_path(source, settings, directory_ok=True)
    if path.is_dir():
        if not path.name.startswith("eventlog_v2_"):
            raise BadInputError(
                f"path {str(source)!r} is a directory; give a log file inside it (only a rolling eventlog_v2_<app-id> "
                "event-log directory is read as a whole)"
            )
        return _Input(label=str(path), path=path)
    return _Input(label=str(path), path=path, reader=LogLines(path))


def _store_key(given: _Input) -> str:
    from . import context_store

    if given.reader is not None:
        return context_store.content_hash(given.path)
    if given.data is not None:
        return context_store.content_hash(None, given.data)
    assert given.path is not None  # a rolling event-log directory: its files' names, sizes and times stand for it
    listing = sorted((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in given.path.iterdir() if f.is_file())
    return context_store.content_hash(None, repr((given.label, listing)).encode())


def _served(stored: str, label: str, pasted: bool = False) -> DiagnoseResult:
    """A stored result, pointed at this path (the same content may have been asked about under
    another name, or pasted: then the evidence names no file)."""
    result = DiagnoseResult.model_validate_json(stored)
    for finding in result.findings:
        for evidence in finding.evidence:
            if evidence.file is not None and evidence.file == result.source:
                evidence.file = None if pasted else label
    return result.model_copy(update={
        "source": label, "from_store": True,
        "notes": [*result.notes, "served from the context store: this content was diagnosed before"],
    })


def _read_text_log(given: _Input, log_kind: LogKind, scan: ParallelScan | None, sizing: _Sizing | None,
                   stats: ReadStats, notes: list[str]) -> tuple[list[DiagnosisFinding], Unreadable, str, int]:
    """Findings of a Spark/Airflow/text log, with what could not be read, the codec and the bytes read."""
    grouped = _Findings(log_kind)
    reader = given.reader
    blocks = reader.blocks() if reader is not None else text_blocks(given.data or b"")
    for record in scan.records(stats) if scan is not None else read_records(blocks, log_kind, stats):
        grouped.add(record)
    unreadable = Unreadable(non_utf8_lines=stats.non_utf8_lines, oversized_lines=0, last_line_cut=False,
                            stream_complete=True)
    codec, bytes_read = "none", len(given.data or b"")
    if reader is not None:
        codec = reader.stats.codec.value
        bytes_read = reader.stats.compressed_bytes if scan is not None else reader.stats.decompressed_bytes
        unreadable = Unreadable(
            non_utf8_lines=stats.non_utf8_lines, oversized_lines=reader.oversized_lines,
            last_line_cut=reader.unterminated_last_line, stream_complete=reader.stats.complete,
            problem=reader.stats.problem,
        )
    source = None if given.path is None else given.label
    ranked = [(g.signature.priority if g.signature else 99, g.first_line, _finding(g, grouped.template(g), source, sizing))
              for g in grouped.groups.values()]
    if grouped.dropped:
        notes.append(f"{grouped.dropped} occurrence(s) of further distinct messages were counted but not grouped "
                     f"(over {MAX_GROUPS} groups)")
    return _rank(ranked), unreadable, codec, bytes_read


def diagnose_log(
    source: str | Path,
    settings: Settings,
    *,
    text: str | None = None,
    hardware: str | dict[str, Any] | None = None,
    limit: int = DEFAULT_LIMIT,
    kind: str | None = None,
) -> DiagnoseResult:
    """Diagnose the log at ``source`` (a path under the allowed roots), or the pasted ``text`` (source ignored)."""
    from . import context_store

    if not 1 <= limit <= MAX_LIMIT:
        raise BadInputError(f"limit {limit} is out of range; give 1 to {MAX_LIMIT} findings (default {DEFAULT_LIMIT})")
    given = _open_input(source, settings, text)
    if given.path is not None and given.reader is None:
        log_kind, detected = LogKind.SPARK_EVENT_LOG, kind is None
    else:
        # The head is read through its own LogLines: a reader's counters add up over every pass.
        head = _head(LogLines(given.path).blocks() if given.path else text_blocks(given.data or b""))
        _refuse_binary(head, given.label)
        log_kind, detected = _kind(kind, head)

    scan = None
    if given.reader is not None and given.reader.stats.codec is Codec.PLAIN and log_kind.spark:
        size = given.reader.stats.compressed_bytes
        if workers := workers_for(size):
            scan = ParallelScan(given.reader.path, size, log_kind, workers)  # scans while this process hashes
    options = context_store.options_key(kind=kind, hardware=hardware, limit=limit, version=RESULT_VERSION)
    hashing = None
    if scan is None and given.reader is not None and given.reader.stats.compressed_bytes >= HASH_BESIDE_SCAN_BYTES:
        # A big file is hashed in a thread while this one scans it (blake3 releases the GIL):
        # the first answer costs max(hash, scan) instead of their sum; a repeated one is
        # recognised after the scan instead of before it.
        hashing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="content-hash")
        pending = hashing.submit(_store_key, given)
    else:
        key = _store_key(given)
        stored = _load_stored(settings, key, options)
        if stored is not None:
            if scan is not None:
                scan.cancel()
            return _served(stored, given.label, pasted=given.path is None)

    sizing = _sizing(hardware)
    notes: list[str] = []
    stats = ReadStats()
    if log_kind is LogKind.SPARK_EVENT_LOG:
        if given.path is None:
            findings, analysis = _pasted_event_log_findings(given.data or b"", settings, limit, sizing)
        else:
            findings, analysis = _event_log_findings(given.path, settings, limit, sizing)
        reading = analysis.reading
        stats.lines, codec, bytes_read = reading.lines, ",".join(sorted(set(reading.codecs))), reading.decompressed_bytes
        unreadable = Unreadable(non_utf8_lines=0, oversized_lines=reading.oversized_lines, last_line_cut=reading.last_line_cut,
                                stream_complete=reading.stream_complete)
        if reading.malformed_lines:
            notes.append(f"{reading.malformed_lines} event-log line(s) were not readable events and were skipped")
    else:
        findings, unreadable, codec, bytes_read = _read_text_log(given, log_kind, scan, sizing, stats, notes)
    if hashing is not None:
        key = pending.result()
        hashing.shutdown()
        stored = _load_stored(settings, key, options)
        if stored is not None:
            return _served(stored, given.label, pasted=given.path is None)
    notes += _reading_notes(stats, unreadable, bytes_read, sizing)
    if not any(_SEVERITY_ORDER[f.severity] <= _SEVERITY_ORDER["warning"] for f in findings):
        notes.append("no finding of severity warning or above: nothing in this log points to a failure")
    result = DiagnoseResult(
        source=given.label, kind=log_kind.value, kind_detected=detected, codec=codec, bytes_read=bytes_read,
        lines_read=stats.lines, unreadable=unreadable, nested_spark_lines=stats.nested_spark_lines,
        findings=findings[:limit], findings_total=len(findings), hardware=sizing.label if sizing else None,
        content_hash=key, from_store=False, notes=notes,
    )
    try:
        context_store.save_result(settings, key, options, given.label, log_kind.value, result.model_dump_json(), findings)
    except CouldNotDoError as exc:
        # The diagnosis stands without the store (as analyze_query_plan's does): only the instant repeat is lost.
        log.warning("diagnosis of %s not kept in the context store: %s", given.label, exc)
        result.notes.append(f"the result could not be kept in the context store ({exc}); asking again will diagnose anew")
    return result


def _load_stored(settings: Settings, key: str, options: str) -> str | None:
    """The stored result for this content, or None, also when the store cannot be read: the log is then diagnosed anew."""
    from . import context_store

    try:
        return context_store.load_result(settings, key, options)
    except CouldNotDoError as exc:
        log.warning("context store not readable, diagnosing anew: %s", exc)
        return None


def _reading_notes(stats: ReadStats, unreadable: Unreadable, bytes_read: int, sizing: _Sizing | None) -> list[str]:
    notes = []
    if bytes_read == 0:
        notes.append("the log is empty")
    if unreadable.non_utf8_lines:
        notes.append(f"{unreadable.non_utf8_lines} line(s) held bytes that are not UTF-8; they were replaced by U+FFFD "
                     "in the evidence")
    if not unreadable.stream_complete:
        notes.append(f"the compressed stream is truncated ({unreadable.problem}); findings come from the part that was read")
    if unreadable.last_line_cut:
        notes.append("the log stops in the middle of a line (truncated or still being written)")
    if unreadable.oversized_lines:
        notes.append(f"{unreadable.oversized_lines} line(s) above 128 MiB were skipped")
    if stats.nested_spark_lines:
        notes.append(f"the Airflow log carries a nested spark-submit log ({stats.nested_spark_lines} lines); it was "
                     "diagnosed as a Spark log too")
    if stats.long_records:
        notes.append(f"{stats.long_records} stack trace(s) longer than the record bound were cut")
    if sizing is None:
        notes.append("fixes are not sized to a machine: give hardware (a profile name, 'this', or a node spec) to size them")
    return notes
