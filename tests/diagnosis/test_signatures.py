"""Registry discipline for data/log-signatures.json and data/diagnosis-categories.json."""

from __future__ import annotations

import re

import pytest

from dgx_spark_mcp.diagnosis.signatures import categories, signatures

SIGNATURES = signatures().signatures
EXAMPLES = [(s.id, line, True) for s in SIGNATURES for line in s.examples.passing] + [
    (s.id, line, False) for s in SIGNATURES for line in s.examples.failing
]


@pytest.mark.parametrize(("rule_id", "line", "should_match"), EXAMPLES, ids=[f"{r}-{'pass' if m else 'fail'}-{i}" for i, (r, _, m) in enumerate(EXAMPLES)])
def test_signature_examples(rule_id: str, line: str, should_match: bool) -> None:
    signature = signatures().by_id(rule_id)
    assert (signature.search(line) is not None) is should_match, (rule_id, line)


def test_every_passing_example_is_classified_by_its_own_signature_or_a_more_specific_one() -> None:
    # Priority order must not let an earlier, broader signature steal another's example.
    for signature in SIGNATURES:
        for line in signature.examples.passing:
            found = signatures().match(line, wrappers=signature.wrapper)
            assert found is not None, (signature.id, line)
            assert found[0].category == signature.category or found[0].priority <= signature.priority, (
                signature.id, found[0].id, line)


def test_ids_are_unique_and_screaming_snake_case() -> None:
    ids = [s.id for s in SIGNATURES]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[A-Z][A-Z0-9_]+", i) for i in ids)


def test_every_category_used_is_in_the_vocabulary() -> None:
    names = categories().names()
    used = {s.category for s in SIGNATURES} | {s.driver_category for s in SIGNATURES if s.driver_category}
    assert used <= names, used - names


def test_vocabulary_has_the_three_groups_and_unique_names() -> None:
    vocabulary = categories().categories
    assert len({c.name for c in vocabulary}) == len(vocabulary)
    assert {c.group for c in vocabulary} == {"spark", "airflow", "plan"}
    assert "healthy" not in {c.name for c in vocabulary}


def test_config_advice_groups_exist_in_the_patterns() -> None:
    for signature in SIGNATURES:
        for advice in [*signature.fix.changes, *signature.driver_changes]:
            if advice.current_group:
                assert any(f"?P<{advice.current_group}>" in p for p in signature.patterns), (signature.id, advice.key)


def test_every_passing_example_holds_an_anchor_the_log_reader_stops_at() -> None:
    # The reader skips lines without an anchor: a signature whose line holds none would never fire on a big log.
    from dgx_spark_mcp.diagnosis.log_reader import GENERIC_ANCHORS, anchors
    from dgx_spark_mcp.diagnosis.signatures import spark_signatures

    for signature in spark_signatures():
        for line in signature.examples.passing:
            assert any(a in line for a in (*GENERIC_ANCHORS, *signature.anchors)), (signature.id, line)
    assert len(anchors()) <= 64  # above 64 patterns the Aho-Corasick library drops its SIMD prefilter: 4x slower


def test_every_pattern_has_a_passing_example() -> None:
    # So the anchor test above covers each pattern, not only the signature's first one.
    for signature in SIGNATURES:
        for pattern in signature.patterns:
            assert any(re.search(pattern, line) for line in signature.examples.passing), (signature.id, pattern)
