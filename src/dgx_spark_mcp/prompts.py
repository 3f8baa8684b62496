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
