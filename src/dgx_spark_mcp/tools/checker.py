"""Tool: check_spark_config."""

import json
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from ..app import App
from ..errors import BadInputError
from ..optimizers.check_models import CheckResult
from ..json_depth import check_json_depth
from ..optimizers.config_sources import ConfigFormat
from ..optimizers.models import DeployMode
from ..optimizers.target import HardwareSpec
from ..settings import Settings
from . import READ_ONLY, Detail, DetailArg, tool

__all__ = ["DEFAULT_LIMIT", "run_check", "tools"]


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


DEFAULT_LIMIT = 10


def run_check(
    settings: Settings,
    config: ConfigInput | None,
    path: str | None,
    fmt: ConfigFormat,
    hardware: str | HardwareSpec | dict[str, Any] | None,
    deploy_mode: DeployMode | None,
    language: str | None,
    nvml: Any | None = None,
    detail: Detail = "full",
    limit: int | None = None,
) -> CheckResult:
    """The tool's work, shared with the CLI so that ``check --json`` prints the same result."""
    # The checker and its knowledge files load on the first check, not when the server starts.
    from ..optimizers.checker import check_config, read_config_file, shaped

    if (config is None) == (path is None):
        raise BadInputError(
            "give exactly one of 'config' (an object of key -> value, or the text of spark-defaults.conf, a "
            "spark-submit command or a source file) and 'path' (a file under the allowed roots)"
        )
    filename = None
    if path is not None:
        config, filename = read_config_file(path, settings)
    assert config is not None
    result = check_config(config, fmt, filename, hardware=hardware, deploy_mode=deploy_mode, language=language,
                          nvml=nvml)
    return shaped(result, detail, limit)


def tools(app: App) -> list[Callable[..., Any]]:
    @tool(title="Check a Spark configuration", annotations=READ_ONLY)
    def check_spark_config(
        config: Annotated[
            ConfigInput | None,
            Field(description="key -> value object, or text: spark-defaults.conf, a spark-submit/pyspark command, or "
                  "PySpark/Scala/SQL source. Or give path."),
        ] = None,
        path: Annotated[
            str | None, Field(description="A .conf, .sh, .py, .ipynb, .scala, .java or .sql file under the allowed roots.")
        ] = None,
        format: Annotated[ConfigFormat, Field(description="How to read the input (default: detected).")] = (
            ConfigFormat.AUTO
        ),
        hardware: Annotated[
            str | dict[str, Any] | None,
            Field(description="For the hardware rules: a profile name, 'this' or a node spec; omit to skip them."),
        ] = None,
        deploy_mode: Annotated[DeployMode | None, Field(description="Default: from spark.master.")] = None,
        language: Annotated[
            Literal["python", "scala", "java", "sql", "r"] | None,
            Field(description="The job's language when the input does not show it."),
        ] = None,
        detail: DetailArg = "summary",
        limit: Annotated[int, Field(ge=1, le=1000, description="Most findings to return.")] = DEFAULT_LIMIT,
    ) -> CheckResult:
        """Check a Spark configuration against best-practice rules (memory, cores, partitions, AQE, serializer,
        RAPIDS, security, deprecated and unknown keys): findings most severe first, each with its rule_id
        (spark://rules/{rule_id}), the actual values, the keys' lines and the changes to make."""
        return run_check(app.settings, config, path, format, hardware, deploy_mode, language, nvml=app.nvml,
                         detail=detail, limit=limit)

    return [check_spark_config]
