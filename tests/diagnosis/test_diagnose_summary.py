"""diagnose_log's summary: the top findings first as the full answer has them, the evidence cut to the
cause, reading statistics only when something was unreadable; the full answer names each document once;
a stored result answers both."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from mcp import Client

from dgx_spark_mcp.diagnosis.findings.brief import SUMMARY_FINDINGS, brief_findings
from dgx_spark_mcp.diagnosis.findings.model import DiagnosisFinding, Evidence
from dgx_spark_mcp.diagnosis.logs.diagnose import diagnose_log
from dgx_spark_mcp.settings import Settings
from dgx_spark_mcp.tools.answers import compact

from ..conftest import REPO, structured
from .answer_size import answer_tokens
from .eventlogs import many_stage_log
from .test_diagnose import AIRFLOW2, PY4J_CHAIN, UDF_LOG, YARN_LOG

LABELLED = REPO / "tests" / "fixtures" / "diagnosis" / "labelled" / "handwritten"


@pytest.fixture
def settings_here(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", allowed_roots=[str(tmp_path), str(REPO / "tests" / "fixtures")],
                    log_level="WARNING")


def _many_causes(tmp_path: Path, repeats: int = 300) -> Path:
    """An executor log where several causes repeat many times: more findings than a summary shows."""
    path = tmp_path / "errors.log"
    text = "".join(f"{block}\n" for _ in range(repeats) for block in (UDF_LOG, YARN_LOG, PY4J_CHAIN, AIRFLOW2))
    path.write_text(text)
    return path


def test_the_summary_keeps_the_full_answers_first_findings_in_order_and_says_what_is_left(
    settings_here: Settings, tmp_path: Path
) -> None:
    path = many_stage_log(tmp_path / "app-many-stages")
    full = diagnose_log(path, settings_here)
    summary = diagnose_log(path, settings_here, detail="summary")
    assert full.findings_total > SUMMARY_FINDINGS
    assert [f.rule_id for f in summary.findings] == [f.rule_id for f in full.findings[:SUMMARY_FINDINGS]]
    assert summary.findings_total == full.findings_total
    assert summary.more and f"{len(full.findings) - SUMMARY_FINDINGS} more finding(s)" in summary.more
    assert answer_tokens(summary) < min(2_500, answer_tokens(full))


def test_a_summary_leaves_out_the_reading_statistics_of_a_log_read_whole(settings_here: Settings, tmp_path: Path) -> None:
    path = tmp_path / "driver.log"
    path.write_text(YARN_LOG)
    data = compact(diagnose_log(path, settings_here, detail="summary"))
    assert not {"codec", "bytes_read", "lines_read", "unreadable", "content_hash", "references"} & set(data)
    full = compact(diagnose_log(path, settings_here))
    assert {"codec", "bytes_read", "lines_read", "unreadable", "content_hash"} <= set(full)


def test_a_summary_says_what_could_not_be_read(settings_here: Settings, tmp_path: Path) -> None:
    data = gzip.compress(("\n".join([YARN_LOG] * 40)).encode())
    path = tmp_path / "cut.log.gz"
    path.write_bytes(data[: len(data) // 2])
    summary = diagnose_log(path, settings_here, detail="summary")
    assert summary.unreadable is not None and not summary.unreadable.stream_complete
    assert any("truncated" in note for note in summary.notes)


def test_summary_evidence_quotes_the_cause_lines_with_their_numbers(settings_here: Settings, tmp_path: Path) -> None:
    path = tmp_path / "executor.log"
    path.write_text(UDF_LOG)
    full = diagnose_log(path, settings_here).findings[0].evidence[0]
    brief = diagnose_log(path, settings_here, detail="summary").findings[0].evidence[0]
    assert brief.lines == ["File \"/jobs/etl.py\", line 17, in parse_amount",
                           "ValueError: could not convert string to float: 'n/a'"]
    numbered = dict(zip(full.line_numbers, full.lines, strict=False))
    assert [numbered[n] for n in brief.line_numbers] == brief.lines
    assert brief.file is None and full.file == str(path)  # the log itself is the answer's source


def test_a_wrapper_the_cause_quotes_is_not_said_again_and_the_other_is_clipped(
    settings_here: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "driver.log"
    path.write_text(PY4J_CHAIN)
    full = diagnose_log(path, settings_here).findings[0]
    brief = diagnose_log(path, settings_here, detail="summary").findings[0]
    cause = next(e for e in brief.evidence if e.role == "cause")
    kept = [e for e in brief.evidence if e.role == "wrapper"]
    wrappers = [e for e in full.evidence if e.role == "wrapper"]
    assert len(wrappers) == 2 and len(kept) == 1  # Py4JJavaError is the cause's first line; 'Job aborted' is kept
    assert wrappers[0].line_numbers[0] in cause.line_numbers and kept[0].line_numbers == wrappers[1].line_numbers
    assert len(kept[0].lines[0]) <= 160 < len(wrappers[1].lines[0])


def test_further_wrappers_are_counted_not_quoted() -> None:
    wrappers = [Evidence(file="x.log", line_numbers=[n], lines=[f"wrapper {n}"], role="wrapper") for n in (7, 9, 11)]
    finding = DiagnosisFinding(category="executor_oom", rule_id="JVM_OOM", severity="error", title="t", root_cause="r",
                               evidence=[Evidence(file="x.log", line_numbers=[3], lines=["cause"]), *wrappers])
    (brief,) = brief_findings([finding], "x.log", 5)
    assert [e.lines for e in brief.evidence] == [["cause"], ["wrapper 7"]]
    assert brief.evidence[1].note == "2 more wrapper(s) with detail='full'"


def test_the_full_answer_names_each_document_once(settings_here: Settings, tmp_path: Path) -> None:
    full = diagnose_log(_many_causes(tmp_path, repeats=2), settings_here)
    changes = [c for f in full.findings if f.fix for c in f.fix.changes]
    assert changes and all(c.reference is None and c.ref in full.references for c in changes)
    assert len(set(full.references.values())) == len(full.references)
    summary = diagnose_log(_many_causes(tmp_path, repeats=2), settings_here, detail="summary")
    assert not summary.references and all(c.ref is None for f in summary.findings if f.fix for c in f.fix.changes)


@pytest.mark.parametrize("first", ["full", "summary"])
def test_a_stored_result_answers_both_details(settings_here: Settings, tmp_path: Path, first: str) -> None:
    path = _many_causes(tmp_path, repeats=3)
    fresh = {detail: diagnose_log(path, Settings(home=tmp_path / f"fresh-{detail}", allowed_roots=[str(tmp_path)]),
                                  detail=detail) for detail in ("full", "summary")}
    assert diagnose_log(path, settings_here, detail=first).from_store is False  # type: ignore[arg-type]
    for detail in ("full", "summary"):
        served = diagnose_log(path, settings_here, detail=detail)  # type: ignore[arg-type]
        assert served.from_store is True
        assert served.findings == fresh[detail].findings and served.more == fresh[detail].more


def test_every_labelled_files_summary_names_the_same_root_cause_first(tmp_path: Path) -> None:
    """The accuracy set's top finding is the summary's too (bench/diagnose_accuracy.py scores the full answer)."""
    settings = Settings(home=tmp_path / "home", allowed_roots=[str(LABELLED)], log_level="WARNING")
    files = sorted(p for p in LABELLED.rglob("*") if p.is_file() and not p.name.endswith((".md", ".json")))
    assert files
    for path in files:
        full = diagnose_log(path, settings)
        summary = diagnose_log(path, settings, detail="summary")
        assert [f.rule_id for f in summary.findings][:1] == [f.rule_id for f in full.findings][:1], path.name


@pytest.mark.anyio
async def test_the_tool_answers_the_summary_unless_asked_for_everything(client: Client, tmp_path: Path) -> None:
    path = _many_causes(tmp_path, repeats=2)
    summary = structured(await client.call_tool("diagnose_log", {"path": str(path)}))
    full = structured(await client.call_tool("diagnose_log", {"path": str(path), "detail": "full"}))
    assert "more" in summary and "content_hash" not in summary and "content_hash" in full
    assert summary["findings"][0]["rule_id"] == full["findings"][0]["rule_id"]
