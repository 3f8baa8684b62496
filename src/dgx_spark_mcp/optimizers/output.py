"""One configuration, three forms: spark-defaults.conf, spark-submit flags, a SparkApplication.

Every form carries every key (the earlier tool's spark-submit dropped Kryo, AQE and
dynamic allocation); a test parses each form back and compares it with the key map.  An
answer holds one form, the one asked for; the reasons live once, in the key map, so the
spark-defaults.conf text carries no reason comments.
"""

from __future__ import annotations

import json
import shlex

from .models import ConfigEntry, DeployMode, ExecutorPlan, OutputForm

__all__ = ["render_output"]

_MASTERS = {
    DeployMode.STANDALONE: "spark://MASTER_HOST:7077",
    DeployMode.YARN: "yarn",
    DeployMode.KUBERNETES: "k8s://https://KUBERNETES_API_HOST:6443",
}
# Keys the SparkApplication expresses as typed fields instead of sparkConf entries.
_OPERATOR_FIELDS = {
    "spark.driver.memory": ("driver", "memory"),
    "spark.executor.cores": ("executor", "cores"),
    "spark.executor.instances": ("executor", "instances"),
    "spark.executor.memory": ("executor", "memory"),
    "spark.executor.memoryOverhead": ("executor", "memoryOverhead"),
}


def _defaults_conf(entries: list[ConfigEntry], version: str) -> str:
    lines = [f"# spark-defaults.conf, Spark {version} (dgx-spark-mcp)"]
    lines += [f"{e.key} {e.value}" for e in entries]
    return "\n".join(lines) + "\n"


def _spark_submit(entries: list[ConfigEntry], deploy: DeployMode, gpu: bool) -> str:
    conf = {e.key: e.value for e in entries}
    master = conf.pop("spark.master", None) or _MASTERS[deploy]
    parts = ["spark-submit", f"--master {shlex.quote(master)}"]
    parts += [f"--conf {shlex.quote(f'{k}={v}')}" for k, v in conf.items()]
    if gpu:
        parts.append("--jars rapids-4-spark.jar")
    parts.append("your_app.py")
    return " \\\n  ".join(parts)


def _yaml_value(value: str) -> str:
    """Numbers stay numbers; everything else is a JSON string, which YAML reads verbatim."""
    return value if value.isdigit() else json.dumps(value)


def _manifest(entries: list[ConfigEntry], plan: ExecutorPlan, gpu: bool, version: str) -> str:
    conf = {e.key: e.value for e in entries}
    typed: dict[str, dict[str, str]] = {"driver": {"cores": "1"}, "executor": {}}
    for key, (section, field) in _OPERATOR_FIELDS.items():
        if key in conf:
            typed[section][field] = conf.pop(key)
    lines = [
        "apiVersion: sparkoperator.k8s.io/v1beta2",
        "kind: SparkApplication",
        "metadata:",
        "  name: spark-job",
        "spec:",
        "  type: Python",
        "  mode: cluster",
        f"  image: {json.dumps('IMAGE_WITH_SPARK_' + version + ('_CUDA_AND_RAPIDS_JAR' if gpu else ''))}",
        f"  sparkVersion: {json.dumps(version)}",
        '  mainApplicationFile: "local:///opt/spark/work-dir/your_app.py"',
        "  sparkConf:",
        *[f"    {json.dumps(k)}: {json.dumps(v)}" for k, v in conf.items()],
    ]
    for section in ("driver", "executor"):
        lines.append(f"  {section}:")
        lines += [f"    {field}: {_yaml_value(value)}" for field, value in typed[section].items()]
        if section == "driver":
            lines.append('    serviceAccount: "spark"')
    if gpu:
        lines += ["    gpu:", '      name: "nvidia.com/gpu"', "      quantity: 1"]
    return "\n".join(lines) + "\n"


def render_output(form: OutputForm, entries: list[ConfigEntry], deploy: DeployMode, plan: ExecutorPlan, gpu: bool,
                  version: str) -> str:
    """The configuration in one form (k8s only for the kubernetes deploy mode: the caller checks)."""
    if form == "conf":
        return _defaults_conf(entries, version)
    if form == "submit":
        return _spark_submit(entries, deploy, gpu)
    return _manifest(entries, plan, gpu, version)
