"""A Python traceback read as an engineer reads it: the exception raised, its causes, and the user's own frame.

Airflow runs task code inside its own runner, so the last frames of a traceback are often Airflow's,
a provider's or the standard library's, and the line that matters is the last frame of the user's
code (a DAG file, a helper module) above them.  A frame is library code when its file lies in an
installed-packages folder (``site-packages``, ``dist-packages``), in the interpreter's own
``lib/pythonX.Y`` or is frozen; everything else is the user's.  Chained exceptions are printed
innermost cause first, so the last traceback block is the exception that ended the task and the
ones before it are its causes (``raise ... from ...`` or an exception raised while handling one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..reading.failure_text import first_line

__all__ = ["PythonFailure", "python_failure"]

_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<func>\S+)')
_ERROR = re.compile(r"^(?P<type>[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Timeout|Warning|Iteration|Failure|"
                    r"Deferred))(?::\s?(?P<message>.*))?$")
_LIBRARY = re.compile(r"/(?:site|dist)-packages/|/lib/python\d(?:\.\d+)?/|^<frozen ")
_MESSAGE_CHARS = 300


@dataclass(frozen=True)
class PythonFailure:
    """The exception that ended the code, its causes (innermost last), and where the user's code raised it."""

    error: tuple[int, str]
    """(line, ``Type: message``) of the exception raised last."""
    causes: list[str]
    """``Type: message`` of each exception it was raised from or while handling, nearest first."""
    frame: tuple[int, str] | None
    """(line, ``func (file:line)``) of the last frame of the user's own code, when there is one."""

    @property
    def exception(self) -> str:
        return self.error[1].split(":", 1)[0].rsplit(".", 1)[-1]

    def sentence(self) -> str:
        """``ValueError: bad row in parse_record (etl.py:12); caused by KeyError: 'id'``."""
        said = self.error[1]
        if self.frame is not None:
            said += f" in {self.frame[1]}"
        if self.causes:
            said += "; caused by " + "; caused by ".join(self.causes)
        return said


def _where(match: re.Match[str]) -> str:
    return f"{match['func']} ({match['file'].rsplit('/', 1)[-1]}:{match['line']})"


def python_failure(numbers: list[int], lines: list[str]) -> PythonFailure | None:
    """The failure of the last Python traceback in ``lines`` (numbered ``numbers``), or None when there is none."""
    blocks: list[tuple[list[tuple[int, re.Match[str]]], tuple[int, str]]] = []
    frames: list[tuple[int, re.Match[str]]] | None = None
    for n, text in zip(numbers, lines, strict=True):
        if "Traceback (most recent call last)" in text:
            frames = []
            continue
        if frames is None:
            continue
        if match := _FRAME.match(text):
            frames.append((n, match))
        elif text[:1] not in (" ", "\t", "") and (error := _ERROR.match(text.strip())):
            message = (error["message"] or "").strip()
            said = error["type"] + (f": {first_line(message, _MESSAGE_CHARS)}" if message else "")
            blocks.append((frames, (n, said)))
            frames = None
    if not blocks:
        return None
    last_frames, error = blocks[-1]
    user = [(n, m) for n, m in last_frames if not _LIBRARY.search(m["file"])]
    if not user:  # raised inside a library: the user's call into it is in an earlier block, if anywhere
        user = [(n, m) for frames_, _ in blocks for n, m in frames_ if not _LIBRARY.search(m["file"])]
    frame = (user[-1][0], _where(user[-1][1])) if user else None
    causes = [said for _, (_, said) in reversed(blocks[:-1]) if said != error[1]]
    return PythonFailure(error=error, causes=causes[:3], frame=frame)
