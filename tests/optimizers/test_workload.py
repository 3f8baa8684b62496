"""Reading a job description: workload class with the words that decided it, and sizes in the text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dgx_spark_mcp.optimizers.models import Workload
from dgx_spark_mcp.optimizers.sizes import parse_size
from dgx_spark_mcp.optimizers.throughput import Operation
from dgx_spark_mcp.optimizers.workload import classify_workload, find_terms, keywords, sizes_in_text


def test_every_class_has_keywords_and_no_term_shadows_another_in_its_class() -> None:
    kw = keywords()
    assert set(kw.classes) == set(Workload)
    for workload, terms in kw.classes.items():
        assert terms, workload
        names = [t.term for t in terms]
        assert len(names) == len(set(names)), f"{workload} lists a term twice"
        for stem in (n for n in names if n.endswith("*")):
            # 'graph*' would double-count 'graphx' in the same class: such a pair inflates scores.
            shadowed = [n for n in names if n != stem and n.startswith(stem[:-1]) and " " not in n]
            assert not shadowed, f"{workload}: {stem} already matches {shadowed}"


def test_no_term_is_claimed_by_two_classes() -> None:
    owners: dict[str, Workload] = {}
    for workload, terms in keywords().classes.items():
        for t in terms:
            assert t.term not in owners, f"{t.term!r} is in {owners.get(t.term)} and {workload}"
            owners[t.term] = workload


def test_operation_hints_name_real_operations() -> None:
    assert set(keywords().operations) <= {str(op) for op in Operation}


@pytest.mark.parametrize(
    ("description", "expected", "words"),
    [
        ("Nightly ETL: ingest 2 TB of JSON logs from S3, deduplicate and write Parquet", Workload.ETL, {"ETL", "deduplicate"}),
        ("Dashboard queries joining sales with customers, group by region", Workload.SQL_ANALYTICS, {"Dashboard", "group by"}),
        ("Train an XGBoost model on 500GiB of click features with cross-validation", Workload.ML_TRAINING, {"Train", "XGBoost"}),
        ("Batch scoring: apply a pre-trained churn model to every customer", Workload.ML_INFERENCE, {"scoring"}),
        ("Read clickstream events from Kafka with readStream and a 10 minute watermark", Workload.STREAMING, {"Kafka", "readStream"}),
        ("PageRank and connected components over the follower graph", Workload.GRAPH, {"PageRank", "connected components"}),
    ],
)
def test_descriptions_land_in_their_class_with_the_deciding_words(description: str, expected: Workload, words: set[str]) -> None:
    result = classify_workload(description)
    assert result.workload is expected and result.source == "keywords"
    assert words <= {e.matched for e in result.decided_by}
    assert all(e.workload is expected for e in result.decided_by)


def test_confidence_is_the_top_share_of_the_evidence_plus_prior() -> None:
    result = classify_workload("train a model, then score it for a dashboard")
    total = sum(result.scores.values())
    assert result.confidence == round(result.scores[str(result.workload)] / (total + keywords().prior), 3)
    assert len(result.scores) >= 2  # competing classes are shown, not hidden


def test_competing_evidence_lowers_confidence() -> None:
    alone = classify_workload("train an xgboost model")
    contested = classify_workload("train an xgboost model and serve predictions for real-time inference")
    assert contested.confidence < alone.confidence


def test_operations_count_as_evidence() -> None:
    result = classify_workload(None, [Operation.SCAN, Operation.ML_TRAIN])
    assert result.workload is Workload.ML_TRAINING
    assert [e.term for e in result.decided_by] == ["operation:ml-train"]


def test_nothing_matched_says_so_instead_of_guessing() -> None:
    result = classify_workload("the job from last week")
    assert result.source == "default" and result.confidence == 0 and result.confidence_label == "low"
    assert result.workload is keywords().default and "no workload keyword" in (result.note or "")


def test_a_tie_goes_to_the_class_listed_first_and_is_reported() -> None:
    result = classify_workload("load and join")  # etl 'load*' 1, sql-analytics 'join*' 1
    order = list(keywords().classes)
    assert result.scores["etl"] == result.scores["sql-analytics"]
    assert result.workload is min((Workload.ETL, Workload.SQL_ANALYTICS), key=order.index)
    assert "tie" in (result.note or "")


def test_a_given_class_wins_and_a_disagreeing_description_is_noted() -> None:
    result = classify_workload("kafka stream", given=Workload.ETL)
    assert result.workload is Workload.ETL and result.source == "given" and result.confidence == 1
    assert "streaming" in (result.note or "")


def test_stems_match_word_starts_only() -> None:
    assert find_terms("training jobs", ["train*"]) == [("train*", "training")]
    assert find_terms("a heavy workload", ["load*"]) == []
    assert find_terms("GROUP  BY day", ["group by"]) == [("group by", "GROUP  BY")]


def test_sizes_in_text_are_read_and_rates_are_not_sizes() -> None:
    found = sizes_in_text("2 TB of CSV joined with a 500GiB table at 3 GB/s")
    assert found == [("2 TB", parse_size("2TB")), ("500GiB", parse_size("500GiB"))]


@given(st.text(max_size=300))
def test_any_text_classifies_within_bounds(text: str) -> None:
    result = classify_workload(text)
    assert 0 <= result.confidence <= 1
    assert result.workload in Workload
