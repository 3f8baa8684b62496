"""Test helpers: where the event-log fixtures are, an independent raw reader, and a log writer.

``raw_events`` reads a log with nothing but ``zstandard`` and ``json``: the facts the tests
compare the analysis against come from it, never from the code under test.  ``SyntheticLog``
writes Spark 3.x events in the exact shapes Spark's JsonProtocol writes (key names and nesting
copied from the corpus logs), for conditions the small corpus never reaches (a 400 s straggler,
GC at 30%, a container killed for memory).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import zstandard

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "eventlogs"
CORPUS = FIXTURES / "corpus"
PYSPARK = FIXTURES / "pyspark"
ROLLING = CORPUS / "eventlog_v2_local-1623876083964"
SQL = "org.apache.spark.sql.execution.ui."


@cache  # several tests read the same corpus file; none changes the list
def raw_lines(path: Path) -> list[bytes]:
    """The decompressed lines of a corpus file (plain or zstd), or of a rolling directory's files in order."""
    if path.is_dir():
        parts = sorted(path.glob("events_*"), key=lambda p: int(p.name.split("_")[1]))
        return [line for part in parts for line in raw_lines(part)]
    data = path.read_bytes()
    if data[:4] == b"\x28\xb5\x2f\xfd":
        with zstandard.ZstdDecompressor().stream_reader(data, read_across_frames=True) as reader:
            data = reader.read()
    return [line for line in data.split(b"\n") if line.strip()]


@cache
def raw_events(path: Path) -> list[dict[str, Any]]:
    """Every line json.loads accepts."""
    events = []
    for line in raw_lines(path):
        try:
            events.append(json.loads(line))
        except ValueError:
            pass
    return events


def of_type(events: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in events if e["Event"] == name]


@dataclass
class SyntheticLog:
    """A Spark 3.x application log written event by event (times in ms from ``start``)."""

    properties: dict[str, str] = field(default_factory=dict)
    start: int = 1_700_000_000_000
    executors: int = 2
    cores: int = 4
    events: list[dict[str, Any]] = field(default_factory=list)
    _task_id: int = 0
    _clock: int = 0

    def __post_init__(self) -> None:
        self.events += [
            {"Event": "SparkListenerLogStart", "Spark Version": "3.5.1"},
            {"Event": "SparkListenerEnvironmentUpdate", "JVM Information": {"Java Version": "17.0.10"},
             "Spark Properties": {"spark.master": "spark://master:7077", "spark.app.id": "app-synthetic",
                                  **self.properties}},
            {"Event": "SparkListenerApplicationStart", "App Name": "synthetic", "App ID": "app-synthetic",
             "Timestamp": self.start, "User": "tester"},
        ]
        for n in range(self.executors):
            self.events.append({"Event": "SparkListenerExecutorAdded", "Timestamp": self.start + 1, "Executor ID": str(n),
                                "Executor Info": {"Host": f"worker-{n}", "Total Cores": self.cores, "Log Urls": {},
                                                  "Attributes": {}, "Resources": {}, "Resource Profile Id": 0}})

    def stage(self, stage_id: int, tasks: list[dict[str, Any]], *, job_id: int | None = None,
              parents: tuple[int, ...] = (), failure: str | None = None) -> None:
        """One job with one stage whose tasks run back to back from the current clock.

        Each task is a dict of: ms (duration), and optionally run_ms, gc_ms, input, shuffle_read,
        shuffle_write, memory_spilled, disk_spilled, reason (a Task End Reason dict).
        """
        job_id = stage_id if job_id is None else job_id
        t0 = self.start + 1000 + self._clock
        info = {"Stage ID": stage_id, "Stage Attempt ID": 0, "Stage Name": f"stage {stage_id}", "Number of Tasks": len(tasks),
                "RDD Info": [], "Parent IDs": list(parents), "Details": "", "Accumulables": [], "Resource Profile Id": 0}
        self.events.append({"Event": "SparkListenerJobStart", "Job ID": job_id, "Submission Time": t0,
                            "Stage Infos": [info], "Stage IDs": [stage_id], "Properties": {}})
        self.events.append({"Event": "SparkListenerStageSubmitted", "Stage Info": {**info, "Submission Time": t0},
                            "Properties": {}})
        end = t0
        for n, task in enumerate(tasks):
            launch = t0 + 1
            finish = launch + task["ms"]
            end = max(end, finish)
            self.events.append(self._task_end(stage_id, n, launch, finish, task))
        completed = {**info, "Submission Time": t0, "Completion Time": end + 1}
        if failure:
            completed["Failure Reason"] = failure
        self.events.append({"Event": "SparkListenerStageCompleted", "Stage Info": completed})
        result = {"Result": "JobSucceeded"} if failure is None else {"Result": "JobFailed", "Exception": {"Message": failure}}
        self.events.append({"Event": "SparkListenerJobEnd", "Job ID": job_id, "Completion Time": end + 2, "Job Result": result})
        self._clock = end + 10 - self.start - 1000

    def _task_end(self, stage_id: int, index: int, launch: int, finish: int, task: dict[str, Any]) -> dict[str, Any]:
        self._task_id += 1
        reason = task.get("reason", {"Reason": "Success"})
        return {
            "Event": "SparkListenerTaskEnd", "Stage ID": stage_id, "Stage Attempt ID": 0, "Task Type": "ShuffleMapTask",
            "Task End Reason": reason,
            "Task Info": {"Task ID": self._task_id, "Index": index, "Attempt": 0, "Partition ID": index, "Launch Time": launch,
                          "Executor ID": str(index % self.executors), "Host": "worker", "Locality": "PROCESS_LOCAL",
                          "Speculative": False, "Getting Result Time": 0, "Finish Time": finish,
                          "Failed": reason["Reason"] != "Success", "Killed": False,
                          "Accumulables": [{"ID": 1, "Name": "internal.metrics.executorRunTime", "Update": 1, "Value": 1,
                                            "Internal": True, "Count Failed Values": True}]},
            "Task Executor Metrics": {"JVMHeapMemory": 0, "MinorGCCount": 0, "MajorGCTime": 0},
            "Task Metrics": {
                "Executor Deserialize Time": 1, "Executor Deserialize CPU Time": 1000,
                "Executor Run Time": task.get("run_ms", task["ms"]), "Executor CPU Time": task["ms"] * 1_000_000,
                "Peak Execution Memory": 0, "Result Size": 100, "JVM GC Time": task.get("gc_ms", 0),
                "Result Serialization Time": 0, "Memory Bytes Spilled": task.get("memory_spilled", 0),
                "Disk Bytes Spilled": task.get("disk_spilled", 0),
                "Shuffle Read Metrics": {"Remote Blocks Fetched": 0, "Local Blocks Fetched": 0, "Fetch Wait Time": 0,
                                         "Remote Bytes Read": task.get("shuffle_read", 0), "Remote Bytes Read To Disk": 0,
                                         "Local Bytes Read": 0, "Total Records Read": 0},
                "Shuffle Write Metrics": {"Shuffle Bytes Written": task.get("shuffle_write", 0), "Shuffle Write Time": 0,
                                          "Shuffle Records Written": 0},
                "Input Metrics": {"Bytes Read": task.get("input", 0), "Records Read": 0},
                "Output Metrics": {"Bytes Written": 0, "Records Written": 0},
                "Updated Blocks": [],
            },
        }

    def lines(self, *, end: bool = True) -> Iterator[str]:
        for event in self.events:
            yield json.dumps(event, separators=(",", ":"))
        if end:
            yield json.dumps({"Event": "SparkListenerApplicationEnd", "Timestamp": self.start + 1000 + self._clock + 100})

    def write(self, path: Path, *, end: bool = True) -> Path:
        path.write_text("\n".join(self.lines(end=end)) + "\n", encoding="utf-8")
        return path


def many_stage_log(path: Path, stages: int = 40, tasks_per_stage: int = 50) -> Path:
    """Many stages of skewed tasks failing of three causes (heap, fetch, container kill), a failed last job,
    spill and GC: more findings, stages and failure groups than a summary lists (the shape of the
    agent-tokens bench's event log)."""
    import random

    rng = random.Random(11)
    log = SyntheticLog(executors=16, properties={"spark.executor.memory": "8g", "spark.executor.cores": "4",
                                                 "spark.sql.shuffle.partitions": "200"})
    reasons = [
        {"Reason": "ExceptionFailure", "Class Name": "java.lang.OutOfMemoryError", "Description": "Java heap space",
         "Stack Trace": [], "Full Stack Trace": "java.lang.OutOfMemoryError: Java heap space\n\tat x.y(Z.java:1)"},
        {"Reason": "FetchFailed", "Block Manager Address": {"Executor ID": "3", "Host": "worker-3", "Port": 7337},
         "Shuffle ID": 1, "Map ID": 2, "Map Index": 2, "Reduce ID": 3, "Message": "Failed to connect to worker-3:7337"},
        {"Reason": "ExecutorLostFailure", "Executor ID": "5", "Exit Caused By App": True,
         "Loss Reason": "Container killed by YARN for exceeding memory limits. 9.1 GB of 9 GB physical memory used"},
    ]
    for stage in range(stages):
        tasks = []
        for n in range(tasks_per_stage):
            ms = rng.randint(200, 2000) * (40 if n == 0 and stage % 3 == 0 else 1)
            task: dict[str, Any] = {"ms": ms, "gc_ms": ms // (3 if stage % 5 == 0 else 20), "input": 64 << 20,
                                    "shuffle_read": (512 << 20) if n == 0 else (8 << 20), "shuffle_write": 4 << 20}
            if stage % 4 == 1:
                task |= {"memory_spilled": 256 << 20, "disk_spilled": 64 << 20}
            if n % 97 == 5:
                task["reason"] = reasons[(stage + n) % len(reasons)]
            tasks.append(task)
        failure = "Job aborted due to stage failure: Task 5 in stage failed 4 times" if stage == stages - 1 else None
        log.stage(stage, tasks, parents=(stage - 1,) if stage else (), failure=failure)
    return log.write(path)
