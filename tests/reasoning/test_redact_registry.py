"""Registry discipline for data/redaction-patterns.json: every pattern's examples are run."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from dgx_spark_mcp.errors import BadInputError
from dgx_spark_mcp.reasoning.redact import (
    RedactionExamples,
    RedactionPattern,
    default_redactor,
    load_redaction_patterns,
)

PATTERNS = load_redaction_patterns().patterns
EXAMPLES = [(p.id, line, True) for p in PATTERNS for line in p.examples.passing] + [
    (p.id, line, False) for p in PATTERNS for line in p.examples.failing
]


@pytest.mark.parametrize(
    ("pattern_id", "line", "must_redact"),
    EXAMPLES,
    ids=[f"{p}-{'pass' if m else 'fail'}-{i}" for i, (p, _, m) in enumerate(EXAMPLES)],
)
def test_pattern_examples(pattern_id: str, line: str, must_redact: bool) -> None:
    pattern = load_redaction_patterns().by_id(pattern_id)
    result = default_redactor().redact(line)
    if must_redact:
        # The pattern on its own catches its example, and the whole redactor changes the line
        # (an earlier, more specific pattern may be the one that does).
        alone, replaced = pattern.apply(line)
        assert replaced >= 1 and alone != line, (pattern_id, line)
        assert result.total >= 1 and result.text != line, (pattern_id, line, result.text)
        # Redacting redacted text changes nothing: no label is itself matched by a later pattern.
        assert default_redactor().redact(result.text).text == result.text, (pattern_id, result.text)
    else:
        assert result.text == line and result.total == 0, (pattern_id, line, result.text)


def test_ids_are_unique_and_screaming_snake_case() -> None:
    ids = [p.id for p in PATTERNS]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[A-Z][A-Z0-9_]+", i) for i in ids)


def test_replacements_name_their_kind() -> None:
    for pattern in PATTERNS:
        expected = "[user]" if pattern.kind == "home_user" else f"[REDACTED:{pattern.kind}]"
        assert pattern.replacement == expected, pattern.id


def test_every_required_kind_is_covered() -> None:
    kinds = {p.kind for p in PATTERNS}
    assert {
        "aws_access_key", "aws_secret_key", "github_token", "slack_token", "api_key", "hf_token", "google_api_key",
        "jwt", "bearer_token", "secret_value", "url_password", "private_key", "email", "ipv4", "ipv6", "home_user",
        "kerberos_principal",
    } <= kinds


def test_a_regex_that_does_not_compile_names_the_pattern() -> None:
    # pydantic wraps the error; load_knowledge turns that into a KnowledgeFileError naming the file.
    with pytest.raises(ValidationError, match="BROKEN.*does not compile"):
        RedactionPattern(
            id="BROKEN", kind="x", regex="(unclosed", replacement="[REDACTED:x]", description="d",
            examples=RedactionExamples(passing=["a"], failing=["b"]),
        )


def test_unknown_pattern_id_lists_the_known_ones() -> None:
    with pytest.raises(BadInputError, match="unknown redaction pattern 'NOPE'.*EMAIL"):
        load_redaction_patterns().by_id("NOPE")
