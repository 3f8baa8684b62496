"""Spark configuration written inside code: PySpark, Scala/Java/Kotlin, SQL and notebooks.

What is found, with the line and column of each key:

* ``.config("k", "v")``, ``.config(key="k", value="v")``, ``.config(map={...})``,
  ``SparkConf().set("k", "v")`` / ``setIfMissing`` / ``setAll([...])``, ``spark.conf.set("k", v)``;
  ``.set`` only for ``spark.*`` keys, since ``hadoopConfiguration().set`` is not Spark's;
* ``.master("...")`` / ``.appName("...")`` / ``.remote("...")``;
* dict (and Scala ``Map``) literals whose keys are ``spark.*`` (``conf={...}`` for Airflow's
  SparkSubmitOperator, a dict looped into the builder);
* SQL ``SET k=v`` statements, in .sql files and in ``spark.sql("SET ...")`` strings;
* ``--conf k=v`` (and ``--executor-memory`` ...) inside strings, e.g. ``PYSPARK_SUBMIT_ARGS``.

Python is read with :mod:`ast`, so a call spread over lines is one call and comments are not
code; the others with patterns over the text with comments blanked.  A value that is not a
literal is reported with ``value=None``, never evaluated or guessed.
"""

from __future__ import annotations

import ast
import json
import re
import shlex
from typing import Any

from ..errors import BadInputError
from ..json_depth import check_json_depth
from .config_sources import (
    ConfigFormat,
    Language,
    ParsedConfig,
    ParsedKey,
    TokenCursor,
    located,
    submit_arguments,
)

__all__ = ["parse_source", "parse_sql_sets"]

_CONFIG_CALLS = {"config", "set", "setIfMissing"}
_NAMED_CALLS = {"master": "spark.master", "setMaster": "spark.master", "appName": "spark.app.name",
                "setAppName": "spark.app.name", "remote": "spark.remote"}
_SUBMIT_IN_STRING = re.compile(r"(^|\s)(--conf[\s=]|-c\s|--(executor|driver)-(memory|cores)\b|--num-executors\b)")
# Livy session fields that sparkmagic's %%configure accepts next to "conf".
_LIVY_FIELDS = {"driverMemory": "spark.driver.memory", "driverCores": "spark.driver.cores",
                "executorMemory": "spark.executor.memory", "executorCores": "spark.executor.cores",
                "numExecutors": "spark.executor.instances"}


def _trim(lines: list[str], line: int) -> str:
    return lines[line - 1].strip()[:200] if 0 < line <= len(lines) else ""


# --- SQL ----------------------------------------------------------------------------------------

def _blank(text: str, line_comment: str, quotes: str) -> str:
    """``text`` with comments replaced by spaces (newlines kept), so offsets and lines stay true."""
    out = list(text)
    i, quote = 0, ""
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = ""
        elif ch in quotes:
            quote = ch
        elif text.startswith(line_comment, i):
            end = text.find("\n", i)
            end = len(text) if end < 0 else end
            out[i:end] = " " * (end - i)
            i = end
            continue
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = len(text) if end < 0 else end + 2
            out[i:end] = [c if c == "\n" else " " for c in text[i:end]]
            i = end
            continue
        i += 1
    return "".join(out)


_SET = re.compile(r"\s*SET\s+(?!-v\b)(`[^`]+`|[^\s=;`]+)\s*=\s*", re.IGNORECASE)


def _sql_value(raw: str) -> str | None:
    value = raw.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    return None if "${" in value else value


def parse_sql_sets(sql: str) -> list[tuple[str, str | None, int]]:
    """(key, value, offset of the key) of every ``SET key=value`` statement in ``sql``."""
    clean = _blank(sql, "--", "'\"`")
    found: list[tuple[str, str | None, int]] = []
    start = 0
    for part in re.split(r"(;)", clean) + [""]:
        if part == ";":
            start += 1
            continue
        match = _SET.match(part)
        if match:
            key = match.group(1).strip("`")
            value = _sql_value(sql[start + match.end() : start + len(part)])
            found.append((key, value, start + match.start(1)))
        start += len(part)
    return found


def _sql(text: str) -> list[ParsedKey]:
    lines = text.splitlines()
    return [located(key, value, text, offset, "SET", lines) for key, value, offset in parse_sql_sets(text)]


# --- Python -------------------------------------------------------------------------------------

def _literal(node: ast.AST | None) -> str | None:
    """The value as Spark receives it from PySpark's builder (bools as 'true'/'false'); None if computed."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, int, float)):
        if isinstance(node.value, bool):
            return "true" if node.value else "false"
        return str(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        if isinstance(node.operand.value, (int, float)) and not isinstance(node.operand.value, bool):
            return f"-{node.operand.value}"
    return None


def _expression_text(node: ast.AST) -> str:
    try:
        return ast.unparse(node)[:60]
    except RecursionError:  # unparse recurses; an expression ast.parse built can still be too deep for it
        return "a deeply nested expression"


def _string(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


class _PythonReader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = text.splitlines()
        starts = [0]
        for line in self.lines:
            starts.append(starts[-1] + len(line) + 1)
        self.starts = starts
        self.entries: list[ParsedKey] = []
        self.notes: list[str] = []
        self.used: set[int] = set()

    def _column(self, node: ast.AST) -> int:
        line = self.lines[node.lineno - 1] if node.lineno <= len(self.lines) else ""
        # ast columns count UTF-8 bytes; editors count characters.
        return len(line.encode()[: node.col_offset].decode(errors="ignore")) + 1

    def add(self, key: str, value_node: ast.AST | None, at: ast.AST, origin: str, value: str | None = None) -> None:
        literal = value if value is not None else _literal(value_node)
        if literal is None and value_node is not None:
            self.notes.append(
                f"{key} (line {at.lineno}) is set to an expression, {_expression_text(value_node)!r}: "
                "its value is not known here and was not checked"
            )
        self.used.add(id(at))
        self.entries.append(ParsedKey(key=key, value=literal, line=at.lineno, column=self._column(at),
                                      text=_trim(self.lines, at.lineno), origin=origin))

    def call(self, node: ast.Call) -> None:
        if not isinstance(node.func, ast.Attribute):
            return
        name = node.func.attr
        keywords = {k.arg: k.value for k in node.keywords if k.arg}
        if name in _CONFIG_CALLS:
            key_node = node.args[0] if node.args else keywords.get("key")
            value_node = node.args[1] if len(node.args) > 1 else keywords.get("value")
            key = _string(key_node)
            if isinstance(keywords.get("map"), ast.Dict):
                self.mapping(keywords["map"], any_key=True)
            elif key is not None and key_node is not None and (name == "config" or key.startswith("spark.")):
                self.add(key, value_node, key_node, f".{name}()")
            elif key_node is not None and key is None and name == "config" and "conf" not in keywords:
                self.notes.append(f".config() on line {node.lineno} has a computed key: not checked")
        elif name in _NAMED_CALLS and node.args and _string(node.args[0]) is not None:
            self.add(_NAMED_CALLS[name], node.args[0], node.args[0], f".{name}()")
        elif name == "setAll" and node.args and isinstance(node.args[0], (ast.List, ast.Tuple)):
            for pair in node.args[0].elts:
                if isinstance(pair, ast.Tuple) and len(pair.elts) == 2 and _string(pair.elts[0]):
                    self.add(str(_string(pair.elts[0])), pair.elts[1], pair.elts[0], ".setAll()")
        elif name == "sql" and node.args and _string(node.args[0]) is not None:
            self.sql_string(node.args[0])

    def mapping(self, node: ast.Dict, any_key: bool = False) -> None:
        self.used.add(id(node))
        for key_node, value_node in zip(node.keys, node.values, strict=True):
            key = _string(key_node)
            if key is not None and key_node is not None and (any_key or key.startswith("spark.")):
                self.add(key, value_node, key_node, "dict")

    def sql_string(self, node: ast.expr) -> None:
        sql = str(_string(node))
        self.used.add(id(node))
        for key, value, offset in parse_sql_sets(sql):
            line = node.lineno + sql.count("\n", 0, offset)
            self.entries.append(ParsedKey(key=key, value=value, line=line, column=self._column(node),
                                          text=_trim(self.lines, line), origin="SET"))

    def submit_string(self, node: ast.Constant) -> None:
        try:
            tokens = shlex.split(str(node.value))
        except ValueError:
            return
        offset = self.starts[node.lineno - 1] + self._column(node) - 1
        entries, _ = submit_arguments(tokens, TokenCursor(self.text, offset), self.notes)
        self.entries.extend(e.model_copy(update={"origin": f"{e.origin} (in a string)"}) for e in entries)

    def read(self, tree: ast.AST) -> None:
        nodes = sorted(
            (n for n in ast.walk(tree) if isinstance(n, (ast.Call, ast.Dict, ast.Constant))),
            key=lambda n: (n.lineno, n.col_offset),
        )
        for node in nodes:
            if id(node) in self.used:
                continue
            if isinstance(node, ast.Call):
                self.call(node)
            elif isinstance(node, ast.Dict):
                self.mapping(node)
            elif isinstance(node.value, str) and _SUBMIT_IN_STRING.search(node.value):
                self.submit_string(node)


def _python(text: str) -> tuple[list[ParsedKey], list[str]]:
    reader = _PythonReader(text)
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        reader.notes.append(
            f"the Python source does not parse (line {exc.lineno}: {exc.msg}); keys were read line by line instead"
        )
        entries, _ = _jvm_language(text)
        return entries, reader.notes
    except (RecursionError, MemoryError):  # CPython's parser on an expression nested thousands deep
        reader.notes.append("the Python source nests too deeply for Python's own parser (an expression thousands of "
                            "terms deep); keys were read line by line instead")
        entries, _ = _jvm_language(text)
        return entries, reader.notes
    reader.read(tree)
    # Chained builder calls nest outside-in; report the keys in reading order.
    return sorted(reader.entries, key=lambda e: (e.line or 0, e.column or 0)), reader.notes


# --- Scala, Java, Kotlin ---------------------------------------------------------------------

_STR = r'"((?:[^"\\\n]|\\.)*)"'
_VALUE = re.compile(r'\s*(?:' + _STR + r'|(-?\d+(?:\.\d+)?)[LlFfDd]?|(true|false))\s*[),]')
_JVM_CALL = re.compile(r"\.(config|set|setIfMissing)\s*\(\s*" + _STR + r"\s*,")
_JVM_NAMED = re.compile(r"\.(master|setMaster|appName|setAppName|remote)\s*\(\s*" + _STR + r"\s*\)")
_JVM_MAP = re.compile(_STR.replace("((?:", "(spark\\.(?:", 1) + r"\s*(?:->|\bto\b)")
_JVM_SQL = re.compile(r"\bsql\s*\(\s*" + _STR)
_JVM_STRING = re.compile(_STR)


def _jvm_value(text: str, at: int) -> str | None:
    match = _VALUE.match(text, at)
    if match is None:
        return None
    string, number, boolean = match.groups()
    if string is not None:
        return re.sub(r"\\(.)", r"\1", string)
    return number if number is not None else boolean


def _jvm_language(text: str) -> tuple[list[ParsedKey], list[str]]:
    clean = _blank(text, "//", '"')
    lines = text.splitlines()
    entries: list[ParsedKey] = []
    notes: list[str] = []
    for match in _JVM_CALL.finditer(clean):
        call, key = match.group(1), match.group(2)
        if call == "config" or key.startswith("spark."):
            value = _jvm_value(clean, match.end())
            if value is None:
                notes.append(f"{key} is set to an expression: its value is not known here and was not checked")
            entries.append(located(key, value, text, match.start(2) - 1, f".{call}()", lines))
    for match in _JVM_NAMED.finditer(clean):
        entries.append(located(_NAMED_CALLS[match.group(1)], match.group(2), text, match.start(2) - 1,
                               f".{match.group(1)}()", lines))
    for match in _JVM_MAP.finditer(clean):
        entries.append(located(match.group(1), _jvm_value(clean, match.end()), text, match.start(1) - 1, "Map", lines))
    for match in _JVM_SQL.finditer(clean):
        for key, value, offset in parse_sql_sets(match.group(1)):
            entries.append(located(key, value, text, match.start(1) + offset, "SET", lines))
    for match in _JVM_STRING.finditer(clean):
        if _SUBMIT_IN_STRING.search(match.group(1)):
            try:
                tokens = shlex.split(match.group(1))
            except ValueError:
                continue
            found, _ = submit_arguments(tokens, TokenCursor(text, match.start(1)), notes)
            entries.extend(e.model_copy(update={"origin": f"{e.origin} (in a string)"}) for e in found)
    entries.sort(key=lambda e: (e.line or 0, e.column or 0))
    return entries, notes


# --- notebooks ----------------------------------------------------------------------------------

def _configure_cell(cell_text: str, cell: int) -> list[ParsedKey]:
    """sparkmagic's ``%%configure`` cell: a Livy session request with "conf" and sizing fields."""
    body = cell_text.partition("\n")[2]
    check_json_depth(body, f"the %%configure cell {cell}")
    try:
        data = json.loads(body)
    except json.JSONDecodeError:
        return []
    if not isinstance(data, dict):
        return []
    conf = data.get("conf") if isinstance(data.get("conf"), dict) else {}
    pairs = [(key, value, key) for key, value in conf.items()]
    pairs += [(_LIVY_FIELDS[field], value, field) for field, value in data.items() if field in _LIVY_FIELDS]
    lines = cell_text.splitlines()
    out = []
    for key, value, needle in pairs:
        line = next((i for i, text in enumerate(lines, start=1) if f'"{needle}"' in text), None)
        literal = ("true" if value else "false") if isinstance(value, bool) else (
            None if isinstance(value, (dict, list)) or value is None else str(value))
        out.append(ParsedKey(key=key, value=literal, line=line, cell=cell,
                             text=_trim(lines, line) if line else None, origin="%%configure"))
    return out


def _object(value: Any) -> dict[str, Any]:
    """A notebook's metadata object; anything else (a list, a string: a hand-edited file) reads as empty."""
    return value if isinstance(value, dict) else {}


def _notebook_language(book: dict[str, Any]) -> Language:
    metadata = _object(book.get("metadata"))
    info = _object(metadata.get("language_info"))
    kernel = str(info.get("name") or _object(metadata.get("kernelspec")).get("language") or "python")
    return "scala" if "scala" in kernel.lower() else "python"


def _cell_source(cell: dict[str, Any], number: int, notes: list[str]) -> str | None:
    """A code cell's text: nbformat writes a string or a list of line strings; other pieces are skipped, noted."""
    source = cell.get("source", "")
    if isinstance(source, str):
        return source
    if not isinstance(source, list):
        notes.append(f"cell {number}: its source is {type(source).__name__}, not text (nbformat writes a string or a "
                     "list of lines); the cell was skipped")
        return None
    lines = [piece for piece in source if isinstance(piece, str)]
    if len(lines) < len(source):
        notes.append(f"cell {number}: {len(source) - len(lines)} piece(s) of its source are not text and were skipped")
    return "".join(lines)


def _notebook(text: str) -> tuple[list[ParsedKey], list[str], Language]:
    check_json_depth(text, "the .ipynb file")
    try:
        book: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInputError(f"the .ipynb file is not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}), so not a "
                            "Jupyter notebook; give the notebook file as Jupyter saved it") from None
    cells = book.get("cells") if isinstance(book, dict) else None
    if not isinstance(cells, list):
        found = "no 'cells'" if cells is None else f"'cells' is {type(cells).__name__}, not a list"
        raise BadInputError(f"the .ipynb file is not a Jupyter notebook ({found}); give the notebook file as Jupyter "
                            "saved it (nbformat 4: a JSON object whose 'cells' is a list)")
    language = _notebook_language(book)
    entries: list[ParsedKey] = []
    notes: list[str] = []
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        body = _cell_source(cell, number, notes)
        if body is None:
            continue
        first = body.lstrip().split("\n", 1)[0].strip()
        if first.startswith("%%configure"):
            found = _configure_cell(body.lstrip(), number)
        elif first.startswith("%%sql"):
            found = _sql(body)
        elif first.startswith(("%%scala", "%%spark")) or language == "scala":
            found, more = _jvm_language(body)
            notes += more
        else:
            # IPython magics and shell escapes are not Python: blank them, keep the line numbers.
            code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in body.split("\n"))
            found, more = _python(code)
            notes += [f"cell {number}: {n}" for n in more]
        entries += [e.model_copy(update={"cell": number}) for e in found]
    return entries, notes, language


def parse_source(text: str, language: Language | None, notebook: bool = False) -> ParsedConfig:
    """Keys set in a source file; ``language`` from the file's extension, guessed when None."""
    if notebook:
        entries, notes, lang = _notebook(text)
        return ParsedConfig(format=ConfigFormat.SOURCE, language=lang, entries=entries, notes=notes)
    if language is None:
        language = _guess_language(text)
    if language == "python":
        entries, notes = _python(text)
    elif language == "sql":
        entries, notes = _sql(text), []
    else:
        entries, notes = _jvm_language(text)
    return ParsedConfig(format=ConfigFormat.SOURCE, language=language, entries=entries, notes=notes)


def _guess_language(text: str) -> Language:
    if re.search(r"^\s*(from|import)\s+pyspark|^\s*def\s+\w+\(.*\):|\bspark\.conf\.set\(", text, re.MULTILINE):
        return "python"
    if re.search(r"^\s*(val|var|object|import\s+org\.apache)\b", text, re.MULTILINE):
        return "scala"
    if re.search(r"^\s*SET\s+", text, re.MULTILINE | re.IGNORECASE) and "(" not in text:
        return "sql"
    try:
        ast.parse(text)
        return "python"
    except (SyntaxError, RecursionError, MemoryError):  # the last two: nested too deeply for CPython's parser
        return "scala"
