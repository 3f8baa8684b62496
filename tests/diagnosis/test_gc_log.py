"""GC pressure from the JVM's GC lines in a driver log (unified -Xlog:gc and JDK 8 -verbose:gc)."""

from __future__ import annotations

from pathlib import Path

from dgx_spark_mcp.diagnosis.logs.diagnose import diagnose_log
from dgx_spark_mcp.diagnosis.logs.gc_log import gc_pauses, gc_pressure
from dgx_spark_mcp.settings import Settings

LIMITS = {"gc_share": 0.2, "min_span_ms": 2000, "full_count": 3, "full_heap_share": 0.5}
START = "24/07/08 04:00:00 INFO SparkContext: Running Spark version 4.0.0\n"
END = "24/07/08 04:01:00 INFO SparkContext: Successfully stopped SparkContext\n"
CROWDED = (
    "[0.010s][info][gc] Using G1\n"
    "[1.234s][info][gc] GC(0) Pause Young (Normal) (G1 Evacuation Pause) 25M->4M(516M) 5.123ms\n"
    "[5.000s][info][gc] GC(1) Pause Full (G1 Compaction Pause) 510M->498M(512M) 812.345ms\n"
    "[6.000s][info][gc] GC(2) Pause Full (G1 Compaction Pause) 511M->500M(512M) 900.0ms\n"
    "[7.000s][info][gc] GC(3) Pause Full (G1 Compaction Pause) 511M->505M(512M) 950.0ms\n"
    "[8.5s][info][gc] GC(4) Pause Young (Normal) (G1 Evacuation Pause) 500M->499M(512M) 300.0ms\n"
)
HEALTHY = "".join(f"[{t}.0s][info][gc] GC({t}) Pause Young (Normal) (G1 Evacuation Pause) 300M->40M(1024M) 8.0ms\n"
                  for t in range(1, 60))
LEGACY = (
    "2.345: [GC (Allocation Failure)  524288K->12345K(2010112K), 0.0123456 secs]\n"
    "10.100: [Full GC (Ergonomics) [PSYoungGen: 1000K->0K(2000K)] [ParOldGen: 1400000K->1399000K(1400000K)] "
    "1401000K->1399000K(1402000K), [Metaspace: 3000K->3000K(1056768K)], 1.2345 secs] [Times: user=2.00 real=1.23 secs]\n"
    "12.000: [Full GC (Ergonomics)  1401000K->1399500K(1402000K), 1.5 secs]\n"
    "14.000: [Full GC (Ergonomics)  1401000K->1399800K(1402000K), 1.6 secs]\n"
)


def test_unified_lines_are_read_with_their_pauses_and_full_collections() -> None:
    found = gc_pauses(CROWDED.encode())
    assert found.pauses == 5
    assert round(found.pause_ms) == 2967
    assert [(after, capacity) for _, after, capacity in found.full_after] == [
        (498 * 1024**2, 512 * 1024**2), (500 * 1024**2, 512 * 1024**2), (505 * 1024**2, 512 * 1024**2)]


def test_padded_tags_and_a_wall_clock_decoration_are_read() -> None:
    line = (b"[2024-05-01T10:00:00.123+0000][3.210s][info][gc          ] GC(5) Pause Young (Concurrent Start) "
            b"(G1 Humongous Allocation) 120M->80M(256M) 12.5ms\n[3.3s][info][gc,heap] GC(5) Eden regions: 3->0(20)\n")
    found = gc_pauses(line)
    assert (found.pauses, found.pause_ms, found.first_s) == (1, 12.5, 3.21)


def test_a_crowded_heap_is_gc_pressure_and_names_the_fullest_collection() -> None:
    said, offset = gc_pressure(CROWDED.encode(), **LIMITS)  # type: ignore[misc]
    assert "3 full collection(s) left the heap a median 98% full" in said
    assert CROWDED.encode()[offset:].startswith(b"[7.000s]")


def test_jdk8_verbose_gc_lines_count_too() -> None:
    said, _ = gc_pressure(LEGACY.encode(), **LIMITS)  # type: ignore[misc]
    assert said.startswith("JVM GC paused 4 time(s) for 4.3 s in the 13.3 s its log covers (33%)")


def test_short_young_pauses_are_no_finding() -> None:
    assert gc_pressure(HEALTHY.encode(), **LIMITS) is None
    assert gc_pressure(b"no gc lines here\n", **LIMITS) is None


def test_pause_share_alone_is_enough_without_full_collections() -> None:
    busy = "".join(f"[{t}.0s][info][gc] GC({t}) Pause Young (Normal) (G1 Evacuation Pause) 300M->240M(320M) 400.0ms\n"
                   for t in range(1, 12))
    said, offset = gc_pressure(busy.encode(), **LIMITS)  # type: ignore[misc]
    assert offset is None and "(42%)" in said


def test_driver_log_gets_a_gc_finding_quoting_the_line(tmp_path: Path) -> None:
    log = tmp_path / "driver.log"
    log.write_text(START + CROWDED + END)
    result = diagnose_log(log, Settings(home=tmp_path / "home", allowed_roots=[tmp_path]), kind="spark_driver")
    top = result.findings[0]
    assert (top.category, top.rule_id, top.severity) == ("gc_pressure", "driverlog.slow.gc", "warning")
    assert top.evidence[0].line_numbers == [6]
    assert top.evidence[0].lines[0].startswith("[7.000s][info][gc] GC(3) Pause Full")


def test_healthy_gc_log_stays_quiet(tmp_path: Path) -> None:
    log = tmp_path / "driver.log"
    log.write_text(START + HEALTHY + END)
    result = diagnose_log(log, Settings(home=tmp_path / "home", allowed_roots=[tmp_path]), kind="spark_driver")
    assert [f.category for f in result.findings if f.severity != "info"] == []


def test_full_collections_leaving_half_the_heap_are_pressure_but_system_gc_is_not() -> None:
    half = "".join(f"[{t}.0s][info][gc] GC({t}) Pause Full (G1 Compaction Pause) 697M->506M(700M) 120.0ms\n"
                   for t in range(10, 40, 10))
    said, _ = gc_pressure(half.encode(), **LIMITS)  # type: ignore[misc]
    assert "3 full collection(s) left the heap a median 72% full" in said
    asked = half.replace("(G1 Compaction Pause)", "(System.gc())")
    assert gc_pressure(asked.encode(), **LIMITS) is None  # an explicit call, not a heap that ran out
