"""Classified records grouped by rule and message template, and each group made a finding.

Repeats of one cause that differ only in values (ids, hosts, sizes) share a Drain3 template
and become one finding with an occurrence count; memory stays bounded however long the log.
A group's finding quotes its lines as evidence (header, outer and inner exception, a Python
UDF's frame and error, the wrappers around it) and carries its signature's fix sized by
:mod:`.diagnose_fixes`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..findings.fixes import Sizing, signature_fix
from ..findings.model import DiagnosisFinding, Evidence, Fix, Severity
from ..findings.ranking import EVIDENCE_LINES, MAX_EVIDENCE, SEVERITY_ORDER
from ..findings.signatures import FallbackRule, Signature, signatures
from ..reading.failure_text import first_line, flattened_cause, quoted_at, short_class
from ..reading.log_reader import Record, Repeat
from ..reading.logkind import LogKind
from .classify import Classified, classify, signature_matcher, task_ids
from .outlines import Outline, outline_of
from .python_trace import PythonFailure, python_failure


def guarded_patterns() -> tuple[re.Pattern[str], ...]:
    """The regexes of the code that parses and classifies records (here, :mod:`.classify` and the readers): the
    shape table (:mod:`..reading.shapes`) keys records that differ only in digits alike only when none of these
    tells digits apart."""
    import sys

    from ..reading import failure_text, log_reader, logkind, record
    from . import classify, outlines

    modules = (classify, outlines, sys.modules[__name__], log_reader, logkind, record)
    found = [value for module in modules for value in vars(module).values()
             if isinstance(value, re.Pattern) and isinstance(value.pattern, str)]
    return (*found, failure_text._EXCEPTION_CLASS)  # its other patterns blank numbers for event logs


__all__ = ["MAX_GROUPS", "Group", "RecordGroups", "group_finding", "guarded_patterns"]

_NAMED_BY_EXCEPTION = frozenset({"airflow_task_failed", "airflow_dag_import_error", "airflow_task_timeout",
                                 "airflow_sigterm"})
"""Airflow findings whose traceback says more than the rule: the exception raised and where the user's code was."""
MAX_GROUPS = 2_000
"""Distinct (signature, template) groups kept; further distinct messages are only counted."""
MAX_OUTLINES = 8_192
_UNKNOWN = object()


@dataclass
class Group:
    """Records of one cause: one rule, one message template (Drain3 cluster)."""

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
    fallback: FallbackRule | None = None
    outer: tuple[int, str] | None = None
    """The outermost exception of a fallback's chain (the innermost is the cause)."""
    replaced: frozenset[int] = frozenset()
    """Lines of the first record whose bytes were not UTF-8."""
    related: list[Evidence] = field(default_factory=list)
    """Other records that logged the same error (an ERROR line before the driver died of it)."""
    also: tuple[tuple[int, str], ...] = ()
    """More lines of the first record the finding quotes: the other operators of a RAPIDS explain block."""
    failure: PythonFailure | None = None
    """An Airflow task's Python exception: its type and message, its causes and the user's own frame."""

    @property
    def rule_id(self) -> str:
        return self.signature.id if self.signature else self.fallback.id if self.fallback else "UNCLASSIFIED_ERROR"

    @property
    def priority(self) -> int:
        return self.signature.priority if self.signature else self.fallback.priority if self.fallback else 99


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


class RecordGroups:
    """Classified records grouped by signature and message template, in bounded memory."""

    def __init__(self, kind: LogKind) -> None:
        self.kind = kind
        self.airflow = kind.airflow  # read once: an enum property, asked for every repeat
        self.matcher = signature_matcher()
        self.groups: dict[tuple[str, str, int], Group] = {}
        self.dropped = 0
        self._miner: Any = None
        self._clusters: dict[str, int] = {}
        self._outlines: dict[int, Outline | object | None] = {}
        self._sinks: dict[int | tuple[int, str], Group] = {}
        """The group a shape's repeats (with digits in its cause: those with this cause text) were last counted
        into by :meth:`_count`: the next ones are counted into it at once (see :meth:`_sink`)."""

    def _cluster(self, text: str) -> int:
        """The Drain3 cluster of a cause message: repeats that differ only in values share one.

        A message seen before word for word joins the cluster it joined then, without asking
        Drain again (its tree search was a quarter of an error-heavy log's time)."""
        return self._cluster_of(first_line(text, 2_000))

    def _cluster_of(self, key: str) -> int:
        cluster = self._clusters.get(key)
        if cluster is None:
            if self._miner is None:
                self._miner = _miner()
            cluster = int(self._miner.add_log_message(key)["cluster_id"])
            if len(self._clusters) >= 4 * MAX_GROUPS:
                self._clusters.clear()  # bounded: messages that all differ (ids in them) stop being remembered
                self._sinks.clear()  # they stood for clusters remembered here
            self._clusters[key] = cluster
        return cluster

    def classify(self, record: Record) -> Classified | None:
        return classify(record, self.kind, self.matcher)

    def take(self, item: Record | Repeat) -> None:
        """Classify and add what the reader handed out; a repeat of a shape classified before is counted
        from its outline, without being decoded (but for its cause's line) or classified again."""
        if type(item) is Repeat:
            group = self._sinks.get(item.shape)
            if group is not None:
                group.occurrences += 1
                group.last_line = item.line_no
                return
            outline = self._outlines.get(item.shape, _UNKNOWN)
            if outline is None or (type(outline) is Outline and self._count(item, outline)):
                return
            record = item.record()
        else:
            record = item  # type: ignore[assignment]
        found = self.classify(record)
        self.add(record, found)
        if record.shape is not None and record.shape not in self._outlines:
            if len(self._outlines) >= MAX_OUTLINES:
                self._outlines.clear()
                self._sinks.clear()
            self._outlines[record.shape] = outline_of(record, found)

    def _count(self, repeat: Repeat, outline: Outline) -> bool:
        """What :meth:`add` does with a record of a known group: False when the repeat needs more
        (a group not made yet, a wrapper the group has not quoted yet), which :meth:`add` then does."""
        # Drain3 sees the same messages in the same order as when every record was classified.
        sink: int | tuple[int, str] = repeat.shape
        if self.airflow and outline.signature:
            cluster = 0
        elif outline.key is not None:
            cluster = self._cluster_of(outline.key)
        else:
            text = repeat.kept(outline.line)[outline.start : outline.end]
            sink = (repeat.shape, text)
            if (group := self._sinks.get(sink)) is not None:
                group.occurrences += 1
                group.last_line = repeat.line_no
                return True
            cluster = self._cluster(text)
        group = self.groups.get((outline.rule_id, outline.category, cluster))
        if group is None:
            if len(self.groups) >= MAX_GROUPS:
                self.dropped += 1
                return True
            return False
        if outline.wrappers and any(w not in group.wrappers for w in outline.wrappers):
            return False
        group.occurrences += 1
        group.last_line = repeat.line_no
        if outline.severity != group.severity and outline.rank < SEVERITY_ORDER[group.severity]:
            group.severity = outline.severity
        self._sink(sink, group)
        return True

    def _sink(self, sink: int | tuple[int, str], group: Group) -> None:
        """Count the next repeats of ``sink`` into ``group`` with no more ado: what :meth:`_count` just did
        holds for them as long as the clusters remembered here do (the sinks go when those are forgotten).
        The group stays (groups are only added to while reading), its wrappers only grow, and its severity,
        now at least the outline's, only rises; so their cluster, group, wrapper and severity checks pass alike."""
        if len(self._sinks) >= MAX_OUTLINES:
            self._sinks.clear()
        self._sinks[sink] = group

    def add(self, record: Record, found: Classified | None) -> None:
        if found is None:
            return
        rule = found.signature or found.fallback
        rule_id = rule.id if rule else "UNCLASSIFIED_ERROR"
        severity = found.severity or (rule.severity if rule else "info")
        # An Airflow log is one task's attempt: one finding per signature, however it was worded.
        cluster = 0 if self.kind.airflow and found.signature is not None else self._cluster(found.cause[1])
        key = (rule_id, found.category, cluster)
        group = self.groups.get(key)
        if group is not None:
            group.occurrences += 1
            group.last_line = record.line_no
            # A task lost in a WARN line and the job abort that quotes it again are one cause: the abort's
            # severity and its wrapper count, whichever came first.
            if SEVERITY_ORDER[severity] < SEVERITY_ORDER[group.severity]:
                group.severity = severity
            for wrapper_id, n, text in found.wrappers:
                group.wrappers.setdefault(wrapper_id, (n, text))
            if group.failure is None and found.category in _NAMED_BY_EXCEPTION:
                # The line that said it ("Process timed out") came first; the traceback naming it follows.
                group.failure = python_failure(record.line_numbers, record.lines)
            self._framed(group, record, found)
            return
        if len(self.groups) >= MAX_GROUPS:
            self.dropped += 1
            return
        group = self._new_group(record, found, cluster, severity)
        self.groups[key] = group
        self._framed(group, record, found)

    def _framed(self, group: Group, record: Record, found: Classified) -> None:
        """The frames' category (:class:`..findings.signatures.FrameCategory`) when a record of the group shows
        them: a bare message line quoted before its stack trace joins the group the trace places."""
        framed = found.signature.frame_category if found.signature is not None else None
        if framed is not None and group.category == found.signature.category and re.search(framed.frames, record.text()):  # type: ignore[union-attr]
            group.category = framed.category

    def _new_group(self, record: Record, found: Classified, cluster: int, severity: Severity) -> Group:
        wrappers = {}
        for wrapper_id, n, text in found.wrappers:
            wrappers.setdefault(wrapper_id, (n, text))
        return Group(
            signature=found.signature, category=found.category, first_line=record.line_no, last_line=record.line_no,
            cause=found.cause, header=(record.line_no, record.lines[0]), groups=found.match_groups,
            nested=record.nested, python=record.python_error() if found.category == "python_udf_error" else (None, None),
            wrappers=wrappers, cluster_id=cluster, severity=severity,
            fallback=found.fallback, outer=found.outer, replaced=frozenset(record.replaced),
            failure=python_failure(record.line_numbers, record.lines) if found.category in _NAMED_BY_EXCEPTION else None,
            also=_fallback_lines(record) if found.category == "cpu_fallback" else (),
        )

    def fold_into_driver_exceptions(self, source: str | None) -> None:
        """An ERROR line that logged the exception the driver's main thread then died of
        (``ERROR SparkContext: Error initializing SparkContext.``) is evidence of that death, not a finding of its own."""
        deaths = {g.cluster_id: g for g in self.groups.values() if g.rule_id == "DRIVER_EXCEPTION"}
        for key, group in list(self.groups.items()):
            death = deaths.get(group.cluster_id)
            if group.rule_id == "UNCLASSIFIED_ERROR" and death is not None and len(death.related) < MAX_EVIDENCE - 2:
                numbers = sorted({group.header[0], group.cause[0]})
                lines = [group.header[1]] if group.header[0] == group.cause[0] else [group.header[1], group.cause[1]]
                death.related.append(Evidence(
                    file=source, line_numbers=numbers, lines=[first_line(t, 1_000) for t in lines],
                    occurrences=group.occurrences, first_line=group.first_line, last_line=group.last_line, role="context",
                    note=_replaced_note(numbers, group.replaced),
                ))
                del self.groups[key]

    def template(self, group: Group) -> str | None:
        if self._miner is None or group.cluster_id is None:
            return None
        cluster = self._miner.drain.id_to_cluster.get(group.cluster_id)
        return cluster.get_template() if cluster is not None else None


def _fallback_lines(record: Record) -> tuple[tuple[int, str], ...]:
    """A RAPIDS explain block's lines that name an operator or expression staying on the CPU (the block is one record)."""
    return tuple((n, text.strip()) for n, text in zip(record.line_numbers, record.lines, strict=True)
                 if "cannot run on GPU" in text)


def _replaced_note(numbers: list[int], replaced: frozenset[int]) -> str | None:
    """Say so when quoted lines held bytes that are not UTF-8: the U+FFFD in them is not what the log says."""
    hit = sorted(set(numbers) & replaced)
    if not hit:
        return None
    return (f"line(s) {', '.join(map(str, hit))} held bytes that are not UTF-8; they are shown replaced by U+FFFD "
            "(the log's encoding is not UTF-8, or the file is damaged there)")


def _fallback_text(group: Group, rule: FallbackRule, where: str) -> tuple[str, str]:
    """(title, root cause) of an exception no signature knows: named by its class, with the innermost cause."""
    inner = first_line(group.cause[1], 400)
    outer = first_line(group.outer[1], 400) if group.outer else inner
    title = rule.title.format(exception=short_class(inner))
    said = outer if outer == inner else f"{outer}; innermost cause: {inner}"
    if len(first_line(group.cause[1], 10_000)) > 400 and (deepest := flattened_cause(group.cause[1])) is not None:
        said += f"; innermost: {first_line(deepest, 300)}"  # a long line that quotes its own causes, last one deepest
    stages, tasks = task_ids(group.header[1])
    task = f" (task in stage {stages[0]}, TID {tasks[0]})" if tasks else ""
    return title, f"{rule.root_cause} Seen{where}{task}: {said}"


def group_finding(group: Group, template: str | None, source: str | None, sizing: Sizing | None) -> DiagnosisFinding:
    signature = group.signature
    cause_line, cause_text = group.cause
    lines, numbers = [group.header[1]], [group.header[0]]
    for n, text in [item for item in (group.outer, group.cause) if item is not None]:
        # A line quoted already (the exception in the header, or the outer one being the innermost) is not repeated.
        if not any(n == m and text in quoted for m, quoted in zip(numbers, lines, strict=True)):
            lines.append(text)
            numbers.append(n)
    for n, text in group.also:
        if n not in numbers:
            lines.append(text)
            numbers.append(n)
    match = signature.search(cause_text) if signature is not None else None
    said = quoted_at(cause_text, match.start()) if match else first_line(cause_text, 400)
    frame, error = group.python
    for item in (frame, error):
        if item is not None:
            numbers.append(item[0])
            lines.append(item[1])
    if error is not None:
        said = first_line(error[1], 400)
    if frame is not None:
        said = f"{said} (raised at {frame[1]})"
    stages, tasks = task_ids(group.header[1])
    evidence = [Evidence(
        file=source, line_numbers=numbers, lines=[first_line(t, 1_000) for t in lines][:EVIDENCE_LINES],
        occurrences=group.occurrences, first_line=group.first_line, last_line=group.last_line, template=template,
        role="cause", stage_ids=stages, task_ids=tasks, note=_replaced_note(numbers, group.replaced),
    )]
    for n, text in group.wrappers.values():
        if n != cause_line:
            evidence.append(Evidence(file=source, line_numbers=[n], lines=[first_line(text, 1_000)], role="wrapper",
                                     note=_replaced_note([n], group.replaced)))
    evidence += group.related
    where = " (in the nested spark-submit log)" if group.nested else ""
    if signature is None:
        rule = group.fallback or signatures().fallback("UNCLASSIFIED_ERROR")
        title, root_cause = _fallback_text(group, rule, where)
        return DiagnosisFinding(category=group.category, rule_id=rule.id, severity=group.severity, title=title,
                                root_cause=root_cause, evidence=evidence,
                                fix=Fix(summary=rule.fix.summary, changes=[]))
    title, root_cause = signature.title, f"{signature.root_cause} Seen{where}: {said}"
    framed = signature.frame_category
    if framed is not None and group.category == framed.category != signature.category:
        root_cause += f". {framed.why[0].upper()}{framed.why[1:]}"
    if group.failure is not None:
        # The task's own exception names the failure; Airflow's wrapper line says only that there was one.
        title = f"{signature.title}: {group.failure.exception}"
        root_cause = (f"The task raised {group.failure.sentence()}." if group.category == "airflow_task_failed"
                      else f"{signature.root_cause} Seen{where}: {said}; it raised {group.failure.sentence()}.")
        for n, text in [group.failure.error, *([group.failure.frame] if group.failure.frame else [])]:
            if n not in evidence[0].line_numbers and len(evidence[0].lines) < EVIDENCE_LINES:
                evidence[0].line_numbers.append(n)
                evidence[0].lines.append(text)
    return DiagnosisFinding(
        category=group.category, rule_id=signature.id, severity=signature.severity, title=title,
        root_cause=root_cause, evidence=evidence,
        fix=signature_fix(signature, group.category, group.groups, sizing),
    )


