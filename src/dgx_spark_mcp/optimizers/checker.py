"""``check_spark_config``: read a configuration, evaluate every best-practice rule, explain the findings.

    parse (config_sources / code_config) → Context (typed values, defaults, hardware)
      → one check per rule (checks/) → findings sorted by severity, with locations and fixes

Hardware-aware rules need the ``hardware`` argument (a profile name, 'this' for this machine, or
a spec); without it they are listed under ``skipped`` with the reason, never guessed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import BadInputError
from ..files import allowed_path, looks_binary
from ..settings import Settings
from .check_models import CheckResult, Finding, SeverityCounts, SkippedRule
from .checks import LAST, Skip, load_checks
from .checks.context import REDACTED, Context, is_secret
from .config_sources import MAX_CONFIG_BYTES, ConfigFormat, ParsedConfig, parse_config
from .keys import spark_keys_version
from .models import DeployMode
from .rules import SEVERITY_RANK, list_rules
from .target import HardwareSpec, resolve_target

__all__ = ["MAX_CONFIG_BYTES", "check_config", "check_parsed", "read_config_file", "shaped"]


def _order(finding: Finding) -> tuple[int, int, int, str]:
    lines = [k.line for k in finding.keys if k.line is not None]
    cells = [k.cell for k in finding.keys if k.cell is not None]
    return (-SEVERITY_RANK[finding.severity], min(cells, default=0), min(lines, default=1 << 30), finding.rule_id)


def check_parsed(
    parsed: ParsedConfig,
    hardware: str | HardwareSpec | dict[str, Any] | None = None,
    deploy_mode: DeployMode | str | None = None,
    language: str | None = None,
    nvml: Any | None = None,
) -> CheckResult:
    """Evaluate every rule over an already parsed configuration."""
    checks = load_checks()
    if isinstance(deploy_mode, str) and not isinstance(deploy_mode, DeployMode):
        try:
            deploy_mode = DeployMode(deploy_mode)
        except ValueError:
            choices = ", ".join(m.value for m in DeployMode)
            raise BadInputError(f"deploy_mode {deploy_mode!r} is not one of {choices}") from None
    target = resolve_target(hardware, nvml=nvml) if hardware is not None else None
    ctx = Context(parsed, deploy_mode=deploy_mode, language=language, target=target)
    findings: list[Finding] = []
    skipped: list[SkippedRule] = []
    for rule in sorted(list_rules(), key=lambda r: r.id in LAST):
        outcome = checks[rule.id](ctx, rule)
        if isinstance(outcome, Skip):
            skipped.append(SkippedRule(rule_id=rule.id, reason=outcome.reason))
        else:
            findings.extend(outcome)
    findings.sort(key=_order)
    counts = SeverityCounts(**{s: sum(f.severity == s for f in findings) for s in SEVERITY_RANK})
    result = CheckResult(
        format=parsed.format,
        language=ctx.language,
        deploy_mode=ctx.deploy.value if ctx.deploy else None,
        hardware=target.label if target else None,
        spark_keys_version=spark_keys_version(),
        findings=findings,
        findings_total=len(findings),
        counts=counts,
        keys_read=len(parsed.entries),
        parsed=parsed.entries,
        skipped=skipped,
        notes=[*parsed.notes, *(target.warnings if target else ())],
    )
    return _without_secrets(result, parsed)


def shaped(result: CheckResult, detail: str = "full", limit: int | None = None) -> CheckResult:
    """The answer an agent asked for: the first ``limit`` findings, and the keys read only with detail='full'."""
    findings = result.findings if limit is None else result.findings[:limit]
    more = []
    if len(findings) < len(result.findings):
        more.append(f"{len(result.findings) - len(findings)} more findings with a larger limit")
    parsed = result.parsed if detail == "full" else []
    if result.parsed and not parsed:
        more.append("detail='full' lists every key read with its line")
    return result.model_copy(update={"findings": findings, "parsed": parsed, "more": "; ".join(more) or None})


def _without_secrets(result: CheckResult, parsed: ParsedConfig) -> CheckResult:
    """Every value of a key Spark would redact (spark.redaction.regex), replaced wherever it appears:
    in the parsed keys, their source lines, messages and fixes."""
    secrets = {e.value for e in parsed.entries if is_secret(e.key) and e.value}
    if not secrets:
        return result
    text = result.model_dump_json()
    for secret in sorted(secrets, key=len, reverse=True):
        escaped = json.dumps(secret)[1:-1]
        text = text.replace(f'"{escaped}"', json.dumps(REDACTED))  # a whole field
        if len(secret) >= 4:  # inside longer text; shorter ones would clobber unrelated words
            text = text.replace(escaped, REDACTED)
    return CheckResult.model_validate_json(text)


def check_config(
    config: dict[str, Any] | str,
    fmt: ConfigFormat = ConfigFormat.AUTO,
    filename: str | None = None,
    hardware: str | HardwareSpec | dict[str, Any] | None = None,
    deploy_mode: DeployMode | str | None = None,
    language: str | None = None,
    nvml: Any | None = None,
) -> CheckResult:
    """Parse ``config`` (a dict, conf text, a spark-submit line or source text) and check it."""
    parsed = parse_config(config, fmt, filename)
    return check_parsed(parsed, hardware=hardware, deploy_mode=deploy_mode, language=language, nvml=nvml)


def read_config_file(path: str, settings: Settings) -> tuple[str, str]:
    """(text, file name) of a config or source file under the allowed roots."""
    resolved: Path = allowed_path(path, settings)
    size = resolved.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise BadInputError(
            f"path {path!r} is {size / 1024**2:.1f} MiB, above the {MAX_CONFIG_BYTES // 1024**2} MiB a configuration "
            "or source file can be; give the file that sets the Spark configuration"
        )
    raw = resolved.read_bytes()
    if looks_binary(raw):
        raise BadInputError(
            f"path {path!r} is binary data, not a configuration (NUL or control bytes); give a spark-defaults.conf, "
            "a spark-submit script or a PySpark/Scala/SQL source file"
        )
    try:
        return raw.decode("utf-8"), resolved.name
    except UnicodeDecodeError:
        raise BadInputError(f"path {path!r} is not UTF-8 text; give a config, shell or source file") from None
