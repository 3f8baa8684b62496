"""Stream a Spark or Airflow log into *records*: one logged event with its stack trace.

A record is a header line (a log4j or Airflow line, or a stack trace's first line) plus its
continuation lines: ``\\tat`` frames, ``Caused by:``, ``... N more``, Python tracebacks and the
``: org.apache...`` line of a Py4JJavaError.  Frames are counted, not kept; the message lines
are kept (bounded), so the Caused-by chain can be followed to its innermost cause.

Speed: most lines of a big Spark log are INFO chatter that no signature can match.  For Spark
and plain-text logs the reader does not look at them one by one: it scans each decoded block
with Aho-Corasick for the anchors (``ERROR``, ``Exception``, ``Error`` and the literal anchors
each signature declares) and counts the newlines in between, so only the lines around a hit are
decoded and parsed in Python.  Every failure marker of the signatures sits on a line with one of
the anchors, or inside the stack trace of such a line (a registry test holds every signature's
examples to that).  Airflow logs are small and carry signals
on INFO lines (return codes, upstream_failed), so they are read line by line.

On a machine with 4 or more CPUs, a big plain Spark log is split at record starts into one
byte range per worker, scanned by forked processes (``bytes.find`` holds the GIL, so threads
would not help); their records come back with line numbers made file-wide.

Memory is bounded by the decoder's block, the longest line and the kept lines of one record.
Bytes that are not UTF-8 are replaced (U+FFFD) in the lines decoded, and counted.
"""

from __future__ import annotations

import re
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from pathlib import Path

from .logkind import LogKind, ParsedLine, parse_airflow, parse_airflow3, parse_log4j

__all__ = ["GENERIC_ANCHORS", "anchors", "PARALLEL_MIN_BYTES", "ReadStats", "Record", "read_records", "ParallelScan", "text_blocks", "workers_for"]

GENERIC_ANCHORS = ("ERROR", "Exception", "Error")
"""Every error worth reading names one of these.  WARN is not one: the WARN lines that matter
(a lost executor, a YARN kill) carry their signature's own anchors, and the rest is noise.  FATAL
is not one either: Spark does not log at FATAL, and a FATAL line that matters names an Exception
or Error anyway."""


@cache
def anchors() -> tuple[str, ...]:
    """The generic anchors and every Spark signature's (``anchors`` in data/log-signatures.json).

    Airflow signatures need none: Airflow logs are read line by line.  Kept under 64 patterns,
    the most the library's SIMD prefilter takes.
    """
    from .signatures import spark_signatures

    return tuple(sorted({*GENERIC_ANCHORS, *(a for s in spark_signatures() for a in s.anchors)}))


@cache
def _anchor_search() -> Any:
    """One Aho-Corasick pass finds every anchor: about 8 GB/s here against 0.5 GB/s for one
    ``bytes.find`` pass per anchor, which made the reader a tenth of grep's speed."""
    import ahocorasick_rs

    # Leftmost-first semantics let the library use its SIMD (Teddy) prefilter: 2+ GB/s with
    # dozens of anchors, against 0.6 GB/s for the standard semantics.
    return ahocorasick_rs.BytesAhoCorasick([a.encode() for a in anchors()], matchkind=ahocorasick_rs.MatchKind.LeftmostFirst)


class _Newlines:
    """Counts newlines between offsets of a block: the whole file between anchors is counted for
    line numbers.  numpy's vectorised compare counts a long span about five times faster than
    ``bytes.count`` (0.03 s against 0.16 s per GB here); a short one is not worth the call."""

    MIN_VECTORISED = 1 << 16

    @staticmethod
    def between(buf: bytes, start: int, end: int) -> int:
        if end - start < _Newlines.MIN_VECTORISED:
            return buf.count(b"\n", start, end)
        import numpy

        return int(numpy.count_nonzero(numpy.frombuffer(buf, numpy.uint8, count=end - start, offset=start) == 10))


MAX_KEPT_LINES = 200
"""Message lines kept per record; frames beyond them are only counted."""
MAX_RECORD_LINES = 5_000
"""A longer 'stack trace' is not one: the record is closed and the reader goes on."""
KEPT_FRAMES = 3
MAX_LINE_CHARS = 4_000

_PROGRESS = re.compile(r"\[Stage \d+:[=> ]*\(\d+ \+ \d+\)(?: / \d+)?\]")
_RECORD_START = re.compile(rb"(?:\d{2}/\d{2}/\d{2}|\d{4}-\d{2}-\d{2})[ T]\d{2}:\d{2}:\d{2}")
_PYTHON_ERROR = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning)\b(?::.*)?$")
_PYTHON_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<func>\S+)')
_NOT_CAUSES = ("Traceback", "During handling", "The above exception", "...", "Suppressed:")
_TRACE_STARTS = ("Caused by", "Suppressed:", ": ", "Traceback", "During handling", "The above exception", "...")


@dataclass
class ReadStats:
    lines: int = 0
    non_utf8_lines: int = 0
    nested_spark_lines: int = 0
    long_records: int = 0


@dataclass
class Record:
    """One logged event: its header and the message lines of its stack trace."""

    line_no: int
    level: str | None
    thread: str | None
    lines: list[str] = field(default_factory=list)
    line_numbers: list[int] = field(default_factory=list)
    frames: int = 0
    total_lines: int = 0
    nested: bool = False
    source_file: str | None = None
    in_traceback: bool = False

    def add(self, line_no: int, text: str) -> None:
        self.total_lines += 1
        stripped = text.lstrip()
        is_frame = stripped.startswith("at ") and text[:1] in ("\t", " ")
        if is_frame:
            self.frames += 1
            if self.frames > KEPT_FRAMES:
                return
        if text.startswith("Traceback"):
            self.in_traceback = True
        elif text.startswith(("\tat ", "Caused by")):
            self.in_traceback = False
        if len(self.lines) < MAX_KEPT_LINES:
            self.lines.append(text[:MAX_LINE_CHARS])
            self.line_numbers.append(line_no)

    def chain(self) -> list[tuple[int, str]]:
        """The messages of the exception chain, outermost first.

        The header, then every line that starts at column 0 (the exception line under an
        ``ERROR ... Exception in task`` header, ``Caused by: ...``, Py4J's ``: org.apache...``, the
        Python error that ends a traceback), without their prefixes.  Frames, traceback bodies and
        ``... N more`` are indented or start with markers, and are left out.
        """
        found: list[tuple[int, str]] = []
        for n, text in zip(self.line_numbers, self.lines, strict=True):
            if not found:
                found.append((n, text))
            elif not text.strip() or text[:1] in (" ", "\t") or text.startswith(_NOT_CAUSES):
                continue
            elif text.startswith("Caused by: "):
                found.append((n, text[len("Caused by: "):]))
            elif text.startswith(": "):
                found.append((n, text[2:]))
            else:
                found.append((n, text))
        return found

    def python_error(self) -> tuple[tuple[int, str] | None, tuple[int, str] | None]:
        """The (last) Python traceback's last frame, where the error was raised, and the error line it ends with."""
        frame = error = None
        inside = False
        for n, text in zip(self.line_numbers, self.lines, strict=True):
            if "Traceback (most recent call last)" in text:
                inside = True
            elif inside and _PYTHON_FRAME.match(text):
                frame = (n, text.strip())
            elif inside and _PYTHON_ERROR.match(text):
                error, inside = (n, text.strip()), False
        return frame, error

    def text(self) -> str:
        return "\n".join(self.lines)


def _decode(raw: bytes, stats: ReadStats) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        stats.non_utf8_lines += 1
        text = raw.decode("utf-8", "replace")
    text = text.rstrip("\r\n")
    if "\r" in text:  # progress bars are redrawn with \r: the last piece is the real line
        pieces = [p for p in text.split("\r") if p.strip()]
        text = pieces[-1] if pieces else ""
    if "[Stage " in text:
        text = _PROGRESS.sub("", text)
    return text


def _starts_record(text: str, mode: LogKind) -> bool:
    """Whether ``text`` begins a new record rather than continuing the current one's stack trace."""
    if mode.spark:
        return _RECORD_START.match(text.encode()[:19]) is not None
    if not text:
        return False
    if text[:1] in (" ", "\t") or text.startswith(_TRACE_STARTS):
        return False
    return True


def _continues_python(record: Record, text: str) -> bool:
    # The last line of a Python traceback ("ValueError: ...") starts at column 0.
    return record.in_traceback and (_PYTHON_ERROR.match(text) is not None or not text.strip())


def _opens_driver_output(record: Record, text: str) -> bool:
    """Whether a relayed non-log4j line starts the driver's own output (a Python traceback) rather than
    continuing ``record``: an INFO line has no stack trace of its own."""
    quiet = record.level in ("INFO", "DEBUG", "TRACE")
    opens = text.startswith("Traceback") or _starts_record(text, LogKind.TEXT)
    return quiet and opens and not _continues_python(record, text)


def text_blocks(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """Pasted text in the shape :meth:`LogLines.blocks` hands out."""
    if data:
        yield data, 0, len(data)


class _Scanner:
    """The anchor scan over decoded blocks (Spark and plain-text logs)."""

    def __init__(self, mode: LogKind, stats: ReadStats) -> None:
        self.mode = mode
        self.stats = stats
        self.line_no = 0  # lines before the current position
        self.open: Record | None = None

    def _header(self, text: str) -> Record:
        parsed = parse_log4j(text)
        record = Record(line_no=self.line_no + 1, level=parsed.level if parsed else None,
                        thread=parsed.thread if parsed else None)
        record.add(self.line_no + 1, parsed.message if parsed else text)
        return record

    def _continue(self, buf: bytes, pos: int, end: int, record: Record) -> tuple[int, bool]:
        """Add the continuation lines at ``pos`` to ``record``; (new position, whether the record closed)."""
        while pos < end:
            nl = buf.find(b"\n", pos, end)
            stop = end if nl < 0 else nl
            text = _decode(buf[pos:stop], self.stats)
            if record.total_lines >= MAX_RECORD_LINES:
                self.stats.long_records += 1
                return pos, True
            if _starts_record(text, self.mode) and not _continues_python(record, text):
                return pos, True
            self.line_no += 1
            record.add(self.line_no, text)
            pos = stop + 1
        return pos, False

    def feed(self, buf: bytes, start: int, end: int) -> Iterator[Record]:
        pos = start
        if self.open is not None:
            pos, closed = self._continue(buf, pos, end, self.open)
            if not closed:
                return
            yield self.open
            self.open = None
        window = memoryview(buf)[pos:end]
        hits = [pos + at for _, at, _ in _anchor_search().find_matches_as_indexes(window)]
        window.release()
        for hit in hits:
            if hit < pos:
                continue  # inside a record already read
            line_start = max(pos, buf.rfind(b"\n", pos, hit) + 1)
            self.line_no += _Newlines.between(buf, pos, line_start)
            nl = buf.find(b"\n", line_start, end)
            stop = end if nl < 0 else nl
            record = self._header(_decode(buf[line_start:stop], self.stats))
            self.line_no += 1
            pos, closed = self._continue(buf, stop + 1, end, record)
            if not closed:
                self.open = record
                return
            yield record
        if pos < end:
            self.line_no += _Newlines.between(buf, pos, end)
            if buf[end - 1 : end] != b"\n":
                self.line_no += 1  # the unterminated last line

    def finish(self) -> Iterator[Record]:
        if self.open is not None:
            yield self.open
            self.open = None
        self.stats.lines = self.line_no


def _lines(blocks: Iterable[tuple[bytes, int, int]]) -> Iterator[bytes]:
    for buf, start, end in blocks:
        lines = buf[start:end].split(b"\n")
        if lines[-1] == b"":
            lines.pop()
        yield from lines


def _airflow_records(blocks: Iterable[tuple[bytes, int, int]], mode: LogKind, stats: ReadStats) -> Iterator[Record]:
    """Airflow task logs, line by line; a nested spark-submit log is parsed as Spark lines."""
    outer: Record | None = None
    nested: Record | None = None
    parse = parse_airflow3 if mode is LogKind.AIRFLOW3 else parse_airflow
    line_no = 0
    for raw in _lines(blocks):
        line_no += 1
        text = _decode(raw, stats)
        parsed: ParsedLine | None = parse(text) if text else None
        if parsed is None:
            # A raw line: the traceback of the last Airflow record, or output of the nested log.
            target = nested if nested is not None and outer is None else outer
            if target is None:
                outer = Record(line_no=line_no, level=None, thread=None)
                outer.add(line_no, text)
            else:
                target.add(line_no, text)
            continue
        message_lines = parsed.message.split("\n")
        spark = parse_log4j(message_lines[0])
        if spark is not None or (nested is not None and not _starts_record(message_lines[0], LogKind.SPARK_DRIVER)
                                 and parsed.source_file and "spark_submit" in parsed.source_file):
            stats.nested_spark_lines += 1
            if outer is not None:
                yield outer
                outer = None
            relayed = message_lines[0]
            if spark is None and nested is not None and not _opens_driver_output(nested, relayed):
                nested.add(line_no, relayed)  # a nested stack-trace line, relayed by Airflow
                continue
            if nested is not None:
                yield nested
            nested = Record(line_no=line_no, level=spark.level if spark else None, thread=spark.thread if spark else None,
                            nested=True)
            nested.add(line_no, spark.message if spark else message_lines[0])
            continue
        if nested is not None:
            yield nested
            nested = None
        if outer is not None:
            yield outer
        outer = Record(line_no=line_no, level=parsed.level, thread=None, source_file=parsed.source_file)
        for extra in message_lines:
            outer.add(line_no, extra)
    for record in (nested, outer):
        if record is not None:
            yield record
    stats.lines = line_no


def read_records(blocks: Iterable[tuple[bytes, int, int]], mode: LogKind, stats: ReadStats) -> Iterator[Record]:
    """The records of a log of kind ``mode``; ``stats`` is filled in as they are read."""
    if mode.airflow:
        yield from _airflow_records(blocks, mode, stats)
        return
    scanner = _Scanner(mode, stats)
    for buf, start, end in blocks:
        yield from scanner.feed(buf, start, end)
    yield from scanner.finish()


PARALLEL_MIN_BYTES = 64 * 1024**2
"""Plain Spark logs from this size up are scanned by several processes."""
MIN_CPUS_FOR_WORKERS = 4
_RANGE_READ = 1 << 22
_SPLIT_PROBE = 1 << 20


def workers_for(size: int) -> int:
    """How many worker processes scan a plain log of ``size`` bytes (0: scan in this process).

    One CPU is left to this process, which hashes the file for the context store meanwhile.
    Below MIN_CPUS_FOR_WORKERS the fork, the pool and the records' trip back cost more than they
    gain: on a 2-CPU machine, 317 MB took 2.9 s with one worker against 2.3 s in-process.
    """
    cpus = os.cpu_count() or 1
    if size < PARALLEL_MIN_BYTES or cpus < MIN_CPUS_FOR_WORKERS:
        return 0
    return max(1, min(cpus - 1, 16, size // (PARALLEL_MIN_BYTES // 2)))


def _split_points(path: Path, size: int, parts: int) -> list[int]:
    """Offsets of record starts near ``size * k / parts``: a stack trace never straddles two ranges."""
    points = [0]
    with path.open("rb") as f:
        for k in range(1, parts):
            f.seek(size * k // parts)
            probe = f.read(_SPLIT_PROBE)
            base = size * k // parts
            i = probe.find(b"\n")
            while 0 <= i < len(probe) - 20:
                if _RECORD_START.match(probe, i + 1):
                    if base + i + 1 > points[-1]:
                        points.append(base + i + 1)
                    break
                i = probe.find(b"\n", i + 1)
    return [*points, size]


def _range_blocks(path: Path, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """Whole lines of bytes ``start:end`` of a plain file, in blocks (the last one may lack its newline)."""
    carry = b""
    with path.open("rb") as f:
        f.seek(start)
        left = end - start
        while left > 0:
            chunk = f.read(min(_RANGE_READ, left))
            if not chunk:
                break
            left -= len(chunk)
            buf = carry + chunk if carry else chunk
            cut = buf.rfind(b"\n") + 1
            if cut:
                yield buf, 0, cut
            carry = buf[cut:]
    if carry:
        yield carry, 0, len(carry)


def _scan_range(path: Path, start: int, end: int, mode: LogKind) -> tuple[list[Record], ReadStats]:
    stats = ReadStats()
    return list(read_records(_range_blocks(path, start, end), mode, stats)), stats


class ParallelScan:
    """A plain Spark log scanned by forked worker processes, one byte range each.

    The workers start on construction, so the caller can hash the file meanwhile; :meth:`records`
    hands their records out in file order, with file-wide line numbers.
    """

    def __init__(self, path: Path, size: int, mode: LogKind, workers: int) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        points = _split_points(path, size, workers)
        ranges = list(zip(points, points[1:], strict=False))
        # fork: the children need nothing but this module's functions and start in milliseconds.
        self._pool = ProcessPoolExecutor(max_workers=len(ranges), mp_context=multiprocessing.get_context("fork"))
        self._futures = [self._pool.submit(_scan_range, path, a, b, mode) for a, b in ranges]

    def cancel(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def records(self, stats: ReadStats) -> Iterator[Record]:
        try:
            for future in self._futures:
                records, part = future.result()
                offset = stats.lines
                for record in records:
                    record.line_no += offset
                    record.line_numbers = [n + offset for n in record.line_numbers]
                    yield record
                stats.lines += part.lines
                stats.non_utf8_lines += part.non_utf8_lines
                stats.long_records += part.long_records
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)
