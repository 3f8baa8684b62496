"""Reading a configuration from a dict, spark-defaults.conf, spark-submit, or source code, with line numbers."""

from __future__ import annotations

import json
import shlex

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dgx_spark_mcp.errors import BadInputError
from dgx_spark_mcp.optimizers.config_sources import (
    ConfigFormat,
    ParsedConfig,
    detect_format,
    parse_conf_text,
    parse_config,
    parse_submit,
)


def _where(parsed: ParsedConfig) -> dict[str, tuple[str | None, int | None, int | None]]:
    return {e.key: (e.value, e.line, e.column) for e in parsed.entries}


# --- spark-defaults.conf ----------------------------------------------------------------------


def test_conf_text_reads_every_separator_comment_and_continuation() -> None:
    text = (
        "# comment\n"
        "spark.executor.memory   8g\n"
        "  spark.executor.cores=4\n"
        "spark.driver.extraJavaOptions: -Dx=1 \\\n"
        "      -Dy=2\n"
        "! also a comment\n"
        "spark.app.name  my\\tapp  \n"
    )
    assert _where(parse_conf_text(text)) == {
        "spark.executor.memory": ("8g", 2, 1),
        "spark.executor.cores": ("4", 3, 3),
        "spark.driver.extraJavaOptions": ("-Dx=1 -Dy=2", 4, 1),
        "spark.app.name": ("my\tapp", 7, 1),
    }


keys = st.from_regex(r"spark\.[a-z][a-zA-Z0-9]{0,8}(\.[a-z][a-zA-Z0-9]{0,8}){0,3}", fullmatch=True)
values = st.text(st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="\\"), min_size=1, max_size=30)


@given(st.dictionaries(keys, values.filter(lambda v: v[0] not in "=:"), min_size=1, max_size=8))
def test_conf_text_round_trips_any_keys_and_values(conf: dict[str, str]) -> None:
    # A value may not start with '=' or ':': java.util.Properties reads that as the separator.
    text = "".join(f"{k} {v}\n" for k, v in conf.items())
    parsed = parse_conf_text(text)
    assert {e.key: e.value for e in parsed.entries} == conf
    assert [e.line for e in parsed.entries] == list(range(1, len(conf) + 1))


# --- spark-submit -------------------------------------------------------------------------------

SCRIPT = """#!/bin/bash
export X=1
PYSPARK_PYTHON=python3 $SPARK_HOME/bin/spark-submit \\
  --master yarn --deploy-mode cluster \\
  --conf spark.executor.memory=8g \\
  --conf "spark.executor.extraJavaOptions=-XX:+UseG1GC -Dfoo=bar" \\
  --num-executors=$N --supervise \\
  job.py --conf not.for.spark=1
echo done
"""


def test_submit_maps_flags_and_conf_to_keys_with_their_lines() -> None:
    parsed = parse_submit(SCRIPT)
    assert _where(parsed) == {
        "spark.master": ("yarn", 4, 3),
        "spark.submit.deployMode": ("cluster", 4, 17),
        "spark.executor.memory": ("8g", 5, 10),
        "spark.executor.extraJavaOptions": ("-XX:+UseG1GC -Dfoo=bar", 6, 11),
        "spark.executor.instances": (None, 7, 3),
        "spark.driver.supervise": ("true", 7, 22),
    }
    assert parsed.app_resource == "job.py" and parsed.language == "python"
    assert any("$N" in note for note in parsed.notes), "a shell variable is reported, not guessed"


def test_submit_dedicated_flag_wins_over_conf_whatever_the_order() -> None:
    parsed = parse_submit("spark-submit --executor-memory 8g --conf spark.executor.memory=4g app.jar")
    assert parsed.winners()["spark.executor.memory"].value == "8g"
    assert parsed.language == "scala"


def test_submit_with_an_unbalanced_quote_names_the_line() -> None:
    text = 'spark-submit --master yarn \\\n  --conf "spark.executor.memory=8g \\\n  app.py\n'
    with pytest.raises(BadInputError, match=r"line 2: '--conf \"spark.executor.memory=8g"):
        parse_submit(text)


def test_other_lines_of_a_script_are_not_parsed() -> None:
    parsed = parse_submit("echo it's the nightly run\nspark-submit --conf spark.a.b=1 app.py\n")
    assert [(e.key, e.line) for e in parsed.entries] == [("spark.a.b", 2)]


def test_text_without_a_spark_command_is_refused_with_the_choices() -> None:
    with pytest.raises(BadInputError, match="no spark-submit command found"):
        parse_config("echo hello", ConfigFormat.SUBMIT)


def test_bare_arguments_are_read_when_the_format_is_forced() -> None:
    parsed = parse_config("--conf spark.a.b=1 --driver-memory 2g", ConfigFormat.SUBMIT)
    assert {e.key: e.value for e in parsed.entries} == {"spark.a.b": "1", "spark.driver.memory": "2g"}


def test_submit_reports_a_properties_file_and_unknown_options() -> None:
    parsed = parse_submit("spark-submit --properties-file my.conf --frobnicate app.py")
    assert any("my.conf" in n for n in parsed.notes) and any("--frobnicate" in n for n in parsed.notes)


printable = st.text(st.characters(min_codepoint=32, max_codepoint=126, exclude_characters="$`\\"), max_size=30)


@given(st.dictionaries(keys, printable, min_size=1, max_size=6))
def test_submit_round_trips_any_quoted_values(conf: dict[str, str]) -> None:
    command = "spark-submit " + " ".join(f"--conf {shlex.quote(f'{k}={v}')}" for k, v in conf.items()) + " app.py"
    parsed = parse_submit(command)
    assert {e.key: e.value for e in parsed.entries} == conf


# --- source code --------------------------------------------------------------------------------

PYSPARK = '''from pyspark.sql import SparkSession
import os
os.environ["PYSPARK_SUBMIT_ARGS"] = "--conf spark.executor.cores=3 pyspark-shell"
mem = "4g"
spark = (SparkSession.builder
    .master("local[4]")
    .config("spark.executor.memory", mem)
    .config("spark.sql.shuffle.partitions", 400)
    .config(key="spark.sql.adaptive.enabled", value=False)
    .config(
        "spark.serializer",
        "org.apache.spark.serializer.KryoSerializer")
    .getOrCreate())
spark.conf.set("spark.sql.autoBroadcastJoinThreshold", -1)
sc._jsc.hadoopConfiguration().set("fs.s3a.access.key", "not-spark")
spark.sql("SET spark.sql.ansi.enabled=true")
conf = {"spark.dynamicAllocation.enabled": "true", "other": 1}
'''


def test_pyspark_source_keys_with_lines_columns_and_unknown_values() -> None:
    parsed = parse_config(PYSPARK, filename="job.py")
    assert parsed.format is ConfigFormat.SOURCE and parsed.language == "python"
    assert _where(parsed) == {
        "spark.executor.cores": ("3", 3, 45),
        "spark.master": ("local[4]", 6, 13),
        "spark.executor.memory": (None, 7, 13),
        "spark.sql.shuffle.partitions": ("400", 8, 13),
        "spark.sql.adaptive.enabled": ("false", 9, 17),
        "spark.serializer": ("org.apache.spark.serializer.KryoSerializer", 11, 9),
        "spark.sql.autoBroadcastJoinThreshold": ("-1", 14, 16),
        "spark.sql.ansi.enabled": ("true", 16, 11),
        "spark.dynamicAllocation.enabled": ("true", 17, 9),
    }
    assert [e.line for e in parsed.entries] == sorted(e.line or 0 for e in parsed.entries)
    assert any("'mem'" in note for note in parsed.notes)


def test_python_that_does_not_parse_is_read_line_by_line() -> None:
    parsed = parse_config('spark = builder.config("spark.executor.memory", "2g")\nif :\n', filename="broken.py")
    assert _where(parsed)["spark.executor.memory"][:2] == ("2g", 1)
    assert any("does not parse" in n for n in parsed.notes)


SCALA = '''val spark = SparkSession.builder()
  .master("local[*]")
  // .config("spark.commented.out", "1")
  /* .config("spark.also.commented", "1") */
  .config("spark.executor.memory", "8g")
  .config("spark.sql.shuffle.partitions", 200)
  .config("spark.x", someVar)
  .getOrCreate()
spark.conf.set("spark.sql.adaptive.enabled", false)
spark.sql("SET spark.sql.ansi.enabled = true")
val m = Map("spark.executor.cores" -> "4")
'''


def test_scala_source_skips_comments_and_keeps_computed_values_unknown() -> None:
    parsed = parse_config(SCALA, filename="Job.scala")
    assert parsed.language == "scala"
    assert _where(parsed) == {
        "spark.master": ("local[*]", 2, 11),
        "spark.executor.memory": ("8g", 5, 11),
        "spark.sql.shuffle.partitions": ("200", 6, 11),
        "spark.x": (None, 7, 11),
        "spark.sql.adaptive.enabled": ("false", 9, 16),
        "spark.sql.ansi.enabled": ("true", 10, 16),
        "spark.executor.cores": ("4", 11, 13),
    }


def test_sql_set_statements() -> None:
    sql = (
        "-- SET spark.in.comment=1;\n"
        "SET spark.sql.shuffle.partitions=64;\n"
        "set `spark.sql.ansi.enabled` = true; SET -v;\n"
        "/* SET spark.hidden=1; */\n"
        "SET spark.x = ${var};\n"
        "SELECT 1;\n"
    )
    assert _where(parse_config(sql, filename="q.sql")) == {
        "spark.sql.shuffle.partitions": ("64", 2, 5),
        "spark.sql.ansi.enabled": ("true", 3, 5),
        "spark.x": (None, 5, 5),
    }


def test_notebook_cells_magics_and_configure() -> None:
    book = {"metadata": {"language_info": {"name": "python"}}, "cells": [
        {"cell_type": "markdown", "source": ["spark.conf.set('spark.not.code', 1)"]},
        {"cell_type": "code",
         "source": ["%%configure -f\n", '{"conf": {"spark.executor.memory": "4g"},\n', ' "executorCores": 2}\n']},
        {"cell_type": "code", "source": ["%pip install x\n", 'spark.conf.set("spark.sql.shuffle.partitions", 8)\n']},
    ]}
    parsed = parse_config(json.dumps(book), filename="n.ipynb")
    assert [(e.key, e.value, e.cell, e.line) for e in parsed.entries] == [
        ("spark.executor.memory", "4g", 2, 2),
        ("spark.executor.cores", "2", 2, 3),
        ("spark.sql.shuffle.partitions", "8", 3, 2),
    ]


@pytest.mark.parametrize(("book", "message"), [
    ({"cells": 5}, "'cells' is int, not a list"),
    ({"cells": {"a": 1}}, "'cells' is dict, not a list"),
    ({"metadata": {}}, "no 'cells'"),
    ([1, 2], "no 'cells'"),
])
def test_a_notebook_whose_cells_are_not_a_list_is_refused_saying_what_jupyter_writes(book: object, message: str) -> None:
    with pytest.raises(BadInputError, match=message + r".*'cells' is a list"):
        parse_config(json.dumps(book), filename="n.ipynb")


def test_notebook_cells_and_metadata_of_odd_shapes_are_read_as_far_as_they_can_be() -> None:
    book = {"metadata": {"language_info": [], "kernelspec": "python3"}, "cells": [
        {"cell_type": "code", "source": 5},
        {"cell_type": "code", "source": ["spark.conf.set('spark.a', 1)\n", ["nested"], None,
                                         "spark.conf.set('spark.b', 2)\n"]},
        [1], "text", {"cell_type": "code"},
    ]}
    parsed = parse_config(json.dumps(book), filename="n.ipynb")
    assert [(e.key, e.value, e.cell) for e in parsed.entries] == [("spark.a", "1", 2), ("spark.b", "2", 2)]
    assert parsed.language == "python"
    assert parsed.notes[:2] == [
        "cell 1: its source is int, not text (nbformat writes a string or a list of lines); the cell was skipped",
        "cell 2: 2 piece(s) of its source are not text and were skipped",
    ]


@pytest.mark.parametrize(("text", "fmt", "filename", "what"), [
    ("[" * 50_000 + "]" * 50_000, ConfigFormat.JSON, None, "the config"),
    ('{"a":' * 5_000 + "1" + "}" * 5_000, ConfigFormat.AUTO, None, "the config"),
    ('{"cells": ' + "[" * 50_000 + "]" * 50_000 + "}", ConfigFormat.AUTO, "n.ipynb", "the .ipynb file"),
    (json.dumps({"cells": [{"cell_type": "code", "source": "%%configure\n" + "[" * 5_000 + "]" * 5_000}]}),
     ConfigFormat.AUTO, "n.ipynb", "the %%configure cell 1"),
])
def test_json_nested_thousands_deep_is_refused_naming_the_limit_not_a_recursion_error(
    text: str, fmt: ConfigFormat, filename: str | None, what: str
) -> None:
    with pytest.raises(BadInputError, match=f"{what} is JSON nested more than 400 levels deep"):
        parse_config(text, fmt, filename)


def test_json_at_the_depth_limit_is_read_and_brackets_inside_strings_do_not_count() -> None:
    deep = {"spark.a": "[" * 10_000 + "{" * 10_000}
    assert parse_config(json.dumps(deep), ConfigFormat.JSON).entries[0].value == deep["spark.a"]
    with pytest.raises(BadInputError, match="expected a string, number or boolean"):  # 400 deep: parsed, then refused
        parse_config('{"spark.a": ' + "[" * 399 + "]" * 399 + "}", ConfigFormat.JSON)


@pytest.mark.parametrize("code", [
    "x = " + "+".join(["a"] * 50_000),
    "x = " + "-" * 100_000 + "1",
    'spark.conf.set("spark.a", ' + "+".join(["a"] * 3_000) + ")",
])
def test_python_nested_too_deeply_for_its_own_parser_is_read_line_by_line(code: str) -> None:
    parsed = parse_config(code, filename="deep.py")
    assert "nests too deeply for Python's own parser" in parsed.notes[0]
    try:  # detection survives it too: read as source, or refused as not a configuration, never a crash
        detected = parse_config(code).format
    except BadInputError as exc:
        assert "does not read as a Spark configuration" in str(exc)
    else:
        assert detected in (ConfigFormat.SOURCE, ConfigFormat.CONF)


def test_a_log_given_as_configuration_is_refused_with_what_to_give_instead() -> None:
    log = "24/07/08 04:00:00 INFO SparkContext: Running Spark version 3.5.1\n" * 20
    with pytest.raises(BadInputError, match=r"none of its 20 'key value' lines has a dotted key.*diagnose_log"):
        parse_config(log, filename="driver.log")
    forced = parse_config(log, ConfigFormat.CONF)  # asked for explicitly: read as it is
    assert len(forced.entries) == 20


def test_a_source_without_spark_config_says_so_without_failing() -> None:
    parsed = parse_config("print('hello')\n", filename="hello.py")
    assert parsed.entries == [] and "no Spark configuration found in hello.py" in parsed.notes[0]


@pytest.mark.parametrize(
    ("text", "filename", "expected"),
    [
        ("spark.executor.memory 4g\n", None, ConfigFormat.CONF),
        ("spark-submit --master yarn app.py", None, ConfigFormat.SUBMIT),
        ("  /opt/spark/bin/pyspark --master local[2]", None, ConfigFormat.SUBMIT),
        ('{"spark.executor.memory": "4g"}', None, ConfigFormat.JSON),
        ('spark.conf.set("spark.a", 1)', None, ConfigFormat.SOURCE),
        ("SET spark.sql.shuffle.partitions=8;", None, ConfigFormat.SOURCE),
        ("anything", "job.scala", ConfigFormat.SOURCE),
        ("anything", "run.sh", ConfigFormat.SUBMIT),
        ("anything", "spark-defaults.conf", ConfigFormat.CONF),
    ],
)
def test_detect_format(text: str, filename: str | None, expected: ConfigFormat) -> None:
    assert detect_format(text, filename) is expected


def test_dict_values_become_spark_strings_and_nested_values_are_refused() -> None:
    parsed = parse_config({"spark.a": True, "spark.b": 3, "spark.c": 0.5})
    assert {e.key: e.value for e in parsed.entries} == {"spark.a": "true", "spark.b": "3", "spark.c": "0.5"}
    with pytest.raises(BadInputError, match="expected a string, number or boolean"):
        parse_config({"spark.a": {"nested": 1}})  # type: ignore[dict-item]


def test_invalid_json_text_names_the_position() -> None:
    with pytest.raises(BadInputError, match="line 1, column"):
        parse_config('{"spark.a": }', ConfigFormat.JSON)


PIECES = [*"spark.-=: \"'\\\n#${}()[];,`%1g", "spark-submit ", "--conf ", ".config(", "SET ", "\\\n", "spark.executor.memory"]


@given(
    st.lists(st.sampled_from(PIECES), max_size=60).map("".join),
    st.sampled_from(list(ConfigFormat)),
    st.sampled_from([None, "a.py", "a.scala", "a.sql", "a.sh", "a.conf"]),
)
def test_any_text_parses_or_is_refused_with_a_clear_error(text: str, fmt: ConfigFormat, filename: str | None) -> None:
    try:
        parsed = parse_config(text, fmt, filename)
    except BadInputError as exc:
        assert str(exc)
        return
    for entry in parsed.entries:
        assert entry.key and (entry.line is None or entry.line >= 1)
