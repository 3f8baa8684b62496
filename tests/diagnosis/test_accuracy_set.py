"""The labelled accuracy set: well-formed, complete, in the vocabulary, and diagnosed well enough.

The set and how it was made: tests/fixtures/diagnosis/labelled/README.md.  The scoring lives in
bench/diagnose_accuracy.py (loaded here by path) so the floor below and the printed figures
are computed the same way.
"""

from __future__ import annotations

import importlib.util
import json
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..conftest import REPO

LABELLED = REPO / "tests" / "fixtures" / "diagnosis" / "labelled"
LABELS = LABELLED / "labels.json"
VOCABULARY = REPO / "data" / "diagnosis-categories.json"
TOP_ACCURACY_FLOOR = 0.8
# the folders of the set whose every file must carry a label (corpus event logs live elsewhere)
OWN_FOLDERS = ["pyspark", "handwritten", "corpus"]


class LabelledFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1)
    kind: Literal["spark_driver_log", "spark_executor_log", "event_log", "airflow_log", "plan"]
    expected_top: str | None
    expected: list[str]
    source: str = Field(min_length=10)
    form: str | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _top_is_expected(self) -> LabelledFile:
        if self.expected_top is None:
            assert self.expected == [], f"{self.path}: a healthy trap expects no categories"
        else:
            assert self.expected_top in self.expected, f"{self.path}: the top category must be among the expected"
        assert len(set(self.expected)) == len(self.expected), f"{self.path}: a category is listed twice"
        return self


class LabelSet(BaseModel):
    about: str
    files: list[LabelledFile]


@cache
def label_set() -> LabelSet:
    return LabelSet.model_validate_json(LABELS.read_text(encoding="utf-8"))


@cache
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("diagnose_accuracy", REPO / "bench" / "diagnose_accuracy.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_labels_are_well_formed_and_unique() -> None:
    files = label_set().files
    paths = [f.path for f in files]
    assert len(paths) == len(set(paths)), "a file is labelled twice"
    assert len(files) >= 40
    kinds = {f.kind for f in files}
    assert kinds == {"spark_driver_log", "spark_executor_log", "event_log", "airflow_log", "plan"}
    assert any(f.expected_top is None for f in files), "the set needs healthy traps"
    assert {f.form for f in files if f.form in ("old", "new")} == {"old", "new"}, "both message forms are needed"


def test_every_labelled_file_exists() -> None:
    missing = [f.path for f in label_set().files if not (LABELLED / f.path).exists()]
    assert missing == []


def test_every_file_of_the_set_is_labelled() -> None:
    labelled = {(LABELLED / f.path).resolve() for f in label_set().files}
    strays = [
        str(p.relative_to(LABELLED))
        for folder in OWN_FOLDERS
        for p in (LABELLED / folder).rglob("*")
        if p.is_file() and p.resolve() not in labelled
    ]
    assert strays == []


def test_every_category_is_in_the_vocabulary() -> None:
    groups = {c["name"]: c["group"] for c in json.loads(VOCABULARY.read_text())["categories"]}
    for entry in label_set().files:
        assert set(entry.expected) <= set(groups), f"{entry.path}: {set(entry.expected) - set(groups)}"
        if entry.kind == "plan":
            assert {groups[c] for c in entry.expected} <= {"plan"}, f"{entry.path}: a plan can only have plan findings"


def test_the_bench_markers_use_the_vocabulary() -> None:
    names = {c["name"] for c in json.loads(VOCABULARY.read_text())["categories"]}
    assert set(bench().MARKERS) <= names


def test_the_baseline_flags_exception_and_error_lines_and_counts_noise(tmp_path: Path) -> None:
    log = tmp_path / "driver.log"
    log.write_text(
        "24/01/01 00:00:00 INFO SparkContext: Running Spark version 3.5.0\n"
        "24/01/01 00:00:01 WARN ProcfsMetricsGetter: Exception when trying to compute pagesize\n"
        "24/01/01 00:00:02 ERROR Executor: Exception in task 0.0 in stage 1.0 (TID 1)\n"
        "java.lang.OutOfMemoryError: Java heap space\n"
        "org.apache.spark.shuffle.FetchFailedException: Failed to connect to host:7337\n"
    )
    result = bench().baseline(log, {"fetch_failed"})
    # flagged: the WARN line with 'Exception', the ERROR line, the FetchFailedException line;
    # the OOM line has neither word, so grep never sees the real OOM
    assert result["flagged_lines"] == 3
    assert result["noise_lines"] == 2
    assert result["top"] == "fetch_failed"
    assert result["found"] == ["fetch_failed"]


def test_healthy_traps_score_on_warnings_only() -> None:
    scoring = bench()
    entries = [{"expected_top": None, "expected": []}, {"expected_top": "gpu_oom", "expected": ["gpu_oom", "spill"]}]
    results = [{"top": "spill", "found": ["spill"], "warning_or_worse": False},
               {"top": "gpu_oom", "found": ["gpu_oom"], "warning_or_worse": True}]
    assert scoring.score(entries, results) == {
        "files": 2, "top_accuracy": 1.0, "top_right": 2, "recall": 0.5, "recalled": 1, "expected_categories": 2,
        "root_cause_named": None, "named": 0, "worded_files": 0, "false_alarms": 0, "healthy_traps": 1,
        "must_not_files": 0}


@pytest.mark.slow
def test_diagnosis_meets_the_accuracy_floor() -> None:
    figures = bench().run(LABELS, sets=("old",))["old"]
    assert figures["tool"]["errors"] == 0, figures["tool_misses"]
    assert figures["tool"]["top_accuracy"] >= TOP_ACCURACY_FLOOR, figures["tool_misses"]
    assert len(figures["headline"]) <= 400
