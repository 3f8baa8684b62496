"""Accuracy of diagnose_log / analyze_query_plan on the labelled set, against a grep-style baseline.

    python bench/diagnose_accuracy.py [--labels tests/fixtures/diagnosis/labelled/labels.json] [--per-file]

The set (``tests/fixtures/diagnosis/labelled/``, see its README) labels every file with the
category its most likely root cause must have (``expected_top``; null for healthy traps) and
every category a correct diagnosis reports (``expected``).

Figures, for the tool and for the naive baseline, both run in this script on the same files:

- ``top_accuracy``: share of files whose top finding has the expected category.  The top finding
  is the first finding of severity warning or above (findings come most likely cause first),
  else the first finding.  A healthy trap counts as right when nothing of warning+ was reported.
- ``recall``: expected categories found (any severity) / expected categories, over all files.
- ``false_alarms``: healthy traps with a warning+ finding (the baseline: with any flagged line).
- ``errors``: files the tool raised on (counted wrong, listed under ``tool_misses``).

The baseline is what a person with grep does: every line containing ``Exception`` or ``ERROR``
is a finding.  A flagged line hits a category when one of that category's markers (``MARKERS``
below, the marker texts of ../shared/knowledge/log-signatures.md) appears in it; its top
category is that of the first flagged line that hits any category (generous: lines that hit
nothing are skipped).  ``noise_lines`` counts flagged lines that hit none of the file's
expected categories.  Event logs are read through the same decompression as the tool.

Prints JSON.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_LABELS = REPO / "tests" / "fixtures" / "diagnosis" / "labelled" / "labels.json"
BLIND = REPO / "tests" / "fixtures" / "diagnosis" / "blind"
WARNING_OR_WORSE = {"warning", "error", "critical"}
TARGET_TOP_ACCURACY = 0.8  # the floor tests/diagnosis/test_accuracy_set.py holds the tool to

# Marker texts per category, from the signature tables of log-signatures.md (sections 1, 3-5).
# Order matters only for the baseline's choice when one line hits several categories: the
# more specific categories come first (a driver-thread OOM before a plain OOM).
MARKERS: dict[str, list[str]] = {
    "max_result_size_exceeded": ["is bigger than spark.driver.maxResultSize", "bigger than maxResultSize"],
    "broadcast_too_large": ["Not enough memory to build and broadcast the table", "larger than 8GB"],
    "broadcast_timeout": ["Could not execute broadcast in"],
    "container_memory_exceeded": ["Container killed by YARN for exceeding", "exit code 137", "OOMKilled"],
    "driver_oom": ["thread broadcast-exchange", "Thread[main", "dag-scheduler-event-loop"],
    "offheap_oom": ["Direct buffer memory", "OutOfDirectMemoryError", "RetryOOM: CPU"],
    "gpu_oom": ["GpuSplitAndRetryOOM", "GpuRetryOOM", "SplitAndRetryOOM", "RmmException", "out_of_memory: CUDA error"],
    "gpu_init_failure": ["CudfException: RMM failure"],
    "cuda_fatal": ["CudaFatalException", "cudaErrorIllegalAddress"],
    "executor_oom": ["OutOfMemoryError: Java heap space", "GC overhead limit exceeded", "Requested array size exceeds VM limit"],
    "fetch_failed": ["FetchFailedException", "MetadataFetchFailedException"],
    "executor_lost": ["ExecutorLostFailure", "Executor heartbeat timed out", "Remote RPC client disassociated"],
    "task_not_serializable": ["Task not serializable", "NotSerializableException"],
    "table_not_found": ["Table or view not found", "[TABLE_OR_VIEW_NOT_FOUND]"],
    "column_unresolved": ["cannot resolve", "[UNRESOLVED_COLUMN"],
    "python_udf_error": ["PythonException", "[PYTHON_EXCEPTION]"],
    "kryo_buffer_overflow": ["Kryo serialization failed: Buffer overflow"],
    "too_many_open_files": ["Too many open files"],
    "disk_full": ["No space left on device", "ephemeral-storage"],
    "spill": ["spilling sort data of"],
    "job_aborted": ["Job aborted due to stage failure"],
    "task_failure": ["TaskKilled", "TaskCommitDenied", "TaskResultLost"],
    "airflow_task_timeout": ["AirflowTaskTimeout", "Process timed out, PID"],
    "airflow_sigterm": ["Received SIGTERM", "Task received SIGTERM signal"],
    "airflow_zombie_task": ["Detected zombie job", "jobs without heartbeat"],
    "airflow_oom_killed": ["Negsignal.SIGKILL", "return code -9", "signal=-9", '"signal":-9'],
    "airflow_upstream_failed": ["upstream_failed", "Dependencies not met"],
    "airflow_dag_import_error": ["Failed to import", "Broken DAG", "ModuleNotFoundError"],
    "airflow_spark_submit_failed": ["Cannot execute: spark-submit"],
    "airflow_task_failed": ["Task failed with exception"],
    "cartesian_product": ["CartesianProduct"],
    "broadcast_nested_loop_join": ["BroadcastNestedLoopJoin"],
    "python_udf": ["BatchEvalPython", "ArrowEvalPython", "MapInPandas", "FlatMapGroupsInPandas", "MapInArrow"],
    "single_partition_exchange": ["Exchange SinglePartition", "SinglePartition, ENSURE_REQUIREMENTS"],
    "sort_aggregate": ["SortAggregate"],
    "object_hash_aggregate": ["ObjectHashAggregate"],
    "skewed_join": ["skew=true", "skewed"],
    "no_pushed_filters": ["PushedFilters: []"],
    "full_partition_scan": ["PartitionFilters: []"],
    "cpu_fallback": ["cannot run on GPU"],
}
FLAG_WORDS = ("Exception", "ERROR")


# --- reading the sets -------------------------------------------------------------------------


def load_labels(path: Path) -> list[dict[str, Any]]:
    """One labels.json, each entry completed with the fields the blind set added (class, must_not, words)."""
    entries = list(json.loads(path.read_text(encoding="utf-8"))["files"])
    for entry in entries:
        entry.setdefault("class", "plan" if entry["kind"] == "plan" else "classic")
        entry.setdefault("must_not", [])
        entry.setdefault("words", [])
    return entries


def held_out(path: str) -> bool:
    """A third of the blind set, chosen by a hash of the file's path before any file was scored: never tuned on."""
    return hashlib.sha256(path.encode()).digest()[0] % 3 == 0


def load_blind(root: Path = BLIND, parts: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Every part of the blind set (``<root>/<part>/labels.json``; only ``parts`` when given), paths made relative to
    ``root``, split marked."""
    entries = []
    for labels in sorted(root.glob("*/labels.json")):
        if parts and labels.parent.name not in parts:
            continue
        for entry in load_labels(labels):
            entry["path"] = f"{labels.parent.name}/{entry['path']}"
            entry["split"] = "held" if held_out(entry["path"]) else "tune"
            entries.append(entry)
    return entries


def _lines(path: Path) -> Iterator[str]:
    """The file's lines, decompressed like the tool does (a rolling event-log directory: its parts)."""
    from dgx_spark_mcp.diagnosis.reading.codecs import LogLines

    parts = sorted(p for p in path.iterdir() if p.name.startswith("events_")) if path.is_dir() else [path]
    for part in parts:
        for raw in LogLines(part):
            yield raw.decode("utf-8", errors="replace")


# --- the baseline -------------------------------------------------------------------------------


def baseline(path: Path, expected: set[str]) -> dict[str, Any]:
    flagged = 0
    noise = 0
    found: set[str] = set()
    top: str | None = None
    for line in _lines(path):
        if not any(word in line for word in FLAG_WORDS):
            continue
        flagged += 1
        hits = [category for category, markers in MARKERS.items() if any(m in line for m in markers)]
        found.update(hits)
        if top is None and hits:
            top = hits[0]
        if not expected.intersection(hits):
            noise += 1
    return {"top": top, "found": sorted(found), "flagged_lines": flagged, "noise_lines": noise,
            "warning_or_worse": flagged > 0}


# --- the tool -----------------------------------------------------------------------------------


def tool(path: Path, kind: str, settings: Any) -> dict[str, Any]:
    if kind == "plan":
        from dgx_spark_mcp.diagnosis.plans.analysis import analyze_query_plan

        findings = analyze_query_plan(None, settings, path=str(path)).findings
    else:
        from dgx_spark_mcp.diagnosis.logs.diagnose import diagnose_log

        findings = diagnose_log(str(path), settings).findings
    serious = [f for f in findings if f.severity in WARNING_OR_WORSE]
    first = serious[0] if serious else (findings[0] if findings else None)
    return {"top": first.category if first else None, "found": sorted({f.category for f in findings}),
            "serious": sorted({f.category for f in serious}),
            "top_text": f"{first.title} {first.root_cause}" if first else "",
            "warning_or_worse": bool(serious), "findings": len(findings)}


# --- scoring ------------------------------------------------------------------------------------


def _top_right(entry: dict[str, Any], result: dict[str, Any]) -> bool:
    if "error" in result:  # a crash is wrong even on a healthy trap
        return False
    if entry["expected_top"] is None:
        return not result["warning_or_worse"]
    return bool(result["top"] == entry["expected_top"])


def _named(entry: dict[str, Any], result: dict[str, Any]) -> bool:
    """The top finding is right and its title and cause contain every word the label requires."""
    text = result.get("top_text", "").lower()
    return _top_right(entry, result) and all(word.lower() in text for word in entry.get("words", []))


def _wrong_alarm(entry: dict[str, Any], result: dict[str, Any]) -> bool:
    """A warning+ finding on a healthy file, or a warning+ finding of a category the label rules out."""
    if entry["expected_top"] is None:
        return bool(result["warning_or_worse"])
    return bool(set(entry.get("must_not", [])) & set(result.get("serious", [])))


def score(entries: list[dict[str, Any]], results: list[dict[str, Any]]) -> dict[str, Any]:
    pairs = list(zip(entries, results, strict=True))
    expected_total = sum(len(e["expected"]) for e in entries)
    recalled = sum(len(set(e["expected"]) & set(r["found"])) for e, r in pairs)
    worded = [(e, r) for e, r in pairs if e["expected_top"] is not None and e.get("words")]
    named = sum(_named(e, r) for e, r in worded)
    right = sum(_top_right(e, r) for e, r in pairs)
    return {
        "files": len(entries),
        "top_accuracy": round(right / len(entries), 3) if entries else None,
        "top_right": right,
        "recall": round(recalled / expected_total, 3) if expected_total else None,
        "recalled": recalled,
        "expected_categories": expected_total,
        "root_cause_named": round(named / len(worded), 3) if worded else None,
        "named": named,
        "worded_files": len(worded),
        "false_alarms": sum(bool(r["warning_or_worse"]) for e, r in pairs if e["expected_top"] is None),
        "healthy_traps": sum(e["expected_top"] is None for e in entries),
        "must_not_files": sum(_wrong_alarm(e, r) for e, r in pairs if e["expected_top"] is not None),
    }


def headline(name: str, out: dict[str, Any]) -> str:
    """One sentence from the scored figures of one set: the tool against the grep baseline."""
    tool_, base = out["tool"], out["baseline"]
    files = tool_["files"]
    named = (f", root cause named {tool_['named']}/{tool_['worded_files']} ({tool_['root_cause_named']})"
             if tool_["worded_files"] else "")
    return (f"{name}: {files} files ({tool_['healthy_traps']} healthy traps): top category right "
            f"{tool_['top_right']}/{files} ({tool_['top_accuracy']}) vs grep {base['top_right']}/{files}, recall "
            f"{tool_['recalled']}/{tool_['expected_categories']} ({tool_['recall']}){named}, healthy files flagged "
            f"{tool_['false_alarms']}, ruled-out categories reported in {tool_['must_not_files']} files, "
            f"{tool_['errors']} errors")


def _diagnose_all(root: Path, entries: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], float]:
    from dgx_spark_mcp.settings import Settings

    results: list[dict[str, Any]] = []
    seconds = 0.0
    with tempfile.TemporaryDirectory(prefix="diagnose-accuracy-") as home:
        # allowed roots: the set and the folders it references (the shared corpus event logs)
        roots = sorted({str((root / e["path"]).resolve().parent) for e in entries} | {str(root.resolve())})
        settings = Settings(home=Path(home), allowed_roots=roots, log_level="WARNING")
        for entry in entries:
            path = (root / entry["path"]).resolve()
            start = time.perf_counter()
            try:
                result = tool(path, entry["kind"], settings)
            except Exception as exc:  # a crash is a wrong answer, and worth seeing in the output
                result = {"top": None, "found": [], "serious": [], "warning_or_worse": False,
                          "error": f"{type(exc).__name__}: {exc}"}
            seconds += time.perf_counter() - start
            results.append(result)
    return results, seconds


def scored_set(name: str, root: Path, entries: list[dict[str, Any]], show_misses: bool = True,
               per_file: bool = False) -> dict[str, Any]:
    """The figures of one set, overall and per input class; its misses unless they must stay unseen."""
    results, seconds = _diagnose_all(root, entries)
    base = [baseline((root / e["path"]).resolve(), set(e["expected"])) for e in entries]
    out: dict[str, Any] = {
        "tool": {**score(entries, results), "errors": sum("error" in r for r in results), "seconds": round(seconds, 2)},
        "baseline": score(entries, base),
        "by_class": {},
    }
    for cls in sorted({e["class"] for e in entries}):
        picked = [i for i, e in enumerate(entries) if e["class"] == cls]
        out["by_class"][cls] = score([entries[i] for i in picked], [results[i] for i in picked])
    out = {"headline": headline(name, out), **out}
    if show_misses:
        out["tool_misses"] = [
            {"path": e["path"], "class": e["class"], "expected_top": e["expected_top"], "got_top": r["top"],
             "found": r["found"], **({"words": e["words"], "top_text": r.get("top_text")} if not _named(e, r) else {}),
             **({"error": r["error"]} if "error" in r else {})}
            for e, r in zip(entries, results, strict=True)
            if not _top_right(e, r) or _wrong_alarm(e, r) or (e["words"] and not _named(e, r))
            or set(e["expected"]) - set(r["found"])
        ]
    if per_file:
        out["per_file"] = [{"path": e["path"], "tool": r} for e, r in zip(entries, results, strict=True)]
    return out


def run(labels: Path = DEFAULT_LABELS, per_file: bool = False, sets: tuple[str, ...] = ("old", "tune", "held"),
        show_held: bool = False, blind: Path = BLIND, parts: tuple[str, ...] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "old" in sets:
        out["old"] = scored_set("old set (built against)", labels.parent, load_labels(labels), per_file=per_file)
    entries = load_blind(blind, parts) if {"tune", "held"} & set(sets) else []
    if "tune" in sets:
        out["tune"] = scored_set("blind set, tuning part", blind, [e for e in entries if e["split"] == "tune"],
                                 per_file=per_file)
    if "held" in sets:
        out["held"] = scored_set("blind set, part kept aside", blind, [e for e in entries if e["split"] == "held"],
                                 show_misses=show_held, per_file=per_file and show_held)
    return {"headline": _short(out), "headlines": [part["headline"] for part in out.values()], **out}


def _short(out: dict[str, Any]) -> str:
    """The sets' top-1, recall and root-cause-named in one sentence (each set's own headline says more)."""
    said = []
    for name, part in out.items():
        tool_ = part["tool"]
        said.append(f"{name} {tool_['top_right']}/{tool_['files']} top-1, recall {tool_['recall']}, named "
                    f"{tool_['root_cause_named']}, {tool_['false_alarms']} healthy flagged")
        if name == "old":
            said[-1] += f" (grep {part['baseline']['top_right']}/{tool_['files']})"
    return "diagnosis, labelled sets: " + "; ".join(said)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--labels", type=Path, default=DEFAULT_LABELS, help="the old set's labels.json")
    parser.add_argument("--sets", default="old,tune,held", help="which sets to score: old, tune, held (comma-separated)")
    parser.add_argument("--show-held", action="store_true", help="list the misses of the part kept aside too (only "
                        "when reporting at the end: it is never tuned on)")
    parser.add_argument("--parts", default="", help="only these parts of the blind set (folder names, comma-separated)")
    parser.add_argument("--per-file", action="store_true", help="add every file's result")
    args = parser.parse_args()
    sets = tuple(s.strip() for s in args.sets.split(",") if s.strip())
    parts = tuple(s.strip() for s in args.parts.split(",") if s.strip())
    json.dump(run(args.labels, args.per_file, sets, args.show_held, parts=parts), sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
