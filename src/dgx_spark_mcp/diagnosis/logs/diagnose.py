"""diagnose_log: a failing job's log in, findings with causes, evidence and fixes out.

The pipeline: check the path (allowed roots, no devices, size limit) or take pasted text;
look at the first lines to tell the kind (and refuse binary data) (:mod:`.diagnose_input`);
answer from the context store when this content was diagnosed before; otherwise stream the
log into records (:mod:`.log_reader`), classify each record's innermost cause with the
signatures (:mod:`.diagnose_classify`), group repeats by message template (Drain3) and turn
each group into a finding (:mod:`.diagnose_groups`) whose fix is sized to the hardware when one
is given (:mod:`.diagnose_fixes`), most likely root cause first (:mod:`.diagnose_ranking`).  An
error no signature knows is still a finding (the registry's fallbacks): a task that failed with
it, or a driver whose main thread died of it, named by its exception and innermost cause.
Event logs go through :func:`.eventlog_analysis.analyze_event_log` (:mod:`.diagnose_eventlog`):
its task failures become findings here, each failed job becomes wrapper evidence of the cause
it failed of, and evidence points at events (file, line, stage, task and job ids).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from functools import partial
from pathlib import Path
from typing import Any, Literal

from ...errors import BadInputError, CouldNotDoError
from ...settings import Settings
from ..eventlogs.diagnose import event_log_findings, pasted_event_log_findings
from ..findings.fixes import Sizing, hardware_sizing
from ..findings.model import DiagnosisFinding, cite_findings
from ..findings.ranking import DEFAULT_LIMIT, MAX_LIMIT, SEVERITY_ORDER, rank
from ..reading.codecs import Codec, LogLines
from ..reading.inputs import (
    LogInput,
    open_input,
    read_head,
    refuse_binary,
    resolve_kind,
    store_key,
)
from ..reading.log_reader import anchors, read_shaped, text_blocks
from ..reading.logkind import LogKind
from ..reading.parallel import ParallelScan, workers_for
from ..reading.record import ReadStats
from .classify import Prepared, prepare, signature_matcher
from .consequences import aborted_jobs, lost_executors
from .fallbacks import merge_fallbacks
from .groups import MAX_GROUPS, RecordGroups, group_finding, guarded_patterns
from .result import DiagnoseResult, Unreadable

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "DiagnoseResult", "Unreadable", "diagnose_log"]

log = logging.getLogger(__name__)

RESULT_VERSION = 4
"""Part of the store key: bump it when the analysis changes, so old stored results are not served."""
HASH_BESIDE_SCAN_BYTES = 64 * 1024**2
"""From this size a file is hashed for the context store beside its scan, and looked up by that hash after
it; below it, when there is a store to look in, the hash is taken first, so that a copy of a log under
another name is answered without a scan.  With no store file there is nothing to look up: every log is
hashed beside its scan (a plain one from the scan's own reads)."""


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


def _parallel_scan(given: LogInput, log_kind: LogKind) -> ParallelScan[Prepared] | None:
    """Worker processes that scan and classify a big plain Spark log, when this machine has the CPUs for them."""
    if given.reader is None or given.reader.stats.codec is not Codec.PLAIN or not log_kind.spark:
        return None
    size = given.reader.stats.compressed_bytes
    workers = workers_for(size)
    if not workers:
        return None
    signature_matcher(), anchors()  # loaded once here, not once per forked worker
    return ParallelScan(given.reader.path, size, log_kind, workers, prepare=partial(prepare, kind=log_kind))


def _read_text_log(given: LogInput, log_kind: LogKind, scan: ParallelScan[Prepared] | None, sizing: Sizing | None,
                   stats: ReadStats, notes: list[str]) -> tuple[list[DiagnosisFinding], Unreadable, str, int]:
    """Findings of a Spark/Airflow/text log, with what could not be read, the codec and the bytes read."""
    grouped = RecordGroups(log_kind)
    reader = given.reader
    if scan is not None:
        for item in scan.records(stats):  # classified by the workers, handed over in file order
            grouped.add(item.record, item.found)
    else:
        # Repeats of a record shape are counted from the first one's classification (see RecordGroups.take).
        for item in read_shaped(reader.blocks() if reader is not None else text_blocks(given.data or b""), log_kind,
                                stats, guarded_patterns()):
            grouped.take(item)
    source = None if given.path is None else given.label
    grouped.fold_into_driver_exceptions(source)
    unreadable = Unreadable(non_utf8_lines=stats.non_utf8_lines, oversized_lines=0, last_line_cut=False,
                            stream_complete=True)
    codec, bytes_read = "none", len(given.data or b"")
    if reader is not None:
        codec = reader.stats.codec.value
        bytes_read = reader.stats.compressed_bytes if scan is not None else reader.stats.decompressed_bytes
        unreadable = Unreadable(
            non_utf8_lines=stats.non_utf8_lines, oversized_lines=reader.oversized_lines,
            last_line_cut=reader.unterminated_last_line, stream_complete=reader.stats.complete,
            problem=reader.stats.problem, log_complete=reader.stats.complete,
        )
    ranked = [(g.priority, g.first_line, group_finding(g, grouped.template(g), source, sizing))
              for g in grouped.groups.values()]
    ranked = merge_fallbacks(ranked) + aborted_jobs(grouped.groups.values(), source) + lost_executors(
        grouped.groups.values(), source)
    if log_kind is LogKind.SPARK_DRIVER:
        from .slow_runs import driver_log_findings

        extra = driver_log_findings(given.path, given.data, source, (f.category for _, _, f in ranked))
        ranked += [(priority, len(ranked) + i, finding) for i, (priority, finding) in enumerate(extra)]
    if grouped.dropped:
        notes.append(f"{grouped.dropped} occurrence(s) of further distinct messages were counted but not grouped "
                     f"(over {MAX_GROUPS} groups)")
    return rank(ranked), unreadable, codec, bytes_read


def diagnose_log(
    source: str | Path,
    settings: Settings,
    *,
    text: str | None = None,
    hardware: str | dict[str, Any] | None = None,
    limit: int = DEFAULT_LIMIT,
    kind: str | None = None,
    detail: Literal["summary", "full"] = "full",
) -> DiagnoseResult:
    """Diagnose the log at ``source`` (a path under the allowed roots), or the pasted ``text`` (source ignored).

    The full result is what the context store keeps; a summary is cut from it, so a stored result answers both.
    """
    from .summary import diagnose_summary

    result = _full_diagnosis(source, settings, text=text, hardware=hardware, limit=limit, kind=kind)
    return diagnose_summary(result, limit) if detail == "summary" else result


def _full_diagnosis(
    source: str | Path, settings: Settings, *, text: str | None, hardware: str | dict[str, Any] | None, limit: int,
    kind: str | None,
) -> DiagnoseResult:
    from .. import context_store

    if not 1 <= limit <= MAX_LIMIT:
        raise BadInputError(f"limit {limit} is out of range; give 1 to {MAX_LIMIT} findings (default {DEFAULT_LIMIT})")
    given = open_input(source, settings, text)
    if given.path is not None and given.reader is None:
        log_kind, detected = LogKind.SPARK_EVENT_LOG, kind is None
    else:
        # The head is read through its own LogLines: a reader's counters add up over every pass.
        head = read_head(LogLines(given.path).blocks() if given.path else text_blocks(given.data or b""))
        refuse_binary(head, given.label)
        log_kind, detected = resolve_kind(kind, head)

    options = context_store.options_key(kind=kind, hardware=hardware, limit=limit, version=RESULT_VERSION)
    # An unchanged file (same path, size, modification time and inode as when it was last hashed) is
    # answered from the store before it is read: hashing a big log is itself a pass over it.
    signature = context_store.file_signature(given.path) if given.reader is not None and given.path else None
    big = given.reader is not None and given.reader.stats.compressed_bytes >= HASH_BESIDE_SCAN_BYTES
    key: str | None = None
    if context_store.store_exists(settings):  # no store file, nothing kept: DuckDB is not even opened
        # Small content is hashed too, inside the same open of the store, so a copy under another name is
        # answered without a scan; a big file is hashed beside its scan instead.
        stored, key = _look_up(settings, options, signature, None if big else partial(store_key, given))
        if stored is not None:
            return _served(stored, given.label, pasted=given.path is None)

    scan = _parallel_scan(given, log_kind)  # scans while this process hashes
    looked_up = key is not None
    hashed: Callable[[], str] | None = None
    if key is None and scan is not None:
        key = store_key(given)
        looked_up = context_store.store_exists(settings)
        stored = _load_stored(settings, key, options) if looked_up else None
        if stored is not None:
            scan.cancel()
            return _served(stored, given.label, pasted=given.path is None)
    elif key is None:
        hashed = _hash_beside_scan(given, log_kind, big)
    try:
        result, findings, key = _diagnosis(given, settings, log_kind, detected, scan, hardware, limit, key, hashed)
    except BaseException:
        if hashed is not None:
            with suppress(Exception):
                hashed()  # let the hashing thread end
        raise
    if signature is not None and context_store.file_signature(given.path) != signature:  # type: ignore[arg-type]
        signature = None  # the file changed while it was read (a log still being written): its hash is no key for it
    try:
        # Content hashed beside its scan was not looked up: a result kept for it meanwhile (or under another
        # name) is what the store answers, as a lookup before the scan would have.
        stored = context_store.save_result(settings, key, options, given.label, log_kind.value, result.model_dump_json(),
                                           findings, signature, check_first=not looked_up)
        if stored is not None:
            return _served(stored, given.label, pasted=given.path is None)
    except CouldNotDoError as exc:
        # The diagnosis stands without the store (as analyze_query_plan's does): only the instant repeat is lost.
        log.warning("diagnosis of %s not kept in the context store: %s", given.label, exc)
        result.notes.append(f"the result could not be kept in the context store ({exc}); asking again will diagnose anew")
    return result


def _diagnosis(given: LogInput, settings: Settings, log_kind: LogKind, detected: bool,
               scan: ParallelScan[Prepared] | None, hardware: str | dict[str, Any] | None, limit: int, key: str | None,
               hashed: Callable[[], str] | None) -> tuple[DiagnoseResult, list[DiagnosisFinding], str]:
    """The log read and diagnosed: the result, all its findings and its content hash (``key``, or from
    ``hashed`` once the log is read)."""
    sizing = hardware_sizing(hardware)
    notes: list[str] = []
    stats = ReadStats()
    if log_kind is LogKind.SPARK_EVENT_LOG:
        if given.path is None:
            findings, analysis, notes = pasted_event_log_findings(given.data or b"", settings, sizing)
        else:
            findings, analysis, notes = event_log_findings(given.path, settings, sizing)
        reading = analysis.reading
        stats.lines, codec, bytes_read = reading.lines, ",".join(sorted(set(reading.codecs))), reading.decompressed_bytes
        # As analyze_event_log says it: a log without ApplicationEnd covers only part of the run.
        unreadable = Unreadable(non_utf8_lines=0, oversized_lines=reading.oversized_lines, last_line_cut=reading.last_line_cut,
                                stream_complete=reading.stream_complete,
                                log_complete=reading.stream_complete and analysis.app.complete)
    else:
        findings, unreadable, codec, bytes_read = _read_text_log(given, log_kind, scan, sizing, stats, notes)
    if hashed is not None:
        key = hashed()
    assert key is not None
    notes += _reading_notes(stats, unreadable, bytes_read, sizing)
    if not any(SEVERITY_ORDER[f.severity] <= SEVERITY_ORDER["warning"] for f in findings):
        notes.append(_quiet_note(unreadable))
    references: dict[str, str] = {}
    shown = cite_findings(findings[:limit], references)
    result = DiagnoseResult(
        source=given.label, kind=log_kind.value, kind_detected=detected, codec=codec, bytes_read=bytes_read,
        lines_read=stats.lines, unreadable=unreadable, nested_spark_lines=stats.nested_spark_lines,
        findings=shown, findings_total=len(findings), hardware=sizing.label if sizing else None,
        content_hash=key, from_store=False, references=references, notes=notes,
        more=(f"{len(findings) - limit} more finding(s): call again with limit={min(MAX_LIMIT, len(findings))}"
              if len(findings) > limit else None),
    )
    return result, findings, key


def _look_up(settings: Settings, options: str, signature: Any,
             key_for: Callable[[], str] | None) -> tuple[str | None, str | None]:
    """(stored result, content hash) from one open of the store (:func:`.context_store.stored_result`); no
    result, also when the store cannot be read: the log is then diagnosed anew."""
    from .. import context_store

    try:
        return context_store.stored_result(settings, options, signature, key_for)
    except CouldNotDoError as exc:
        log.warning("context store not readable, diagnosing anew: %s", exc)
        return None, None


def _hash_beside_scan(given: LogInput, log_kind: LogKind, big: bool) -> Callable[[], str]:
    """How the content hash is had once the log is scanned in this process.

    A plain Spark/Airflow/text log is hashed from the scan's own reads, by a thread (blake3 releases the
    GIL): no second pass over the file.  Any other big file is hashed by a thread reading it while this
    one scans: the first answer costs max(hash, scan) instead of their sum.  The rest after the scan."""
    from .. import context_store

    reader = given.reader
    if reader is not None and reader.stats.codec is Codec.PLAIN and log_kind is not LogKind.SPARK_EVENT_LOG:
        stream = context_store.StreamHash()
        reader.tap = stream.update
        return stream.hexdigest
    if big:
        hashing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="content-hash")
        pending = hashing.submit(store_key, given)
        hashing.shutdown(wait=False)  # the thread ends with its one task
        return pending.result
    return partial(store_key, given)


def _load_stored(settings: Settings, key: str, options: str) -> str | None:
    """The stored result for this content, or None, also when the store cannot be read: the log is then diagnosed anew."""
    from .. import context_store

    try:
        return context_store.load_result(settings, key, options)
    except CouldNotDoError as exc:
        log.warning("context store not readable, diagnosing anew: %s", exc)
        return None


def _quiet_note(unreadable: Unreadable) -> str:
    """No warning or worse: a claim of health only about a log that was read to its end."""
    if unreadable.log_complete and not unreadable.last_line_cut:
        return "no finding of severity warning or above: nothing in this log points to a failure"
    return ("no finding of severity warning or above in the part of the log that was read; the log is incomplete, "
            "so this does not show that the application succeeded")


def _reading_notes(stats: ReadStats, unreadable: Unreadable, bytes_read: int, sizing: Sizing | None) -> list[str]:
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
