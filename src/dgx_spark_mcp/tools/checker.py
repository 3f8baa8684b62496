"""Tool: check_spark_config."""

import json
from typing import Annotated, Any, Literal

from mcp.server import MCPServer
from pydantic import BeforeValidator, Field

from ..app import App
from ..errors import BadInputError
from ..optimizers.check_models import CheckResult
from ..json_depth import check_json_depth
from ..optimizers.config_sources import ConfigFormat
from ..optimizers.models import DeployMode
from ..optimizers.target import HardwareSpec
from ..settings import Settings
from . import READ_ONLY, agent_errors

__all__ = ["register", "run_check"]


def _decoded_back_to_text(value: Any) -> Any:
    """The SDK decodes a string argument that looks like JSON before validating it.  A decoded object that is
    not a flat key -> value map goes back to text, so the config parser says what is wrong with it (which key,
    which value) instead of a validation error that asks for a string the caller did send."""
    if isinstance(value, list):
        raise BadInputError("config is a JSON array; give an object of key -> value, or the text of "
                            "spark-defaults.conf, a spark-submit command or a source file")
    if isinstance(value, dict) and not all(isinstance(v, str | int | float | bool) for v in value.values()):
        check_json_depth(value, "config")
        return json.dumps(value)
    return value


ConfigInput = Annotated[dict[str, str | int | float | bool] | str, BeforeValidator(_decoded_back_to_text)]


def run_check(
    settings: Settings,
    config: ConfigInput | None,
    path: str | None,
    fmt: ConfigFormat,
    hardware: str | HardwareSpec | None,
    deploy_mode: DeployMode | None,
    language: str | None,
    nvml: Any | None = None,
) -> CheckResult:
    """The tool's work, shared with the CLI so that ``check --json`` prints the same result."""
    # The checker and its knowledge files load on the first check, not when the server starts.
    from ..optimizers.checker import check_config, read_config_file

    if (config is None) == (path is None):
        raise BadInputError(
            "give exactly one of 'config' (an object of key -> value, or the text of spark-defaults.conf, a "
            "spark-submit command or a source file) and 'path' (a file under the allowed roots)"
        )
    filename = None
    if path is not None:
        config, filename = read_config_file(path, settings)
    assert config is not None
    return check_config(config, fmt, filename, hardware=hardware, deploy_mode=deploy_mode, language=language,
                        nvml=nvml)


def register(mcp: MCPServer, app: App) -> None:
    @mcp.tool(title="Check a Spark configuration", annotations=READ_ONLY)
    @agent_errors
    def check_spark_config(
        config: Annotated[
            ConfigInput | None,
            Field(
                description="The configuration: an object of key -> value, or text: spark-defaults.conf lines, a "
                "spark-submit/pyspark command line, or PySpark/Scala/SQL source (auto-detected). Omit when giving path."
            ),
        ] = None,
        path: Annotated[
            str | None,
            Field(
                description="A file to check instead of config: spark-defaults.conf, a shell script with spark-submit, "
                "or a .py/.ipynb/.scala/.java/.sql source. Must be under the allowed roots."
            ),
        ] = None,
        format: Annotated[
            ConfigFormat,
            Field(description="Force how the input is read: json (object), conf, submit, source; default auto."),
        ] = ConfigFormat.AUTO,
        hardware: Annotated[
            str | HardwareSpec | None,
            Field(
                description="The node the job runs on, for the hardware rules (executor fits the node, GPU memory vs "
                "concurrency, pinned memory, partitions vs cores): a profile name ('dgx-spark', 'dgx-h100'; see "
                "list_hardware_profiles), 'this' for this machine, or a spec {cpu_cores, memory_gib, gpu_count, "
                "gpu_memory_gib, ...}. Omit to skip those rules (they are listed under 'skipped')."
            ),
        ] = None,
        deploy_mode: Annotated[
            DeployMode | None,
            Field(description="Cluster manager (local, standalone, yarn, kubernetes); default: read from spark.master."),
        ] = None,
        language: Annotated[
            Literal["python", "scala", "java", "sql", "r"] | None,
            Field(description="The job's language when the input does not show it (python enables the PySpark rules)."),
        ] = None,
    ) -> CheckResult:
        """Check an existing Spark configuration against best-practice rules: executor/driver memory and cores bands,
        overhead for PySpark and RAPIDS, giant or tiny executors, partitions vs cores, serializer, AQE, dynamic
        allocation, broadcast threshold vs driver memory, maxResultSize, RAPIDS consistency (GPU amounts, task
        amount x cores, concurrency vs GPU memory, pinned pool), security, deprecated and unknown keys (with 'did you
        mean'). Each finding has a stable rule_id (details: spark://rules/{rule_id}), severity, the message with the
        actual values, the keys with their line numbers, and concrete config changes. Findings come most severe
        first; rules that could not run are listed under 'skipped' with the reason."""
        return run_check(app.settings, config, path, format, hardware, deploy_mode, language, nvml=app.nvml)
