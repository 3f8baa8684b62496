"""MCP prompts: guided starting points an agent (or a person in a host's UI) can pick."""

from typing import Annotated

from mcp.server import MCPServer
from pydantic import Field

__all__ = ["register"]


def register(mcp: MCPServer) -> None:
    @mcp.prompt(title="GPU health check")
    def gpu_health_check(
        min_free_memory_gib: Annotated[str, Field(description="GiB a job needs free on a GPU, e.g. '8'.")] = "1",
    ) -> str:
        """Check this machine's GPUs: stack, memory, heat, throttling, ECC errors, and which GPUs are free."""
        return (
            "Check the health of this machine's NVIDIA GPUs.\n"
            "1. Call detect_hardware. If gpu_stack.available is false, report the reason and the host facts, and stop.\n"
            "2. For each GPU report: name, memory (note 'unified' memory shared with the CPU), temperature against "
            "temperature_slowdown_c, power draw against power_limit_w, clock_event_reasons other than gpu_idle, "
            "ECC uncorrected errors, MIG mode, and anything listed under 'unavailable' (never read it as zero).\n"
            f"3. Call check_gpu_availability with min_free_memory_gib={min_free_memory_gib} and report which GPUs are "
            "free, why the others are not, and the CUDA_VISIBLE_DEVICES value.\n"
            "4. End with concrete actions, most urgent first."
        )

    @mcp.prompt(title="Tune a Spark job")
    def tune_spark_job(
        event_log: Annotated[str, Field(description="Path of the job's Spark event log, or '' if there is none.")] = "",
        data_size: Annotated[str, Field(description="Input size, e.g. '500GiB' (used when there is no event log).")] = "",
        hardware: Annotated[str, Field(description="A profile name such as 'dgx-h100', or '' for this machine.")] = "",
    ) -> str:
        """Tune a Spark job from what it actually did (its event log) or from its data size and the hardware."""
        target = f"hardware={hardware!r}" if hardware else "this machine (omit hardware)"
        return (
            "Tune this Spark job and explain every change.\n"
            + (f"1. Call analyze_event_log with path={event_log!r}. Report failures first, then the slowest stages "
               "with their skew, spill and GC share, and the what-if for other executor counts.\n"
               if event_log else
               f"1. There is no event log: call estimate_resources with data_size={data_size!r} and {target}.\n")
            + f"2. Call optimize_spark_config for {target} with the job's workload and data size"
            + (" (take the input size from the analysis totals), passing the properties the log shows as "
               "current_config so the changes are listed key by key.\n" if event_log else ".\n")
            + "3. Call check_spark_config on the resulting configuration and resolve any finding.\n"
            "4. Answer with the configuration as spark-submit flags, each changed key with its reason, the "
            "recommendations from the event log that the configuration does not cover, and the warnings."
        )

    @mcp.prompt(title="Diagnose a Spark failure")
    def diagnose_spark_failure(
        log: Annotated[str, Field(description="Path of the failed job's driver/executor log, Airflow task log or event log.")],
        plan: Annotated[str, Field(description="Path of the slow query's EXPLAIN output, or '' if there is none.")] = "",
        hardware: Annotated[str, Field(description="A profile name such as 'dgx-h100', 'this', or '' to leave fixes unsized.")] = "",
    ) -> str:
        """Find why a Spark job or Airflow task failed (and why a query is slow), with the evidence and what to change."""
        sized = f", hardware={hardware!r}" if hardware else ""
        return (
            "Find why this Spark job failed and what to change.\n"
            f"1. Call diagnose_log with path={log!r}{sized}. Take the first finding as the most likely root cause; "
            "quote its evidence lines (file and line numbers) and how often it repeated.\n"
            + (f"2. Call analyze_query_plan with path={plan!r} and relate its findings (joins, exchanges, scans) to the "
               "failure.\n" if plan else "2. If the failure points at a query (skew, a broadcast, a cartesian product), "
               "ask for its EXPLAIN output and call analyze_query_plan.\n")
            + "3. Call check_spark_config on the configuration the fix changes, so the new values break no rule.\n"
            "4. Answer with the root cause in one sentence, the evidence, and the concrete changes (key, current value, "
            "new value, why), most important first. Say plainly when the log does not show enough to be sure."
        )
