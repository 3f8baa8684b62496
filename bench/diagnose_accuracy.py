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
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_LABELS = REPO / "tests" / "fixtures" / "diagnosis" / "labelled" / "labels.json"
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


# --- reading the set --------------------------------------------------------------------------


def load_labels(path: Path) -> list[dict[str, Any]]:
    return list(json.loads(path.read_text(encoding="utf-8"))["files"])


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
            "warning_or_worse": bool(serious), "findings": len(findings)}


# --- scoring ------------------------------------------------------------------------------------


def _top_right(entry: dict[str, Any], result: dict[str, Any]) -> bool:
    if "error" in result:  # a crash is wrong even on a healthy trap
        return False
    if entry["expected_top"] is None:
        return not result["warning_or_worse"]
    return bool(result["top"] == entry["expected_top"])


def score(entries: list[dict[str, Any]], results: list[dict[str, Any]]) -> dict[str, Any]:
    expected_total = sum(len(e["expected"]) for e in entries)
    recalled = sum(len(set(e["expected"]) & set(r["found"])) for e, r in zip(entries, results, strict=True))
    healthy = [r for e, r in zip(entries, results, strict=True) if e["expected_top"] is None]
    right = sum(_top_right(e, r) for e, r in zip(entries, results, strict=True))
    return {
        "top_accuracy": round(right / len(entries), 3) if entries else None,
        "top_right": right,
        "recall": round(recalled / expected_total, 3) if expected_total else None,
        "recalled": recalled,
        "false_alarms": sum(r["warning_or_worse"] for r in healthy),
    }


def headline(out: dict[str, Any]) -> str:
    """One sentence from the scored figures: the tool against the grep baseline, and the top-accuracy target."""
    tool_, base = out["tool"], out["baseline"]
    files, expected = out["files"], out["expected_categories"]
    met = tool_["top_accuracy"] is not None and tool_["top_accuracy"] >= TARGET_TOP_ACCURACY
    ratio = f", {tool_['top_right'] / base['top_right']:.2f}x" if base["top_right"] else ""
    return (f"diagnosis on {files} labelled files ({out['healthy_traps']} healthy traps) vs a grep Exception/ERROR "
            f"baseline: top category right {tool_['top_right']}/{files} ({tool_['top_accuracy']}) vs "
            f"{base['top_right']}/{files} ({base['top_accuracy']}){ratio}, recall {tool_['recalled']}/{expected} vs "
            f"{base['recalled']}/{expected}, false alarms {tool_['false_alarms']} vs {base['false_alarms']}, "
            f"{tool_['errors']} errors; target top >= {TARGET_TOP_ACCURACY}: {'met' if met else 'missed'}")


def run(labels: Path, per_file: bool = False) -> dict[str, Any]:
    from dgx_spark_mcp.settings import Settings

    root = labels.parent
    entries = load_labels(labels)
    tool_results: list[dict[str, Any]] = []
    base_results: list[dict[str, Any]] = []
    tool_s = 0.0
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
                result = {"top": None, "found": [], "warning_or_worse": False, "error": f"{type(exc).__name__}: {exc}"}
            tool_s += time.perf_counter() - start
            tool_results.append(result)
            base_results.append(baseline(path, set(entry["expected"])))
    flagged = sum(r["flagged_lines"] for r in base_results)
    noise = sum(r["noise_lines"] for r in base_results)
    kinds = Counter(e["kind"] for e in entries)
    out: dict[str, Any] = {
        "files": len(entries),
        "healthy_traps": sum(e["expected_top"] is None for e in entries),
        "by_kind": dict(sorted(kinds.items())),
        "expected_categories": sum(len(e["expected"]) for e in entries),
        "tool": {**score(entries, tool_results), "errors": sum("error" in r for r in tool_results),
                 "seconds": round(tool_s, 2)},
        "baseline": {**score(entries, base_results), "flagged_lines": flagged, "noise_lines": noise,
                     "noise_share": round(noise / flagged, 3) if flagged else None},
        "tool_misses": [
            {"path": e["path"], "expected_top": e["expected_top"], "got_top": r["top"], "found": r["found"],
             **({"error": r["error"]} if "error" in r else {})}
            for e, r in zip(entries, tool_results, strict=True) if not _top_right(e, r)
        ],
    }
    out = {"headline": headline(out), **out}
    if per_file:
        out["per_file"] = [{"path": e["path"], "tool": t, "baseline": b}
                           for e, t, b in zip(entries, tool_results, base_results, strict=True)]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--labels", type=Path, default=DEFAULT_LABELS)
    parser.add_argument("--per-file", action="store_true", help="add every file's result")
    args = parser.parse_args()
    json.dump(run(args.labels, args.per_file), sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
