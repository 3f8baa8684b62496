"""Plain-text logs (pasted excerpts, formats not recognised) are read at every signature's markers,
Airflow's included; Spark logs keep the short anchor set their SIMD prefilter needs."""

from __future__ import annotations

from pathlib import Path

from dgx_spark_mcp.diagnosis.findings.signatures import signatures, spark_signatures
from dgx_spark_mcp.diagnosis.logs.diagnose import diagnose_log
from dgx_spark_mcp.diagnosis.reading import anchors as reading_anchors
from dgx_spark_mcp.diagnosis.reading.log_reader import (
    GENERIC_ANCHORS,
    ReadStats,
    read_records,
    text_blocks,
)
from dgx_spark_mcp.diagnosis.reading.logkind import LogKind, detect_kind
from dgx_spark_mcp.settings import Settings

ZOMBIE = (
    "Detected zombie job: {'full_filepath': '/opt/airflow/dags/etl.py', 'processor_subdir': None, 'msg': "
    "\"{'DAG Id': 'etl', 'Task Id': 'load', 'Run Id': 'scheduled__2024-03-01T00:00:00+00:00', 'Hostname': 'worker-3'}\"}"
)
EXCERPT = f"scheduler is running\nchecking for zombies\n{ZOMBIE}\nnext loop in 10 s\n"


def test_a_text_excerpt_whose_only_marker_is_airflows_zombie_line_is_diagnosed(tmp_path: Path) -> None:
    assert not any(a in ZOMBIE for a in GENERIC_ANCHORS)  # no ERROR, Exception or Error on the line
    assert detect_kind(EXCERPT.splitlines()) is LogKind.TEXT
    settings = Settings(home=tmp_path / "home", allowed_roots=[str(tmp_path)])
    result = diagnose_log("", settings, text=EXCERPT)
    assert result.kind == "text"
    assert [f.category for f in result.findings][:1] == ["airflow_zombie_task"]
    assert result.findings[0].evidence[0].first_line == 3
    assert result.lines_read == 4


def test_a_spark_log_keeps_the_spark_anchor_set() -> None:
    spark = reading_anchors.anchors()
    assert len(spark) <= 64  # the Aho-Corasick library's SIMD prefilter takes no more
    assert set(spark) == {*GENERIC_ANCHORS, *(a for s in spark_signatures() for a in s.anchors)}
    assert set(spark) < set(reading_anchors.text_anchors())
    executor_log = (
        "24/07/08 04:00:00 INFO CoarseGrainedExecutorBackend: Started daemon with process name: 1@w\n"
        f"24/07/08 04:00:01 INFO Executor: {ZOMBIE}\n"
        "24/07/08 04:00:02 INFO Executor: Finished task 1.0 in stage 0.0 (TID 1)\n"
    )
    stats = ReadStats()
    assert list(read_records(text_blocks(executor_log.encode()), LogKind.SPARK_EXECUTOR, stats)) == []  # not stopped at
    assert stats.lines == 3
    text = list(read_records(text_blocks(executor_log.encode()), LogKind.TEXT, ReadStats()))
    assert [r.line_no for r in text] == [2]  # a text log with the same lines is


def test_every_signature_example_holds_a_text_anchor() -> None:
    # The reader of a text log stops only at lines with an anchor: each example of each signature must have one.
    found = reading_anchors.text_anchors()
    for signature in signatures().signatures:
        for line in signature.examples.passing:
            assert any(a in line for a in found), (signature.id, line)
