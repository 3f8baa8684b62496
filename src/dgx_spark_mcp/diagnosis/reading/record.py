"""A record: one logged event (a header line) with the message lines of its stack trace.

Frames are counted, not kept; the message lines are kept (bounded), so the Caused-by chain can be
followed to its innermost cause, and a record remembers which of its kept lines held bytes that are
not UTF-8.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["KEPT_FRAMES", "MAX_KEPT_LINES", "MAX_LINE_CHARS", "MAX_RECORD_LINES", "ReadStats", "Record"]

MAX_KEPT_LINES = 200
"""Message lines kept per record; frames beyond them are only counted."""
MAX_RECORD_LINES = 5_000
"""A longer 'stack trace' is not one: the record is closed and the reader goes on."""
KEPT_FRAMES = 3
MAX_LINE_CHARS = 4_000

_PYTHON_ERROR = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning)\b(?::.*)?$")
_PYTHON_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<func>\S+)')
_NOT_CAUSES = ("Traceback", "During handling", "The above exception", "...", "Suppressed:", "Driver stacktrace:")


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
    replaced: list[int] = field(default_factory=list)
    """Kept lines (their numbers) whose bytes were not UTF-8 and were replaced by U+FFFD."""
    shape: int | None = None
    """The id the reader gave the shape of its bytes (:mod:`.shapes`), when it keyed them: the first of
    records that differ only in their digits, whose classification a consumer may keep for the rest."""

    def add(self, line_no: int, text: str, replaced: bool = False) -> None:
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
            if replaced:
                self.replaced.append(line_no)

    def extend(self, line_no: int, texts: list[str]) -> None:
        """``texts`` as lines ``line_no``, ``line_no + 1``, ...: what :meth:`add` makes of them one by
        one (none with replaced bytes), in one loop over locals: a stack trace's lines are most of an
        error-heavy log's."""
        lines, numbers = self.lines, self.line_numbers
        frames, in_traceback = self.frames, self.in_traceback
        self.total_lines += len(texts)
        for text in texts:
            head = text[:1]
            if (head == "\t" or head == " ") and text.lstrip().startswith("at "):
                frames += 1
                if frames > KEPT_FRAMES:
                    line_no += 1
                    continue
            if text.startswith("Traceback"):
                in_traceback = True
            elif text.startswith(("\tat ", "Caused by")):
                in_traceback = False
            if len(lines) < MAX_KEPT_LINES:
                lines.append(text[:MAX_LINE_CHARS])
                numbers.append(line_no)
            line_no += 1
        self.frames, self.in_traceback = frames, in_traceback

    def skip_frames(self, count: int) -> None:
        """``count`` more frames past the kept ones: counted, as :meth:`add` would, not kept."""
        self.total_lines += count
        self.frames += count

    def shift(self, lines: int) -> None:
        """Make the line numbers of a record read from a byte range file-wide."""
        self.line_no += lines
        self.line_numbers = [n + lines for n in self.line_numbers]
        self.replaced = [n + lines for n in self.replaced]

    def chars(self) -> int:
        return sum(len(line) for line in self.lines)

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
