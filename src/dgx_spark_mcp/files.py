"""Paths a tool may read: inside the allowed roots, regular files (or directories where asked).

Every tool that opens a user-named path goes through :func:`allowed_path`.  The path is
resolved with every symlink followed *before* the root check, so ``../`` and a link that
points out of the roots are refused alike; device files, FIFOs and sockets are refused
because reading them can block forever or never end.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import BadInputError
from .settings import Settings

__all__ = ["allowed_path", "looks_binary", "max_file_bytes"]


def max_file_bytes(settings: Settings) -> int:
    """Files above Settings.max_file_mib (default 20 GiB: a log that size is a mistake, not an input) are refused."""
    return settings.max_file_mib * 1024**2


def looks_binary(sample: bytes) -> bool:
    """True for bytes no text log, config or plan holds: a NUL, or more than 10% control characters.

    One test for every tool that reads text, so /proc/self/environ (NUL-separated) or an image is
    refused alike everywhere instead of being parsed as lines.
    """
    sample = sample[: 1 << 16]
    if b"\x00" in sample:
        return True
    controls = sum(1 for b in sample if b < 9 or 13 < b < 32)
    return bool(sample) and controls / len(sample) > 0.1


def _inside(path: Path, roots: list[Path]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


def allowed_path(raw: str | os.PathLike[str], settings: Settings, *, directory_ok: bool = False) -> Path:
    """The resolved path of ``raw`` if a tool may read it; BadInputError saying why not otherwise."""
    text = os.fspath(raw)
    if not text.strip():
        raise BadInputError("path is empty; give the path of a file under the allowed roots")
    if "\x00" in text:
        raise BadInputError(f"path {text!r} contains a NUL byte; give a plain file path")
    try:
        given = Path(text).expanduser()
    except RuntimeError:  # "~name/..." for a user this machine does not know
        raise BadInputError(
            f"path {text!r} starts with ~ but names no user of this machine; give an absolute path"
        ) from None
    try:
        resolved = given.resolve(strict=True)
    except FileNotFoundError:
        raise BadInputError(f"path {text!r} does not exist; check the spelling or give an absolute path") from None
    except (OSError, RuntimeError) as exc:  # symlink loops, permission on a parent
        raise BadInputError(f"path {text!r} cannot be resolved ({exc}); give a plain file path") from None
    roots = settings.allowed_roots
    if not _inside(resolved, roots):
        where = f" (it resolves to {resolved})" if resolved != given.absolute() else ""
        raise BadInputError(
            f"path {text!r} is outside the allowed roots{where}; allowed: "
            f"{', '.join(map(str, roots))}. Move the file under one of them or add its directory "
            "to DGX_SPARK_MCP_ALLOWED_ROOTS."
        )
    try:
        mode = resolved.stat().st_mode
    except OSError as exc:
        raise BadInputError(f"path {text!r} cannot be read ({exc.strerror})") from None
    if stat.S_ISDIR(mode):
        if directory_ok:
            return resolved
        raise BadInputError(f"path {text!r} is a directory; give a file inside it")
    if not stat.S_ISREG(mode):
        raise BadInputError(
            f"path {text!r} is not a regular file (a device, FIFO or socket); give a log or text file"
        )
    size = resolved.stat().st_size
    if size > max_file_bytes(settings):
        raise BadInputError(
            f"path {text!r} is {size / 1024**2:.1f} MiB, above the {settings.max_file_mib} MiB limit; "
            "give a smaller file or a slice of it, or raise DGX_SPARK_MCP_MAX_FILE_MIB"
        )
    if not os.access(resolved, os.R_OK):
        raise BadInputError(f"path {text!r} is not readable by this process; check its permissions")
    return resolved
