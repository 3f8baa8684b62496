"""Read a Spark configuration from wherever it is written, keeping where each key was written.

Four shapes, one result (:class:`ParsedConfig`):

* a dict of key → value (an agent's own view of a config);
* ``spark-defaults.conf`` text (Java properties: ``key value``, ``key=value`` or ``key: value``,
  ``#``/``!`` comments, backslash continuations);
* a ``spark-submit`` (or ``pyspark``/``spark-shell``/``spark-sql``) command line, quoted the shell
  way (read with :mod:`shlex`), with ``--conf k=v`` and the dedicated flags (``--executor-memory``
  ...) mapped to their keys;
* a source file: PySpark, Scala/Java, SQL or a notebook (see :mod:`.code_config`).

Every key keeps its line and column so an agent in an IDE can edit it in place.  A value that is
not a literal (a variable, ``$MEM``, an f-string) is kept with ``value=None`` and a note: the
checker never guesses it.
"""

from __future__ import annotations

import json
import re
import reprlib
import shlex
from enum import StrEnum
from functools import cache
from pathlib import PurePath
from typing import Any, Literal

from pydantic import BaseModel, Field

from ..errors import BadInputError
from ..files import looks_binary
from ..json_depth import check_json_depth
from ..knowledge import load_knowledge

__all__ = [
    "MAX_CONFIG_BYTES",
    "ConfigFormat",
    "Language",
    "ParsedConfig",
    "ParsedKey",
    "TokenCursor",
    "detect_format",
    "parse_conf_text",
    "parse_config",
    "parse_dict",
    "parse_submit",
    "submit_arguments",
]

Language = Literal["python", "scala", "java", "kotlin", "sql", "r"]

MAX_CONFIG_BYTES = 10 * 1024**2
"""Largest configuration or source read (a file, or pasted text): no file that sets a Spark config is near it."""


class ConfigFormat(StrEnum):
    AUTO = "auto"
    JSON = "json"
    CONF = "conf"
    SUBMIT = "submit"
    SOURCE = "source"


class ParsedKey(BaseModel):
    """One key as written: its value (None when not a literal) and where it is."""

    key: str
    value: str | None = Field(description="The literal value; None when the source computes it (not guessed).")
    line: int | None = Field(default=None, description="1-based line (within the cell for notebooks); None for a dict.")
    column: int | None = Field(default=None, description="1-based column of the key.")
    cell: int | None = Field(default=None, description="1-based notebook cell, for .ipynb files.")
    text: str | None = Field(default=None, description="The source line, trimmed (at most 200 characters).")
    origin: str = Field(
        description="How it was set: 'spark-defaults.conf', '--conf', '--executor-memory', '.config()', 'SET', 'dict', ..."
    )


class ParsedConfig(BaseModel):
    format: ConfigFormat
    language: Language | None = Field(default=None, description="The job's language when the input tells it.")
    entries: list[ParsedKey] = Field(default_factory=list, description="Every key in the order written.")
    app_resource: str | None = Field(default=None, description="spark-submit's application (jar or .py), if any.")
    notes: list[str] = Field(default_factory=list)

    def winners(self) -> dict[str, ParsedKey]:
        """key → the entry Spark uses: the last one written, except that spark-submit's dedicated
        flags (--executor-memory ...) win over --conf of the same key, as in SparkSubmitArguments."""
        chosen: dict[str, ParsedKey] = {}
        for entry in self.entries:
            previous = chosen.get(entry.key)
            if previous is not None and _is_flag(previous) and entry.origin == "--conf":
                continue
            chosen[entry.key] = entry
        return chosen


def _is_flag(entry: ParsedKey) -> bool:
    return entry.origin.startswith("-") and entry.origin not in ("--conf", "-c")


class _SubmitOption(BaseModel):
    key: str | None
    takes_value: bool = True
    flag_value: str | None = None


class _SubmitOptions(BaseModel):
    about: str
    source: str
    commands: list[str]
    options: dict[str, _SubmitOption]


@cache
def _submit_options() -> _SubmitOptions:
    return load_knowledge("spark-submit-options.json", _SubmitOptions)


def _line_text(lines: list[str], line: int) -> str:
    return lines[line - 1].strip()[:200] if 0 < line <= len(lines) else ""


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def located(key: str, value: str | None, text: str, offset: int, origin: str, lines: list[str]) -> ParsedKey:
    """A ParsedKey at character ``offset`` of ``text``."""
    line, column = _position(text, offset)
    return ParsedKey(key=key, value=value, line=line, column=column, text=_line_text(lines, line), origin=origin)


# --- dict -------------------------------------------------------------------------------------


def _scalar(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"  # as PySpark's builder.config writes a bool
    if isinstance(value, (int, float, str)):
        return str(value)
    raise BadInputError(  # reprlib: a nested value is shown a few levels deep and cut, never whole
        f"config value of {key!r} is {type(value).__name__} {reprlib.repr(value)}; expected a string, number or boolean"
    )


def parse_dict(config: dict[str, Any]) -> ParsedConfig:
    if any(not str(k).strip() for k in config):
        raise BadInputError("the config has an empty key; every key must be a Spark key such as 'spark.executor.memory'")
    entries = [ParsedKey(key=str(k), value=_scalar(str(k), v), origin="dict") for k, v in config.items()]
    return ParsedConfig(format=ConfigFormat.JSON, entries=entries)


# --- spark-defaults.conf ----------------------------------------------------------------------

_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


def _unescape(text: str) -> str:
    """Java properties escapes: \\t \\n \\r \\f \\uXXXX, and \\x for any other x."""
    out, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[i + 2 : i + 6]):
                out.append(chr(int(text[i + 2 : i + 6], 16)))
                i += 6
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _continues(line: str) -> bool:
    trailing = len(line) - len(line.rstrip("\\"))
    return trailing % 2 == 1


_SEPARATOR = re.compile(r"(?<!\\)[=:\s]")


def parse_conf_text(text: str) -> ParsedConfig:
    """``spark-defaults.conf`` as java.util.Properties reads it (Spark then trims each value)."""
    lines = text.splitlines()
    entries: list[ParsedKey] = []
    notes: list[str] = []
    number = 0
    while number < len(lines):
        start = number
        raw = lines[number]
        number += 1
        stripped = raw.lstrip()
        if not stripped or stripped[0] in "#!":
            continue
        logical = stripped
        while _continues(logical) and number < len(lines):
            logical = logical[:-1] + lines[number].lstrip()
            number += 1
        if _continues(logical):
            logical = logical[:-1]
        match = _SEPARATOR.search(logical)
        key_raw = logical[: match.start()] if match else logical
        rest = logical[match.start():] if match else ""
        rest = re.sub(r"^\s*[=:]?\s*", "", rest, count=1)
        column = len(raw) - len(stripped) + 1
        if not key_raw:
            notes.append(f"line {start + 1} has no key ({raw.strip()[:60]!r}): Spark ignores it")
            continue
        entries.append(ParsedKey(
            key=_unescape(key_raw), value=_unescape(rest).strip(), line=start + 1, column=column,
            text=raw.strip()[:200], origin="spark-defaults.conf",
        ))
    return ParsedConfig(format=ConfigFormat.CONF, entries=entries, notes=notes)


# --- spark-submit -----------------------------------------------------------------------------

_SHELL_EXPR = re.compile(r"\$[{(A-Za-z_]|`")
_OPERATOR = re.compile(r"^[;&|<>()]+$")


def _logical_lines(text: str) -> list[tuple[int, int, str]]:
    """(first physical line, offset, text) of each shell line, backslash-newline joined."""
    out, start, offset, buf = [], 1, 0, ""
    position = 0
    for number, line in enumerate(text.split("\n"), start=1):
        if not buf:
            start, offset = number, position
        if _continues(line):
            buf += line[:-1] + " "
        else:
            out.append((start, offset, buf + line))
            buf = ""
        position += len(line) + 1
    if buf:
        out.append((start, offset, buf))
    return out


def _unclosed_quote(command: str) -> int:
    """Offset of the quote that shlex found unclosed (single quotes take no escapes)."""
    quote, opened, i = "", -1, 0
    while i < len(command):
        ch = command[i]
        if ch == "\\" and quote != "'":
            i += 2
            continue
        if quote and ch == quote:
            quote = ""
        elif not quote and ch in "'\"":
            quote, opened = ch, i
        i += 1
    return max(opened, 0)


def _tokens(command: str, first_line: int, text: str, offset: int) -> list[str]:
    lexer = shlex.shlex(command, posix=True, punctuation_chars=";&|<>()")
    lexer.whitespace_split = True
    try:
        return list(lexer)
    except ValueError as exc:
        where = offset + _unclosed_quote(command)
        line = text.count("\n", 0, where) + 1
        raise BadInputError(
            f"the spark-submit command starting on line {first_line} cannot be read: {exc} "
            f"(line {line}: {text.splitlines()[line - 1].strip()[:120]!r}); close the quote or escape it with a backslash"
        ) from None


def _names_a_command(command: str) -> bool:
    return any(re.search(rf"(^|[\s/'\"]){re.escape(name)}(\.cmd|\.sh)?($|[\s'\"])", command)
               for name in _submit_options().commands)


def _command_index(tokens: list[str]) -> int | None:
    commands = _submit_options().commands
    for index, token in enumerate(tokens):
        name = PurePath(token).name.removesuffix(".cmd").removesuffix(".sh")
        if name in commands:
            return index
    return None


class TokenCursor:
    """Finds each token's text in the original, in order, to give it a line and column."""

    def __init__(self, text: str, start: int) -> None:
        self.text, self.at, self.start = text, start, start
        self.lines = text.splitlines()

    def place(self, needle: str, key: str, value: str | None, origin: str) -> ParsedKey:
        found = self.text.find(needle, self.at) if needle else -1
        if found < 0:
            found = self.start
        else:
            self.at = found + len(needle)
        return located(key, value, self.text, found, origin, self.lines)


def submit_arguments(tokens: list[str], cursor: TokenCursor, notes: list[str]) -> tuple[list[ParsedKey], str | None]:
    """Keys set by spark-submit arguments (no command name), and the application resource."""
    options = _submit_options().options
    entries: list[ParsedKey] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if _OPERATOR.match(token):
            break  # ; && | > end the command
        if not token.startswith("-") or token == "-":
            return entries, token  # the application; what follows are its own arguments
        name, _, inline = token.partition("=") if token.startswith("--") else (token, "", "")
        if name in ("--conf", "-c"):
            pair = inline if "=" in token else (tokens[i] if i < len(tokens) else "")
            i += 0 if "=" in token else 1
            key, eq, value = pair.partition("=")
            if not eq or not key.strip():
                notes.append(f"--conf {pair!r} is not key=value: spark-submit refuses it; write --conf key=value")
                continue
            entries.append(_submit_value(cursor, key, value, "--conf", notes))
            continue
        option = options.get(name)
        if option is None:
            notes.append(f"option {name!r} is not a spark-submit option; it was ignored")
            continue
        if not option.takes_value:
            if option.key:
                entries.append(cursor.place(name, option.key, option.flag_value, name))
            continue
        value = inline if "=" in token else (tokens[i] if i < len(tokens) else None)
        i += 0 if "=" in token else 1
        if value is None:
            notes.append(f"option {name} has no value")
        elif option.key:
            entries.append(_submit_value(cursor, option.key, value, name, notes, needle=name))
        elif name == "--properties-file":
            notes.append(f"spark-submit also reads the properties file {value!r}: check it too (format conf)")
    return entries, None


def _submit_value(
    cursor: TokenCursor, key: str, value: str, origin: str, notes: list[str], needle: str | None = None
) -> ParsedKey:
    if _SHELL_EXPR.search(value):
        notes.append(f"{key} is set to the shell expression {value!r}: its value is not known here and was not checked")
        return cursor.place(needle or key, key, None, origin)
    return cursor.place(needle or key, key, value, origin)


def parse_submit(text: str, forced: bool = False) -> ParsedConfig:
    """The first spark-submit-like command in ``text`` (a command line or a shell script)."""
    notes: list[str] = []
    for first_line, offset, command in _logical_lines(text):
        bare_args = forced and command.lstrip().startswith("-")
        if command.lstrip().startswith("#") or not (bare_args or _names_a_command(command)):
            continue  # other lines of a script are not ours to read (an unbalanced quote there is fine)
        tokens = _tokens(command, first_line, text, offset)
        index = _command_index(tokens)
        if index is None and not (forced and tokens and tokens[0].startswith("-")):
            continue
        args = tokens[index + 1 :] if index is not None else tokens
        program = PurePath(tokens[index]).name if index is not None else None
        entries, resource = submit_arguments(args, TokenCursor(text, offset), notes)
        language: Language | None = None
        if program == "pyspark" or (resource or "").endswith(".py"):
            language = "python"
        elif program == "sparkR" or (resource or "").lower().endswith(".r"):
            language = "r"
        elif program == "spark-sql":
            language = "sql"
        elif program in ("spark-shell", "spark3-shell") or (resource or "").endswith(".jar"):
            language = "scala"
        if any(e.key == "spark.submit.pyFiles" for e in entries):
            language = "python"
        return ParsedConfig(format=ConfigFormat.SUBMIT, language=language, entries=entries,
                            app_resource=resource, notes=notes)
    names = ", ".join(_submit_options().commands[:5])
    raise BadInputError(
        f"no spark-submit command found (looked for {names}); give the command line, "
        "or choose format 'conf' for spark-defaults.conf text"
    )


# --- detection and dispatch -------------------------------------------------------------------

_SOURCE_EXT: dict[str, Language] = {".py": "python", ".ipynb": "python", ".scala": "scala", ".sc": "scala", ".java": "java",
               ".kt": "kotlin", ".kts": "kotlin", ".sql": "sql", ".hql": "sql", ".r": "r"}
_CONF_EXT = {".conf", ".properties", ".defaults", ".template"}
_SHELL_EXT = {".sh", ".bash", ".zsh", ".ksh", ".cmd"}
_SOURCE_HINT = re.compile(
    r"SparkSession|SparkConf\s*\(|\.config\s*\(|\bconf\.set\s*\(|^\s*SET\s+[\w.`-]+\s*=", re.MULTILINE | re.IGNORECASE
)


def detect_format(text: str, filename: str | None = None) -> ConfigFormat:
    """The format of ``text``, from the file's extension first, then from what the text looks like."""
    suffix = PurePath(filename).suffix.lower() if filename else ""
    if suffix in _SOURCE_EXT:
        return ConfigFormat.SOURCE
    if suffix in _CONF_EXT:
        return ConfigFormat.CONF
    if suffix in _SHELL_EXT:
        return ConfigFormat.SUBMIT
    if suffix == ".json":
        return ConfigFormat.JSON
    for _, _, command in _logical_lines(text):
        words = command.split()
        if words and not words[0].startswith("#") and any(
            PurePath(w.strip("'\"")).name in _submit_options().commands for w in words[:4]
        ):
            return ConfigFormat.SUBMIT
    if text.lstrip().startswith("{"):
        return ConfigFormat.JSON
    if _SOURCE_HINT.search(text):
        return ConfigFormat.SOURCE
    return ConfigFormat.CONF


def _parse_json_text(text: str) -> ParsedConfig:
    check_json_depth(text, "the config")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInputError(
            f"the config is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "give a JSON object of key -> value, or choose another format"
        ) from None
    if not isinstance(data, dict):
        raise BadInputError(f"the JSON config is a {type(data).__name__}; expected an object of key -> value")
    return parse_dict(data)


def _check_text(text: str, filename: str | None) -> None:
    what = filename or "the config text"
    if len(text) > MAX_CONFIG_BYTES:
        raise BadInputError(
            f"{what} is {len(text) / 1024**2:.1f} MiB, above the {MAX_CONFIG_BYTES // 1024**2} MiB a configuration or "
            "source file can be; give the file (or the part of it) that sets the Spark configuration"
        )
    if looks_binary(text[: 1 << 16].encode("utf-8", errors="replace")):
        raise BadInputError(
            f"{what} is binary data, not a configuration (NUL or control characters); give spark-defaults.conf text, "
            "a spark-submit command or PySpark/Scala/SQL source"
        )


_CONFIG_KEY = re.compile(r"[A-Za-z_][\w-]*(?:\.[\w-]+)+")
"""A configuration key: dotted words (spark.executor.memory, spark.hadoop.fs.s3a.endpoint)."""


def _refuse_non_config(parsed: ParsedConfig, filename: str | None) -> None:
    """Text read as spark-defaults.conf where no line has a dotted key is something else (a log, prose): checking
    its lines as keys would only list each one as unknown."""
    if not parsed.entries or any(_CONFIG_KEY.fullmatch(e.key) for e in parsed.entries):
        return
    first = parsed.entries[0]
    what = f"{filename!r}" if filename else "the text"
    raise BadInputError(
        f"{what} does not read as a Spark configuration: none of its {len(parsed.entries)} 'key value' lines has a "
        f"dotted key such as spark.executor.memory (line {first.line} starts {(first.text or first.key)[:60]!r}); give "
        "spark-defaults.conf text, a spark-submit command or a source file, or format 'conf' to check it anyway "
        "(a log belongs to diagnose_log)"
    )


def parse_config(
    config: dict[str, Any] | str, fmt: ConfigFormat = ConfigFormat.AUTO, filename: str | None = None
) -> ParsedConfig:
    """Parse ``config`` in ``fmt`` (auto-detected by default); ``filename`` helps detection."""
    from .code_config import parse_source

    if isinstance(config, dict):
        if fmt not in (ConfigFormat.AUTO, ConfigFormat.JSON):
            raise BadInputError(f"config is an object, so format {fmt.value!r} does not apply; use 'auto' or 'json'")
        parsed = parse_dict(config)
    else:
        _check_text(config, filename)
        chosen = detect_format(config, filename) if fmt is ConfigFormat.AUTO else fmt
        if chosen is ConfigFormat.JSON:
            parsed = _parse_json_text(config)
        elif chosen is ConfigFormat.CONF:
            parsed = parse_conf_text(config)
            if fmt is ConfigFormat.AUTO:
                _refuse_non_config(parsed, filename)
        elif chosen is ConfigFormat.SUBMIT:
            parsed = parse_submit(config, forced=fmt is ConfigFormat.SUBMIT)
        else:
            suffix = PurePath(filename).suffix.lower() if filename else ""
            parsed = parse_source(config, _SOURCE_EXT.get(suffix), notebook=suffix == ".ipynb")
    if not parsed.entries:
        where = f" in {filename}" if filename else ""
        parsed.notes.append(f"no Spark configuration found{where} ({parsed.format.value} format): nothing to check")
    return parsed
