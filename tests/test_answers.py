"""tools/answers.py: the compact form of a result keeps everything a reader needs and stays valid."""

from __future__ import annotations

from pydantic import BaseModel, Field

from dgx_spark_mcp.paging import decode_cursor, fingerprint, page
from dgx_spark_mcp.tools.answers import answer, compact, compact_json


class Inner(BaseModel):
    name: str
    note: str | None = None
    tags: list[str] = Field(default_factory=list)


class Outer(BaseModel):
    required_null: int | None
    items: list[Inner]
    defaults_full: list[str] = Field(default_factory=lambda: ["avg"])
    flag: bool = False
    count: int = 0
    text: str = ""
    mapping: dict[str, Inner] = Field(default_factory=dict)


def test_empty_values_of_fields_with_empty_defaults_are_left_out_and_nothing_else() -> None:
    result = Outer(required_null=None, items=[Inner(name="a"), Inner(name="b", note="x", tags=["t"])],
                   defaults_full=[], mapping={"k": Inner(name="c")})
    data = compact(result)
    assert data == {
        "required_null": None,  # required: kept, or the content would not match the schema
        "items": [{"name": "a"}, {"name": "b", "note": "x", "tags": ["t"]}],
        "defaults_full": [],  # empty, but its default is not: leaving it out would read back as ["avg"]
        "flag": False, "count": 0,  # falsy is not empty
        "mapping": {"k": {"name": "c"}},
    }
    assert Outer.model_validate(data) == result


def test_the_answer_carries_the_same_data_once_as_compact_text_and_as_structured_content() -> None:
    result = answer(Outer(required_null=1, items=[]))
    assert result.structured_content == {"required_null": 1, "items": [], "defaults_full": ["avg"], "flag": False,
                                         "count": 0}
    assert [block.text for block in result.content] == [compact_json(result.structured_content)]  # type: ignore[union-attr]
    assert "\n" not in result.content[0].text and ": " not in result.content[0].text  # type: ignore[union-attr]


def test_pages_follow_one_another_and_a_cursor_of_another_list_is_refused() -> None:
    items = list(range(45))
    key = fingerprint(host="a")
    first, cursor = page(items, 20, None, key)
    second, cursor2 = page(items, 20, cursor, key)
    third, cursor3 = page(items, 20, cursor2, key)
    assert first + second + third == items and cursor3 is None
    import pytest

    from dgx_spark_mcp.errors import BadInputError

    with pytest.raises(BadInputError, match="other arguments"):
        decode_cursor(cursor or "", fingerprint(host="b"))
    with pytest.raises(BadInputError, match="not one this tool returned"):
        decode_cursor("%%%", key)
