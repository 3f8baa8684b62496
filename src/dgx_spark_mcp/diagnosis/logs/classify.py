"""Which rule explains a log record: the innermost cause a signature knows, or a fallback.

A record's chain of exceptions is scanned with the compiled signatures (:mod:`.signatures`):
the innermost cause a signature knows wins, with the wrappers (job aborted, Py4J, Airflow task
failed) around it.  An exception no signature knows goes to the registry's fallbacks: a task
that failed with it (TASK_EXCEPTION), a driver whose main thread died of it (DRIVER_EXCEPTION),
or an error line worth a look (UNCLASSIFIED_ERROR).  The worker processes of a parallel scan
classify with :func:`prepare`; :mod:`.diagnose_groups` groups what comes out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from ..findings.model import Severity
from ..findings.signatures import FallbackRule, Signature, SignatureMatcher, signatures
from ..reading.failure_text import exception_at
from ..reading.log_reader import UNCAUGHT, Record
from ..reading.logkind import LogKind

__all__ = ["Classified", "Prepared", "classify", "prepare", "signature_matcher", "task_ids"]

_DRIVER_THREADS = ("main", "dag-scheduler", "broadcast-exchange", "driver-")
_TASK_MARKERS = ("Lost task", "Exception in task", "(TID ", "in stage ")
_TASK = re.compile(r"(?:Exception in task|Lost task) [\d.]+ in stage (?P<stage>\d+)(?:\.\d+)? \(TID (?P<tid>\d+)")
"""A failed task's header: ``ERROR Executor: Exception in task 0.0 in stage 1.0 (TID 1)``, ``Lost task 7.0 ...``."""
_ABORTED_TASK = re.compile(r"most recent failure: Lost task \S+ in stage \S+ \(TID \d+[^)]*\)(?: \([^)]*\))?: (?P<inner>\S.*)")
"""The task failure a job abort quotes: Spark 2 ``(TID 25, host, executor 1): X``, Spark 3 ``(TID 95) (host executor 3): X``."""
_MAIN_THREAD = UNCAUGHT + 'main"'


@cache
def signature_matcher() -> SignatureMatcher:
    """The compiled signatures, in a plain module-level cache: reading ``signatures().matcher``
    (a pydantic private attribute) for every record of an error-heavy log cost a tenth of its time."""
    return signatures().matcher


def _on_driver(record: Record, kind: LogKind) -> bool:
    thread = record.thread or ""
    header = record.lines[0] if record.lines else ""
    if thread.startswith(_DRIVER_THREADS) or 'in thread "main"' in header or "broadcast-exchange" in header:
        return True
    return kind is LogKind.SPARK_DRIVER and not any(m in header for m in _TASK_MARKERS)


def _in_a_task(cause_line: int, wrappers: list[tuple[str, int, str]]) -> bool:
    """Whether the cause is what a failed task raised: it comes after a job abort "due to stage failure"
    in the chain (the task's exception, quoted or as the abort's Caused by), though the driver logged it."""
    registry = signatures()
    return any("due to stage failure" in text and registry.by_id(rule_id).category == "job_aborted" and n <= cause_line
               for rule_id, n, text in wrappers)


@dataclass
class Classified:
    signature: Signature | None
    category: str
    match_groups: dict[str, str | None]
    cause: tuple[int, str]
    wrappers: list[tuple[str, int, str]]
    severity: Severity | None = None
    """A fallback's, when it is not the rule's own (a task lost in a WARN line is a warning)."""
    fallback: FallbackRule | None = None
    outer: tuple[int, str] | None = None

    def __getstate__(self) -> dict[str, Any]:
        """Pickled by rule id: a worker sends what it classified without a copy of the rule each time."""
        state = dict(self.__dict__)
        state["signature"] = self.signature.id if self.signature else None
        state["fallback"] = self.fallback.id if self.fallback else None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        registry = signatures()
        state["signature"] = registry.by_id(state["signature"]) if state["signature"] else None
        state["fallback"] = registry.fallback(state["fallback"]) if state["fallback"] else None
        self.__dict__.update(state)

    def shift(self, lines: int) -> None:
        """Line numbers made file-wide (a worker classified the record of a byte range)."""
        self.cause = (self.cause[0] + lines, self.cause[1])
        self.wrappers = [(rule_id, n + lines, text) for rule_id, n, text in self.wrappers]
        if self.outer is not None:
            self.outer = (self.outer[0] + lines, self.outer[1])


@dataclass
class Prepared:
    """A record and what it was classified as, made in a worker process of a parallel scan."""

    record: Record
    found: Classified

    def shift(self, lines: int) -> None:
        self.record.shift(lines)
        self.found.shift(lines)


def prepare(record: Record, kind: LogKind) -> Prepared | None:
    found = classify(record, kind, signature_matcher())
    return None if found is None else Prepared(record, found)


def classify(record: Record, kind: LogKind, matcher: SignatureMatcher) -> Classified | None:
    """The innermost cause in the record's chain that a signature knows, with the wrappers around it;
    failing that, what the registry's fallbacks make of an exception no signature knows."""
    chain = record.chain()
    # Most records of a big log are WARN lines no signature knows: one literal scan each rules them out.
    scans = [(n, text, scan) for n, text in chain if (scan := matcher.scan(text)) is not None]
    wrappers = [(s.id, n, text) for n, text, scan in scans for s in scan.wrappers]
    found = None
    for n, text, scan in reversed(scans):  # innermost first; an outer cause wins only with a stronger signature
        if (hit := scan.cause) and (found is None or hit[0].priority < found[0][0].priority):
            found = (hit, (n, text))
    if found is None and len(record.lines) > len(chain):
        # Structured tracebacks (Airflow 3 JSON) hold the cause outside the chain's line shapes.
        if hit := matcher.match(record.text(), wrappers=False):
            found = (hit, (record.line_no, record.lines[0]))
    if found is not None:
        (signature, match), cause = found
        category = signature.category
        if signature.driver_category and _on_driver(record, kind) and not _in_a_task(cause[0], wrappers):
            category = signature.driver_category
        return Classified(signature, category, match.groupdict(), cause, wrappers)
    if kind.airflow and not record.nested:
        return _wrapped(wrappers[-1], wrappers) if wrappers else None
    return _unrecognised(record, kind, chain, wrappers)


def _wrapped(wrapper: tuple[str, int, str], wrappers: list[tuple[str, int, str]]) -> Classified:
    """A wrapper (job aborted, Py4J, Airflow task failed) with nothing recognisable inside: the wrapper is the finding."""
    rule_id, n, text = wrapper
    signature = signatures().by_id(rule_id)
    return Classified(signature, signature.category, {}, (n, text), wrappers)


def _named(chain: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """The chain's messages that name an exception class, from the class on."""
    return [(n, named) for n, text in chain if (named := exception_at(text)) is not None]


def _unrecognised(record: Record, kind: LogKind, chain: list[tuple[int, str]],
                  wrappers: list[tuple[str, int, str]]) -> Classified | None:
    """An exception no signature knows: a failed task (TASK_EXCEPTION), a driver whose main thread
    died of it (DRIVER_EXCEPTION), or an error line worth a look (UNCLASSIFIED_ERROR, info)."""
    registry = signatures()
    header = record.lines[0] if record.lines else ""
    aborted = next((w for w in reversed(wrappers) if registry.by_id(w[0]).category == "job_aborted"), None)
    named = _named(chain)
    if aborted is not None:
        # The task failure the abort quotes is the cause; Caused-by lines after it go deeper.
        quoted = _ABORTED_TASK.search(aborted[2])
        outer = (aborted[1], exception_at(quoted["inner"]) or quoted["inner"]) if quoted else None
        deeper = [(n, text) for n, text in named if n > aborted[1]]
        inner = deeper[-1] if deeper else outer
        if inner is not None:
            return _fallback("TASK_EXCEPTION", inner, outer or inner, wrappers)
    elif _TASK.search(header) and named and record.level in ("WARN", "ERROR", "FATAL"):
        # A WARN "Lost task" may have been retried with success; an ERROR "Exception in task" failed it.
        severity: Severity = "warning" if record.level == "WARN" else "error"
        return _fallback("TASK_EXCEPTION", named[-1], named[0], wrappers, severity)
    if wrappers and not any(n > wrappers[-1][1] for n, _ in named):
        return _wrapped(wrappers[-1], wrappers)  # nothing named inside the wrapper (a job cancelled, say)
    # A PySpark driver's own traceback on stderr (no log4j level): its "Traceback" line, or (the
    # reader starts Spark-log records at anchors) the Py4JJavaError that carried a Java exception.
    python_main = record.level is None and kind is not LogKind.SPARK_EXECUTOR and (
        header.startswith("Traceback") or any(rule_id == "PY4J" for rule_id, _, _ in wrappers))
    if named and _raised_by_spark_submit(record):
        # spark-submit itself threw (arguments it rejects, --packages it cannot resolve): the application never started.
        launch = signatures().by_id("LAUNCH_FAILURE")
        return Classified(launch, launch.category, {}, named[-1], wrappers)
    if named and (header.startswith(_MAIN_THREAD) or python_main):
        # The JVM's handler printed the main thread's death, or the PySpark driver's own traceback ended it.
        wrapped = {n for _, n, _ in wrappers}
        outer = next((item for item in named if item[0] not in wrapped), named[-1])
        return _fallback("DRIVER_EXCEPTION", named[-1], outer, wrappers)
    if wrappers:
        return _wrapped(wrappers[-1], wrappers)
    if named and (record.level in ("ERROR", "FATAL") or header.startswith(UNCAUGHT)):
        return _fallback("UNCLASSIFIED_ERROR", named[-1], named[0], wrappers)
    if named and record.level is None and record.frames and exception_at(header) is not None:
        # A bare Java stack trace (pasted on its own, or printed to stderr without log4j): worth a look.
        return _fallback("UNCLASSIFIED_ERROR", named[-1], named[0], wrappers)
    return None


def _raised_by_spark_submit(record: Record) -> bool:
    """Whether the innermost kept frame, past Spark's helpers (``org.apache.spark.util``: dependency resolution,
    file utilities), is spark-submit's own code (``org.apache.spark.deploy.SparkSubmit*``); an application's
    exception has the application's frames first, and SparkSubmit's only at the bottom of its trace."""
    frames = (line.strip() for line in record.lines if line.lstrip().startswith("at "))
    frame = next((f for f in frames if not f.startswith("at org.apache.spark.util.")), "")
    return frame.startswith("at org.apache.spark.deploy.SparkSubmit")


def _fallback(rule_id: str, inner: tuple[int, str], outer: tuple[int, str], wrappers: list[tuple[str, int, str]],
              severity: Severity | None = None) -> Classified:
    rule = signatures().fallback(rule_id)
    return Classified(None, rule.category, {}, inner, wrappers, severity, fallback=rule, outer=outer)


def task_ids(text: str) -> tuple[list[int], list[int]]:
    """(stage ids, task ids) a failed task's header names."""
    task = _TASK.search(text)
    return ([int(task["stage"])], [int(task["tid"])]) if task else ([], [])
