"""Registry discipline for data/log-signatures.json and data/diagnosis-categories.json."""

from __future__ import annotations

import re

import pytest

from dgx_spark_mcp.diagnosis.findings.signatures import categories, signatures

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
    from dgx_spark_mcp.diagnosis.findings.signatures import spark_signatures
    from dgx_spark_mcp.diagnosis.reading.log_reader import GENERIC_ANCHORS, anchors

    for signature in spark_signatures():
        for line in signature.examples.passing:
            assert any(a in line for a in (*GENERIC_ANCHORS, *signature.anchors)), (signature.id, line)
    assert len(anchors()) <= 64  # above 64 patterns the Aho-Corasick library drops its SIMD prefilter: 4x slower


def test_every_pattern_has_a_passing_example() -> None:
    # So the anchor test above covers each pattern, not only the signature's first one.
    for signature in SIGNATURES:
        for pattern in signature.patterns:
            assert any(re.search(pattern, line) for line in signature.examples.passing), (signature.id, pattern)


def test_a_key_put_one_level_too_deep_fails_the_load_instead_of_being_ignored() -> None:
    # JVM_OOM's driver_changes once sat inside "fix": pydantic dropped it and driver OOMs got no config change.
    import json

    from pydantic import ValidationError

    from dgx_spark_mcp.diagnosis.findings.signatures import SignatureRegistry

    from ..conftest import REPO

    data = json.loads((REPO / "data" / "log-signatures.json").read_text(encoding="utf-8"))
    jvm_oom = next(s for s in data["signatures"] if s["id"] == "JVM_OOM")
    jvm_oom["fix"]["driver_changes"] = jvm_oom.pop("driver_changes")
    with pytest.raises(ValidationError, match="driver_changes"):
        SignatureRegistry.model_validate(data)


def test_every_signature_with_a_driver_category_has_a_driver_fix() -> None:
    for signature in SIGNATURES:
        if signature.driver_category:
            assert signature.driver_changes and signature.driver_summary, signature.id
    assert [a.key for a in signatures().by_id("JVM_OOM").driver_changes] == ["spark.driver.memory"]


def test_fallbacks_use_the_vocabulary_and_name_the_exception_in_their_titles() -> None:
    registry = signatures()
    names = categories().names()
    assert {f.id for f in registry.fallbacks} == {"TASK_EXCEPTION", "DRIVER_EXCEPTION", "UNCLASSIFIED_ERROR"}
    for rule in registry.fallbacks:
        assert rule.category in names and "{exception}" in rule.title, rule.id
        assert rule.id not in {s.id for s in SIGNATURES}
    assert all(c.title and c.title[0].isupper() for c in categories().categories if not c.title.startswith("spark"))


@pytest.mark.parametrize(
    ("pattern", "literal"),
    [
        (r"Job aborted due to stage failure", "Job aborted due to stage failure"),
        (r"java\.lang\.OutOfMemoryError: (?P<kind>Java heap space|Metaspace)", "java.lang.OutOfMemoryError: "),
        (r"[Ee]xit(?:ed with)? (?:code|status):? ?-10[34]\b", "xit"),
        (r"exit code:? 137\b", "exit code"),
        (r"\{dagbag\.py:\d+\}\}? ERROR - Failed to import: (?P<file>\S+)", " ERROR - Failed to import: "),
        (r"OOMKilled|exit code 137", None),  # a top-level alternative: no literal is required
        (r"(?:a|b)+", None),
        (r"took \d{3,5}ms", "took "),  # a counted repeat's digits are no text to find
        (r"(?i)out of memory", None),  # the literal pass is case-sensitive
    ],
)
def test_required_literal(pattern: str, literal: str | None) -> None:
    from dgx_spark_mcp.diagnosis.findings.signatures import required_literal

    assert required_literal(pattern) == literal
    for text in ("stage took 1234ms", "Executor OUT OF MEMORY"):  # a match holds the literal
        if re.search(pattern, text):
            assert literal is None or literal in text
    if literal is not None:  # what a pattern matches always holds its literal
        for example in (s for sig in SIGNATURES for s in sig.examples.passing):
            found = re.search(pattern, example)
            assert found is None or literal in found.group(0)


def test_the_literal_prefilter_answers_as_trying_every_pattern_in_turn() -> None:
    # SignatureMatcher searches only the patterns whose literal a message holds: the answer must be
    # the one the plain priority-ordered loop gives, for every example and near miss.
    from dgx_spark_mcp.diagnosis.findings.signatures import SignatureMatcher

    def plain(text: str, wrappers: bool) -> str | None:
        for signature in SIGNATURES:
            if (wrappers or not signature.wrapper) and signature.search(text):
                return signature.id
        return None

    texts = [line for s in SIGNATURES for line in (*s.examples.passing, *s.examples.failing)]
    texts += [" ".join(texts[i : i + 3]) for i in range(0, len(texts), 2)]  # several markers in one message
    matcher = SignatureMatcher(SIGNATURES)
    for _ in range(2):  # the second round answers from the memo
        for text in texts:
            for wrappers in (True, False):
                found = matcher.match(text, wrappers=wrappers)
                assert (found[0].id if found else None) == plain(text, wrappers), text
            scan = matcher.scan(text)
            wrapped = {s.id for s in SIGNATURES if s.wrapper and s.search(text)}
            assert (set() if scan is None else {s.id for s in scan.wrappers}) == wrapped, text
            assert {s.id for s in matcher.wrappers_in(text)} == wrapped, text
            assert (scan is not None and scan.cause is not None) == (plain(text, False) is not None), text
