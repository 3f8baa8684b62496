"""Security on shared clusters: authentication, encryption, UI ACLs, secrets written in the config."""

from __future__ import annotations

from ..check_models import Finding
from ..rules import Rule
from . import Skip, check
from .context import Context, is_secret

# Keys that match Spark's redaction pattern but hold no secret: mount points and references
# to Kubernetes secrets, file paths, credential-provider class names.
_NOT_A_SECRET = (".secrets.", "secretKeyRef", "redaction")
_NOT_A_SECRET_END = (".file", "File", ".path", "Path", "provider", "Provider")
_MEDIUM = {"conf": "spark-defaults.conf file", "submit": "command line (and the shell history)",
           "source": "source file (and its version history)", "json": "configuration"}


def _not_on_a_cluster(ctx: Context) -> list[Finding] | Skip | None:
    """None when the config runs on a cluster; else [] (local mode, or a snippet) or a Skip (a whole
    job's config whose deploy mode is unknown)."""
    if ctx.cluster:
        return None
    if ctx.cluster is None and ctx.sizes_cluster:
        return Skip("the deploy mode is unknown: pass deploy_mode or set spark.master "
                    "(these rules apply to clusters, not to local mode)")
    return []


@check("authentication-disabled")
def authentication_disabled(ctx: Context, rule: Rule) -> list[Finding] | Skip:
    if (not_here := _not_on_a_cluster(ctx)) is not None:
        return not_here
    if ctx.flag("spark.authenticate"):
        return []
    message = (f"spark.authenticate is {ctx.text('spark.authenticate')} on {ctx.deploy.value if ctx.deploy else ''}: "
               "any process that reaches the driver or executor ports can submit work to them")
    fix = [ctx.change(rule, "spark.authenticate", "true", "require the shared secret on every RPC connection")]
    return [ctx.finding(rule, message, ["spark.authenticate"], fix)]


@check("encryption-disabled")
def encryption_disabled(ctx: Context, rule: Rule) -> list[Finding] | Skip:
    if (not_here := _not_on_a_cluster(ctx)) is not None:
        return not_here
    found = []
    if not ctx.flag("spark.network.crypto.enabled"):
        message = ("spark.network.crypto.enabled is false: RPC and shuffle blocks cross the network in clear text"
                   + ("" if ctx.flag("spark.authenticate") else " (it also needs spark.authenticate=true)"))
        fix = [ctx.change(rule, "spark.network.crypto.enabled", "true", "AES-based encryption of RPC and shuffle")]
        if not ctx.flag("spark.authenticate"):
            fix.append(ctx.change(rule, "spark.authenticate", "true", "network encryption requires authentication"))
        found.append(ctx.finding(rule, message, ["spark.network.crypto.enabled"], fix))
    if not ctx.flag("spark.io.encryption.enabled"):
        message = "spark.io.encryption.enabled is false: shuffle and spill files on local disks are not encrypted"
        fix = [ctx.change(rule, "spark.io.encryption.enabled", "true", "encrypt local shuffle and spill files")]
        found.append(ctx.finding(rule, message, ["spark.io.encryption.enabled"], fix, severity="info"))
    return found


@check("ui-acls-disabled")
def ui_acls_disabled(ctx: Context, rule: Rule) -> list[Finding] | Skip:
    if (not_here := _not_on_a_cluster(ctx)) is not None:
        return not_here
    if ctx.flag("spark.ui.enabled") is False or ctx.flag("spark.acls.enable"):
        return []
    message = ("spark.acls.enable is false while the web UI is on: anyone who reaches the UI sees the job's "
               "environment, SQL text and data samples, and can kill its jobs")
    fix = [ctx.change(rule, "spark.acls.enable", "true",
                      "check view and modify ACLs (spark.ui.view.acls, spark.modify.acls)")]
    return [ctx.finding(rule, message, ["spark.acls.enable"], fix)]


def _holds_secret(key: str, value: str | None) -> bool:
    if not value or not is_secret(key):
        return False
    if any(part in key for part in _NOT_A_SECRET) or key.endswith(_NOT_A_SECRET_END):
        return False
    return not (value.startswith(("${", "{{")) or "secrets/" in value)  # references, not secrets


@check("secret-in-config")
def secret_in_config(ctx: Context, rule: Rule) -> list[Finding] | Skip:
    found = []
    for key, entry in ctx.conf.items():
        if not _holds_secret(key, entry.value):
            continue
        where = f" on line {entry.line}" if entry.line else ""
        medium = _MEDIUM.get(ctx.parsed.format.value, "configuration")
        message = (f"{key} holds a secret in plain text{where}: anyone who can read the {medium}, "
                   "or the event log and process list it ends up in, can read it")
        fix = [ctx.change(rule, key, None, "pass it from a secret store or a file readable only by the job "
                                           "(e.g. spark.authenticate.secret.file)")]
        found.append(ctx.finding(rule, message, [key], fix))
    return found
