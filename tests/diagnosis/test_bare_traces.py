"""A Java stack trace pasted on its own (no log4j line around it) is still a finding naming its exception."""

from __future__ import annotations

from pathlib import Path

from dgx_spark_mcp.diagnosis.logs.diagnose import diagnose_log
from dgx_spark_mcp.settings import Settings

TRACE = ("java.lang.IllegalStateException: Cannot call methods on a stopped SparkContext.\n"
         "\tat org.apache.spark.SparkContext.assertNotStopped(SparkContext.scala:118)\n")


def test_a_bare_unknown_exception_with_frames_is_an_unrecognised_error(tmp_path: Path) -> None:
    result = diagnose_log("", Settings(home=tmp_path, allowed_roots=[tmp_path]), text=TRACE)
    assert [(f.rule_id, f.severity) for f in result.findings] == [("UNCLASSIFIED_ERROR", "info")]
    assert result.findings[0].title == "Unrecognised error logged: IllegalStateException"


def test_a_bare_exception_line_without_frames_stays_quiet(tmp_path: Path) -> None:
    # Output that merely names an exception class (a config dump, a report) is no stack trace.
    said = "retry policy: java.io.IOException: retried 3 times\n"
    assert diagnose_log("", Settings(home=tmp_path, allowed_roots=[tmp_path]), text=said).findings == []
