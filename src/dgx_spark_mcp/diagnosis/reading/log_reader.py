"""Stream a Spark or Airflow log into *records*: one logged event with its stack trace.

A record is a header line (a log4j or Airflow line, or a stack trace's first line) plus its
continuation lines: ``\\tat`` frames, ``Caused by:``, ``... N more``, Python tracebacks and the
``: org.apache...`` line of a Py4JJavaError.  Frames are counted, not kept; the message lines
are kept (bounded), so the Caused-by chain can be followed to its innermost cause.

Speed: most lines of a big Spark log are INFO chatter that no signature can match.  For Spark
and plain-text logs the reader does not look at them one by one: it scans each decoded block
with Aho-Corasick for the anchors (``ERROR``, ``Exception``, ``Error`` and the literal anchors
each signature declares; more for a plain-text log: :mod:`.anchors`, which also searches the
blocks ahead of the reader in threads) and counts the newlines in between, so only the lines
around a hit are decoded and parsed in Python.  Every failure marker of the signatures sits on a
line with one of the anchors, or inside the stack trace of such a line (a registry test holds
every signature's examples to that).  Airflow logs are small and carry signals on INFO lines
(return codes, upstream_failed), so they are read line by line.

Inside a Spark record, one regex search finds where the next record starts, and the lines in
between are decoded and split at once (an error-heavy log is mostly stack traces).  A record
with a line that needs care (a progress bar redrawn in it, bytes that are not UTF-8) is read
line by line instead; there the frames past the few kept (``KEPT_FRAMES``) are counted a run at
a time with one regex match, without being decoded.

An error-heavy log repeats a few stack traces under headers that differ in their TIDs and stages:
:func:`read_shaped` hands a record whose bytes differ from an earlier one's only in their digits out
as a :class:`~.shapes.Repeat`, found and counted without being decoded, for its consumer to count
from the first one's classification (:mod:`.shapes` says why that gives the same answer).

Big plain logs on machines with 4 or more CPUs are scanned in parallel (:mod:`.parallel`).

Memory is bounded by the decoder's blocks (a few searched ahead: :data:`.anchors.AHEAD`), the
longest line, the kept lines of one record and (in parallel) the queued chunks.  Bytes that are
not UTF-8 are replaced (U+FFFD) in the lines decoded, and counted; a record remembers which of its
kept lines had them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from .anchors import GENERIC_ANCHORS, anchors, searched
from .logkind import LogKind, ParsedLine, parse_airflow, parse_airflow3, parse_log4j
from .record import (
    _PYTHON_ERROR,
    KEPT_FRAMES,
    MAX_RECORD_LINES,
    ReadStats,
    Record,
)
from .shapes import Repeat, ShapeTable
from .spark_json import JSON_START, parse_spark_json

__all__ = ["GENERIC_ANCHORS", "ReadStats", "Record", "Repeat", "anchors", "read_records", "read_shaped", "text_blocks"]

UNCAUGHT = 'Exception in thread "'
"""How the JVM's default handler prints an uncaught exception, on stderr, without a log4j prefix."""
_UNCAUGHT = UNCAUGHT.encode()

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


_VECTORISED = _Newlines.MIN_VECTORISED
_PROGRESS = re.compile(r"\[Stage \d+:[=> ]*\(\d+ \+ \d+\)(?: / \d+)?\]")
_RECORD_START = re.compile(rb"(?:\d{2}/\d{2}/\d{2}|\d{4}-\d{2}-\d{2})[ T]\d{2}:\d{2}:\d{2}")
_FRAME_RUN = re.compile(rb"(?:[\t ]+at [^\r\n]*\n)+")
"""Consecutive Java frames; a line with a carriage return (a redrawn progress bar) is read one by one."""
_NEXT_RECORD = re.compile(rb"\n(?=(?:\d{2}/\d{2}/\d{2}|\d{4}-\d{2}-\d{2})[ T]\d{2}:\d{2}:\d{2}|Exception in thread \"|\{\"ts\")")
"""The newline before the next line that begins a Spark-log record (see :func:`_opens_spark_record`)."""
_TRACE_STARTS = ("Caused by", "Suppressed:", ": ", "Traceback", "During handling", "The above exception", "...")


def _decode(raw: bytes, stats: ReadStats) -> tuple[str, bool]:
    """The line as text, and whether bytes that are not UTF-8 were replaced in it."""
    replaced = False
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        stats.non_utf8_lines += 1
        text, replaced = raw.decode("utf-8", "replace"), True
    text = text.rstrip("\r\n")
    if "\r" in text:  # progress bars are redrawn with \r: the last piece is the real line
        pieces = [p for p in text.split("\r") if p.strip()]
        text = pieces[-1] if pieces else ""
    if "[Stage " in text:
        text = _PROGRESS.sub("", text)
    return text, replaced


def _starts_record(text: str, mode: LogKind) -> bool:
    """Whether ``text`` begins a new record rather than continuing the current one's stack trace."""
    if mode.spark:
        return _RECORD_START.match(text.encode()[:19]) is not None
    if not text:
        return False
    if text[:1] in (" ", "\t") or text.startswith(_TRACE_STARTS):
        return False
    return True


def _opens_spark_record(buf: bytes, pos: int, stop: int) -> bool | None:
    """Whether the Spark-log line at ``buf[pos:stop]`` begins a new record, read from its bytes;
    None when only its decoded text can tell (a progress bar glued on or redrawn in front of it).

    A log4j timestamp begins one, and so does the JVM's ``Exception in thread "..."``: it is
    printed by the default handler on its own, never as a line of an earlier stack trace."""
    if (_RECORD_START.match(buf, pos, min(stop, pos + 19)) is not None or buf.startswith(_UNCAUGHT, pos, stop)
            or buf.startswith(JSON_START, pos, stop)):
        return True
    if buf.find(b"\r", pos, stop) >= 0 or buf.find(b"[Stage ", pos, stop) >= 0:
        return None
    return False


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

    def __init__(self, mode: LogKind, stats: ReadStats, shapes: ShapeTable | None = None) -> None:
        self.mode = mode
        self.spark = mode.spark  # read once: an enum property costs more than the rest of a line's check
        self.stats = stats
        self.line_no = 0  # lines before the current position
        self.open: Record | None = None
        self.shapes = shapes if self.spark else None

    def _header(self, raw: bytes) -> Record:
        text, replaced = _decode(raw, self.stats)
        parsed = parse_log4j(text)
        record = Record(line_no=self.line_no + 1, level=parsed.level if parsed else None,
                        thread=parsed.thread if parsed else None)
        record.add(self.line_no + 1, parsed.message if parsed else text, replaced)
        return record

    def _json(self, raw: bytes, line_no: int) -> Record | None:
        """The record of one line of Spark 4's JSON layout (:mod:`.spark_json`); None when it is not one."""
        text, replaced = _decode(raw, self.stats)
        parsed = parse_spark_json(text)
        if parsed is None:
            return None
        record = Record(line_no=line_no, level=parsed.level, thread=None)
        for line in parsed.lines[:MAX_RECORD_LINES]:
            record.add(line_no, line, replaced)
        return record

    def _skip_frames(self, buf: bytes, pos: int, end: int, record: Record) -> int:
        """The position after the run of frames at ``pos`` once ``record`` keeps no more of them
        (counted, not decoded); ``pos`` itself when there is no such run, or it would pass the record bound."""
        run = _FRAME_RUN.match(buf, pos, end)
        if run is None:
            return pos
        count = buf.count(b"\n", pos, run.end())
        if record.total_lines + count > MAX_RECORD_LINES:
            return pos  # line by line, so the record closes exactly at the bound
        record.skip_frames(count)
        self.line_no += count
        return run.end()

    def _continue_block(self, buf: bytes, pos: int, end: int, record: Record) -> tuple[int, bool] | None:
        """:meth:`_continue` for a Spark log, a record's lines at a time: one regex search finds where
        the record ends, one decode and one split give its lines.  None when the lines need the
        line-by-line path: a progress bar in them, bytes that are not UTF-8, or the record bound."""
        if record.total_lines >= MAX_RECORD_LINES or pos >= end:
            return None
        if (_RECORD_START.match(buf, pos, min(end, pos + 19)) is not None or buf.startswith(_UNCAUGHT, pos, end)
                or buf.startswith(JSON_START, pos, end)):
            return pos, True
        after = _NEXT_RECORD.search(buf, pos, end)
        stop = after.start() if after is not None else end
        if buf.find(b"\r", pos, stop) >= 0 or buf.find(b"[Stage ", pos, stop) >= 0:
            return None
        block = buf[pos:stop]
        if after is None and block.endswith(b"\n"):
            block = block[:-1]
        try:
            lines = block.decode("utf-8").split("\n")
        except UnicodeDecodeError:
            return None
        if record.total_lines + len(lines) > MAX_RECORD_LINES:
            return None
        record.extend(self.line_no + 1, lines)
        self.line_no += len(lines)
        return (stop + 1, True) if after is not None else (end, False)

    def _continue(self, buf: bytes, pos: int, end: int, record: Record) -> tuple[int, bool]:
        """Add the continuation lines at ``pos`` to ``record``; (new position, whether the record closed)."""
        spark = self.spark
        if spark and (done := self._continue_block(buf, pos, end, record)) is not None:
            return done
        while pos < end:
            if record.total_lines >= MAX_RECORD_LINES:
                self.stats.long_records += 1
                return pos, True
            if record.frames >= KEPT_FRAMES and buf[pos : pos + 1] in (b"\t", b" "):
                skipped = self._skip_frames(buf, pos, end, record)
                if skipped != pos:
                    pos = skipped
                    continue
            nl = buf.find(b"\n", pos, end)
            stop = end if nl < 0 else nl
            opens = _opens_spark_record(buf, pos, stop) if spark else None
            if opens:
                return pos, True
            text, replaced = _decode(buf[pos:stop], self.stats)
            if opens is None and _starts_record(text, self.mode) and not _continues_python(record, text):
                return pos, True
            self.line_no += 1
            record.add(self.line_no, text, replaced)
            pos = stop + 1
        return pos, False

    def feed(self, buf: bytes, start: int, end: int, hits: list[int]) -> Iterator[Record | Repeat]:
        """The records of the block ``buf[start:end]``, whose anchors are at ``hits`` (:func:`.anchors.searched`)."""
        pos = start
        if self.open is not None:
            pos, closed = self._continue(buf, pos, end, self.open)
            if not closed:
                return
            yield self.open
            self.open = None
        shapes = self.shapes
        line_no = self.line_no  # a local while repeats are counted; the attribute for the methods that read it
        for hit in hits:
            if hit < pos:
                continue  # inside a record already read
            line_start = (buf.rfind(b"\n", pos, hit) + 1) or pos  # rfind gives -1 or an offset >= pos
            # Between two records of an error-heavy log: counted here, without the call.
            line_no += (buf.count(b"\n", pos, line_start) if line_start - pos < _VECTORISED
                        else _Newlines.between(buf, pos, line_start))
            nl = buf.find(b"\n", line_start, end)
            if self.spark and buf.startswith(JSON_START, line_start, end):
                stop = end if nl < 0 else nl
                if (json_record := self._json(buf[line_start:stop], line_no + 1)) is not None:
                    line_no += 1  # one JSON line is one whole record, its stack trace included
                    pos = stop + 1
                    yield json_record
                    continue
            shaped = shapes.find(buf, line_start, nl, end, line_no + 1) if shapes is not None and nl >= 0 else None
            if type(shaped) is Repeat:
                line_no += shaped.lines
                pos = shaped.stop + 1
                yield shaped
                continue
            stop = end if nl < 0 else nl
            self.line_no = line_no
            record = self._header(buf[line_start:stop])
            self.line_no += 1
            pos, closed = self._continue(buf, stop + 1, end, record)
            line_no = self.line_no
            if not closed:
                self.open = record
                return
            if shaped is not None and shapes is not None:
                shapes.settle(shaped, record)  # type: ignore[arg-type]
            yield record
        self.line_no = line_no
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


_RELAYS = ("spark_submit", "subprocess")
"""Airflow's modules that relay a child process's output line by line (SparkSubmitOperator; BashOperator and
SubprocessHook): a line of theirs that is no log4j line continues the nested log's current record."""


def _airflow_records(blocks: Iterable[tuple[bytes, int, int]], mode: LogKind, stats: ReadStats) -> Iterator[Record]:
    """Airflow task logs, line by line; a nested spark-submit log is parsed as Spark lines."""
    outer: Record | None = None
    nested: Record | None = None
    parse = parse_airflow3 if mode is LogKind.AIRFLOW3 else parse_airflow
    line_no = 0
    for raw in _lines(blocks):
        line_no += 1
        text, replaced = _decode(raw, stats)
        parsed: ParsedLine | None = parse(text) if text else None
        if parsed is None:
            # A raw line: the traceback of the last Airflow record, or output of the nested log.
            target = nested if nested is not None and outer is None else outer
            if target is None:
                outer = Record(line_no=line_no, level=None, thread=None)
                outer.add(line_no, text, replaced)
            else:
                target.add(line_no, text, replaced)
            continue
        message_lines = parsed.message.split("\n")
        spark = parse_log4j(message_lines[0])
        if spark is not None or (nested is not None and not _starts_record(message_lines[0], LogKind.SPARK_DRIVER)
                                 and parsed.source_file and parsed.source_file.startswith(_RELAYS)):
            stats.nested_spark_lines += 1
            if outer is not None:
                yield outer
                outer = None
            relayed = message_lines[0]
            if spark is None and nested is not None and not _opens_driver_output(nested, relayed):
                nested.add(line_no, relayed, replaced)  # a nested stack-trace line, relayed by Airflow
                continue
            if nested is not None:
                yield nested
            nested = Record(line_no=line_no, level=spark.level if spark else None, thread=spark.thread if spark else None,
                            nested=True)
            nested.add(line_no, spark.message if spark else message_lines[0], replaced)
            continue
        if nested is not None:
            yield nested
            nested = None
        if outer is not None:
            yield outer
        outer = Record(line_no=line_no, level=parsed.level, thread=None, source_file=parsed.source_file)
        for extra in message_lines:
            outer.add(line_no, extra, replaced)
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
    for buf, start, end, hits in searched(blocks, mode):
        yield from scanner.feed(buf, start, end, hits)  # type: ignore[misc]
    yield from scanner.finish()


def read_shaped(blocks: Iterable[tuple[bytes, int, int]], mode: LogKind, stats: ReadStats,
                guarded: tuple[re.Pattern[str], ...]) -> Iterator[Record | Repeat]:
    """:func:`read_records`, but a Spark record whose bytes differ from an earlier one's only in their
    digits comes out as a :class:`Repeat` of it (:mod:`.shapes`), to be used before the next is read."""
    if mode.airflow:
        yield from _airflow_records(blocks, mode, stats)
        return
    scanner = _Scanner(mode, stats, ShapeTable(_NEXT_RECORD, guarded))
    for buf, start, end, hits in searched(blocks, mode):
        yield from scanner.feed(buf, start, end, hits)
    yield from scanner.finish()
