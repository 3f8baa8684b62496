"""analyze_query_plan speed: parse + summary + findings vs a bare scan of the same plan text.

    python bench/plan_analysis.py [--runs 20]

The baseline reads the text once with one regex (the operator of each tree line), which is
the least any plan reader must do; the ratio says what the typed tree, the details and the
eleven rules cost on top.  Plans: the largest corpus plan (a 432-column formatted DSv2 scan,
47 KB), and a generated formatted plan of 1,000 operators (500 sort-merge joins' worth).
With --sql, also the time to EXPLAIN a query through local PySpark: the first call (JVM start)
and the next ones.  Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from dgx_spark_mcp.diagnosis.plans.analysis import analyze_query_plan  # noqa: E402
from dgx_spark_mcp.settings import Settings  # noqa: E402

BASELINE = re.compile(r"^[ :|+-]*(?:\* )?([A-Za-z]\w*)", re.MULTILINE)


def generated_plan(joins: int) -> str:
    """A formatted plan: a left-deep chain of sort-merge joins over exchanges, with detail blocks."""
    tree, details, next_id = [], [], 1
    depth = 0
    for j in range(joins):
        pad = "   " * depth
        marker = "+- " if depth else ""
        tree.append(f"{pad[:-3] if depth else ''}{marker}* SortMergeJoin Inner ({next_id})")
        details.append(f"({next_id}) SortMergeJoin [codegen id : {j + 1}]\nLeft keys [1]: [k{j}#1]\n"
                       f"Right keys [1]: [k{j}#2]\nJoin type: Inner\nJoin condition: None\n")
        tree.append(f"{pad}:- Exchange ({next_id + 1})")
        details.append(f"({next_id + 1}) Exchange\nInput [1]: [k{j}#2]\n"
                       f"Arguments: hashpartitioning(k{j}#2, 200), ENSURE_REQUIREMENTS, [plan_id={j}]\n")
        next_id += 2
        depth += 1
    tree.append("   " * (depth - 1) + "+- Scan parquet db.t (0)")
    details.append("(0) Scan parquet db.t\nOutput [1]: [k#1]\nLocation: InMemoryFileIndex [file:/t]\n"
                   "PushedFilters: [IsNotNull(k)]\nReadSchema: struct<k:int>\n")
    return "== Physical Plan ==\n" + "\n".join(tree) + "\n\n\n" + "\n".join(details)


def _median_ms(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return round(statistics.median(times) * 1000, 3)


def _fig(value: float) -> str:
    """A figure with about three significant digits, never in exponent form."""
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}" if value >= 10 else f"{value:.2f}" if value >= 0.1 \
        else f"{value:.3f}"


def headline(out: dict[str, object], runs: int) -> str:
    """One sentence from the measured figures: each plan's analyze time vs the regex pass, and EXPLAIN if timed."""
    labels = {"corpus_dsv2_47kb": "47 KB corpus plan", "generated_1000_nodes": "generated 1,000-operator plan"}
    parts = []
    for name, label in labels.items():
        row = out.get(name)
        if isinstance(row, dict):
            ratio = f"{_fig(row['ratio'])}x" if row["ratio"] is not None else "regex time too small to compare"
            parts.append(f"{label} {_fig(row['analyze_ms'])} vs {_fig(row['baseline_regex_ms'])} ms ({ratio})")
    sentence = f"analyze_query_plan vs one regex pass over the same text, median of {runs}: " + "; ".join(parts)
    sql = out.get("sql_explain")
    if isinstance(sql, dict):
        sentence += f"; SQL EXPLAIN via local PySpark first call {sql['first_call_s']} s, then {_fig(sql['warm_call_ms'])} ms"
    return sentence + "; no target"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--sql", action="store_true", help="also time EXPLAIN through local PySpark")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="plan-bench-"))
    settings = Settings(home=home, allowed_roots=[str(home)], log_level="WARNING")
    plans = {
        "corpus_dsv2_47kb": (REPO / "tests/fixtures/plans/formatted/spark311_dsv2__sql4.txt").read_text(),
        "generated_1000_nodes": generated_plan(500),
    }
    out: dict[str, object] = {}
    for name, text in plans.items():
        result = analyze_query_plan(text, settings)
        full = _median_ms(lambda: analyze_query_plan(text, settings), args.runs)
        base = _median_ms(lambda: BASELINE.findall(text), args.runs)
        out[name] = {"chars": len(text), "nodes": result.summary.node_count, "findings": len(result.findings),
                     "analyze_ms": full, "baseline_regex_ms": base, "ratio": round(full / base, 1) if base else None}
    if args.sql:
        query = "SELECT e.id, count(*) FROM e JOIN u ON e.id = u.id WHERE e.d = 'x' GROUP BY e.id"
        ddl = "CREATE TABLE e (id INT, d STRING) USING parquet PARTITIONED BY (d); CREATE TABLE u (id INT) USING parquet"
        start = time.perf_counter()
        analyze_query_plan(None, settings, sql=query, schema=ddl)
        first = time.perf_counter() - start
        warm = _median_ms(lambda: analyze_query_plan(None, settings, sql=query, schema=ddl), 5)
        out["sql_explain"] = {"first_call_s": round(first, 2), "warm_call_ms": warm}
    print(json.dumps({"headline": headline(out, args.runs), **out}, indent=2))


if __name__ == "__main__":
    main()
