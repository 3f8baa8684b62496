"""Keys themselves: deprecated, removed, unknown (with "did you mean"), set twice, or with a value Spark refuses."""

from __future__ import annotations

from ..check_models import Finding
from ..keys import deprecated, is_known, suggest
from ..rules import Rule
from . import Skip, check
from .context import REDACTED, Context, is_secret


@check("deprecated-key")
def deprecated_key(ctx: Context, rule: Rule) -> list[Finding] | Skip:
    found = []
    for key, entry in ctx.conf.items():
        gone = deprecated(key)
        if gone is None or gone.removed:
            continue
        since = f" since {gone.since}" if gone.since else ""
        message = f"{key} is deprecated{since}: {gone.note.strip()}"
        fix = [ctx.change(rule, key, None, "deprecated" + (f"; use {gone.replacement}" if gone.replacement else ""))]
        if gone.replacement and not ctx.is_set(gone.replacement):
            fix.append(ctx.change(rule, gone.replacement, entry.value, f"the replacement of {key}"))
        found.append(ctx.finding(rule, message, [key], fix))
    return found


@check("removed-key")
def removed_key(ctx: Context, rule: Rule) -> list[Finding] | Skip:
    found = []
    for key, entry in ctx.conf.items():
        gone = deprecated(key)
        if gone is None or not gone.removed:
            continue
        harmless = (entry.value is not None and gone.removed_default is not None
                    and entry.value.strip().lower() == gone.removed_default.lower())
        if harmless:
            message = f"{key} was removed in Spark {gone.since} and has no effect: {gone.note.strip()}"
        else:
            message = (f"{key} was removed in Spark {gone.since}; Spark refuses any value but "
                       f"{gone.removed_default!r}: {gone.note.strip()}")
        fix = [ctx.change(rule, key, None, "removed from Spark")]
        if gone.replacement and not ctx.is_set(gone.replacement):
            fix.append(ctx.change(rule, gone.replacement, entry.value, f"the replacement of {key}"))
        found.append(ctx.finding(rule, message, [key], fix, severity="info" if harmless else "error"))
    return found


@check("unknown-key")
def unknown_key(ctx: Context, rule: Rule) -> list[Finding] | Skip:
    found = []
    read_by_spark_submit = ctx.parsed.format.value in ("conf", "submit")
    for key, entry in ctx.conf.items():
        if is_known(key) or deprecated(key) is not None:
            continue
        if not key.startswith("spark."):
            if read_by_spark_submit:
                message = (f"{key} does not start with 'spark.': spark-submit ignores it "
                           "(\"Ignoring non-Spark config property\"); Hadoop keys go in as spark.hadoop.*")
                fix = [ctx.change(rule, key, None, "ignored by Spark"),
                       ctx.change(rule, f"spark.hadoop.{key}", entry.value, "if it is a Hadoop setting")]
                found.append(ctx.finding(rule, message, [key], fix, severity="warning"))
            else:
                message = f"{key} is not a Spark key: Spark passes it to the session's Hadoop or Hive configuration at most"
                found.append(ctx.finding(rule, message, [key], severity="info"))
            continue
        close = suggest(key)
        if close:
            message = f"{key} is not a Spark or RAPIDS key; did you mean {' or '.join(close[:2])}?"
            fix = [ctx.change(rule, key, None, "unknown key, probably a typo"),
                   ctx.change(rule, close[0], entry.value, f"the known key closest to {key}")]
            found.append(ctx.finding(rule, message, [key], fix, severity="warning", suggestions=close))
        else:
            message = (f"{key} is not a key of Spark or of the RAPIDS Accelerator; if a library reads it "
                       "(a catalog, a connector), ignore this")
            found.append(ctx.finding(rule, message, [key], severity="info"))
    return found


SHOWN_PLACES = 4
"""Places a duplicate-key finding quotes; a key set a hundred times in a loop is not a hundred lines of message."""


@check("duplicate-key")
def duplicate_key(ctx: Context, rule: Rule) -> list[Finding] | Skip:
    found = []
    seen: dict[str, list[int]] = {}
    for index, entry in enumerate(ctx.parsed.entries):
        seen.setdefault(entry.key, []).append(index)
    for key, indexes in seen.items():
        if len(indexes) < 2:
            continue
        entries = [ctx.parsed.entries[i] for i in indexes]
        winner = ctx.conf[key]

        def shown(value: str | None) -> str:
            return REDACTED if is_secret(key) else repr(value)

        quoted = [f"{shown(e.value)} ({e.origin}{f', line {e.line}' if e.line else ''})" for e in entries]
        if len(quoted) > SHOWN_PLACES:  # the first few and the last (the winner, usually): the count says the rest
            quoted = [*quoted[:SHOWN_PLACES - 1], f"... {len(quoted) - SHOWN_PLACES} more ...", quoted[-1]]
        places = ", ".join(quoted)
        values = {e.value for e in entries}
        same = len(values) == 1
        message = f"{key} is set {len(entries)} times: {places}; Spark uses {shown(winner.value)}"
        if not same and winner is not entries[-1]:
            message += " (spark-submit's dedicated flag wins over --conf)"
        fix = [ctx.change(rule, key, winner.value, "set it once, where it is easy to find")]
        found.append(ctx.finding(rule, message, [key], fix, severity="info" if same else "warning"))
    return found


@check("invalid-value", last=True)
def invalid_value(ctx: Context, rule: Rule) -> list[Finding] | Skip:
    return [
        ctx.finding(rule, f"{key} = {ctx.text(key)!r} is refused by Spark: {why}", [key],
                    [ctx.change(rule, key, ctx.default(key), "a value Spark accepts (its default shown)")])
        for key, why in sorted(ctx.invalid.items())
    ]
