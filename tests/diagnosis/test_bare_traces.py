"""A Java stack trace pasted on its own (no log4j line around it) is still a finding naming its exception."""

from __future__ import annotations

from pathlib import Path

from dgx_spark_mcp.diagnosis.logs.diagnose import diagnose_log
from dgx_spark_mcp.settings import Settings

TRACE = ("java.lang.IllegalStateException: Cannot call methods on a stopped SparkContext.\n"
         "\tat org.apache.spark.SparkContext.assertNotStopped(SparkContext.scala:118)\n")


def test_a_bare_unknown_exception_with_frames_is_an_unrecognised_error(tmp_path: Path) -> None:
    result = diagnose_log("", Settings(home=tmp_path, allowed_roots=[tmp_path]), text=TRACE)
    assert [(f.rule_id, f.severity) for f in result.findings] == [("UNCLASSIFIED_ERROR", "info")]
    assert result.findings[0].title == "Unrecognised error logged: IllegalStateException"


def test_a_bare_exception_line_without_frames_stays_quiet(tmp_path: Path) -> None:
    # Output that merely names an exception class (a config dump, a report) is no stack trace.
    said = "retry policy: java.io.IOException: retried 3 times\n"
    assert diagnose_log("", Settings(home=tmp_path, allowed_roots=[tmp_path]), text=said).findings == []


def test_a_long_line_that_quotes_its_causes_names_the_deepest_one(tmp_path: Path) -> None:
    line = ("24/07/08 04:00:00 WARN TaskSetManager: Lost task 0.0 in stage 0.0 (TID 0, localhost, executor driver): "
            "java.nio.file.AccessDeniedException: s3a://bucket/" + "p" * 300 + ".parquet: getFileStatus on s3a://bucket/x: "
            "com.amazonaws.services.s3.model.AmazonS3Exception: Forbidden (Service: Amazon S3; Status Code: 403; "
            "Error Code: 403 Forbidden)\n")
    found = diagnose_log("", Settings(home=tmp_path, allowed_roots=[tmp_path]), text=line).findings[0]
    assert "innermost: com.amazonaws.services.s3.model.AmazonS3Exception: Forbidden" in found.root_cause
    assert "403 Forbidden" in found.root_cause


def test_a_signature_matched_far_into_a_long_line_is_quoted_where_it_matched(tmp_path: Path) -> None:
    line = ("13:12:52 [INFO] [o.a.s.s.DAGScheduler:61] - ResultStage 1522 failed due to Job aborted due to stage "
            "failure: " + "x" * 400 + " org.apache.spark.SparkException: Kryo serialization failed: Buffer overflow. "
            "Available: 0, required: 1. To avoid this, increase spark.kryoserializer.buffer.max value.\n")
    found = diagnose_log("", Settings(home=tmp_path, allowed_roots=[tmp_path]), text=line).findings[0]
    assert found.category == "kryo_buffer_overflow"
    assert "Buffer overflow" in found.root_cause and "spark.kryoserializer.buffer.max" in found.root_cause


def test_comet_fallback_explain_tags_are_a_cpu_fallback_finding(tmp_path: Path) -> None:
    from dgx_spark_mcp.diagnosis.plans.analysis import analyze_query_plan

    plan = ("Comet cannot execute some parts of this plan natively:\n"
            " Exchange [COMET: Exchange is not native because the following children are not native (HashAggregate)]\n"
            "+-  HashAggregate [COMET: HashAggregate is not native because the following children are not native (Scan)]\n"
            "   +-  Scan parquet db.t [COMET: Scan parquet db.t is not native because spark.comet.scan.enabled is false]\n")
    found = analyze_query_plan(plan, Settings(home=tmp_path, allowed_roots=[tmp_path])).findings
    assert [f.category for f in found] == ["cpu_fallback"]
    assert found[0].root_cause.startswith("Comet reported 3 operator(s) it leaves to Spark (not native)")


def test_an_exception_spark_submit_itself_threw_is_a_launch_failure(tmp_path: Path) -> None:
    rejected = ('Exception in thread "main" org.apache.spark.SparkException: Executor memory must be a positive number\n'
                "\tat org.apache.spark.deploy.SparkSubmitArguments.error(SparkSubmitArguments.scala:670)\n"
                "\tat org.apache.spark.deploy.SparkSubmitArguments.validateSubmitArguments(SparkSubmitArguments.scala:294)\n"
                "exit code 1\n")
    unresolved = ('Exception in thread "main" java.lang.RuntimeException: [unresolved dependency: com.acme#udfs_2.13;2.4.1: '
                  "not found]\n\tat org.apache.spark.util.MavenUtils$.resolveMavenCoordinates(MavenUtils.scala:539)\n"
                  "\tat org.apache.spark.util.DependencyUtils$.resolveMavenDependencies(DependencyUtils.scala:122)\n"
                  "\tat org.apache.spark.deploy.SparkSubmit.prepareSubmitEnvironment(SparkSubmit.scala:343)\n")
    # The application's own exception has the application's frames first (SparkSubmit's only at the bottom).
    own = ('Exception in thread "main" java.lang.IllegalArgumentException: bad date 2024-13-01\n'
           "\tat com.acme.etl.DailyJob$.main(DailyJob.scala:42)\n\tat com.acme.etl.DailyJob.main(DailyJob.scala)\n"
           "\tat org.apache.spark.deploy.SparkSubmit.org$apache$spark$deploy$SparkSubmit$$runMain(SparkSubmit.scala:965)\n")
    for text, category in ((rejected, "launch_failure"), (unresolved, "launch_failure"), (own, "job_aborted")):
        found = diagnose_log("", Settings(home=tmp_path, allowed_roots=[tmp_path]), text=text).findings
        assert found[0].category == category, text
