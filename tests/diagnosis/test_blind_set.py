"""The blind labelled set (tests/fixtures/diagnosis/blind/): complete, well-formed, labelled in the vocabulary,
split a third aside by a hash fixed before any file was scored, and diagnosed at least as well as when last measured.

Each part (a folder with labels.json, SOURCES.md and README.md) was labelled by someone who never ran the tool on
its files; bench/diagnose_accuracy.py scores the old set, the tuning part and the part kept aside.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .test_accuracy_set import VOCABULARY, bench

BLIND = Path(__file__).resolve().parents[1] / "fixtures" / "diagnosis" / "blind"
LABELLED_SUFFIXES = {".log", ".txt", ".zstd"}
# Floors a change may not break: the scores of the last measured run, rounded down (the note of issue 14 has them).
FLOORS = {"tune": 0.97, "held": 0.90}


class BlindLabel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1)
    kind: Literal["spark_driver_log", "spark_executor_log", "event_log", "airflow_log", "airflow_console_log",
                  "submit_log", "plan", "text"]
    class_: Literal["airflow3", "before_start", "slow", "eventlog_failure", "accelerator", "big_plan",
                    "classic"] = Field(alias="class")
    expected_top: str | None
    expected: list[str]
    must_not: list[str] = Field(default_factory=list)
    words: list[str] = Field(default_factory=list)
    source: str = Field(min_length=10)
    note: str | None = None
    form: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> BlindLabel:
        if self.expected_top is None:
            assert self.expected == [], f"{self.path}: a healthy trap expects no categories"
        else:
            assert self.expected_top in self.expected, f"{self.path}: the top category must be among the expected"
        assert not set(self.must_not) & set(self.expected), f"{self.path}: a category both expected and ruled out"
        return self


@cache
def parts() -> dict[str, list[BlindLabel]]:
    return {labels.parent.name: [BlindLabel.model_validate(e) for e in json.loads(labels.read_text())["files"]]
            for labels in sorted(BLIND.glob("*/labels.json"))}


def _vocabulary() -> set[str]:
    return {c["name"] for c in json.loads(VOCABULARY.read_text())["categories"]}


def test_every_part_says_where_its_files_came_from() -> None:
    assert len(parts()) >= 3
    for name in parts():
        assert (BLIND / name / "SOURCES.md").is_file() and (BLIND / name / "README.md").is_file(), name


def test_the_set_is_big_enough_and_has_healthy_traps() -> None:
    labels = [label for part in parts().values() for label in part]
    assert len(labels) >= 150
    assert sum(label.expected_top is None for label in labels) >= 0.1 * len(labels)
    assert {label.class_ for label in labels} >= {"airflow3", "before_start", "slow", "accelerator", "big_plan"}


def test_every_log_file_is_labelled_once_and_every_label_has_its_file() -> None:
    for name, labels in parts().items():
        paths = [label.path for label in labels]
        assert len(paths) == len(set(paths)), f"{name}: a file is labelled twice"
        for path in paths:
            assert (BLIND / name / path).exists(), f"{name}/{path} is labelled but missing"
        on_disk = {str(p.relative_to(BLIND / name)) for p in (BLIND / name).rglob("*")
                   if p.is_file() and p.suffix in LABELLED_SUFFIXES and p.name not in ("README.md", "SOURCES.md")}
        assert on_disk <= set(paths), f"{name}: unlabelled files {sorted(on_disk - set(paths))[:5]}"


def test_labels_use_the_vocabulary_and_their_words_are_in_the_files() -> None:
    names = _vocabulary()
    for name, labels in parts().items():
        for label in labels:
            used = set(label.expected) | set(label.must_not)
            assert used <= names, f"{name}/{label.path}: {used - names}"
            path = BLIND / name / label.path
            if path.suffix != ".zstd":
                text = path.read_text(errors="replace").lower()
                missing = [w for w in label.words if w.lower() not in text]
                assert not missing, f"{name}/{label.path}: words not in the file: {missing}"


def test_a_third_is_kept_aside_by_a_hash_of_the_path() -> None:
    entries = bench().load_blind(BLIND)
    held = [e for e in entries if e["split"] == "held"]
    assert 0.25 <= len(held) / len(entries) <= 0.42
    assert all(bench().held_out(e["path"]) for e in held)


@pytest.mark.slow
def test_the_blind_set_is_diagnosed_at_least_as_well_as_last_measured() -> None:
    figures: dict[str, Any] = bench().run(sets=("tune", "held"))
    for split, floor in FLOORS.items():
        tool = figures[split]["tool"]
        assert tool["errors"] == 0, split
        assert tool["top_accuracy"] >= floor, figures[split]["headline"]
