"""Byte sizes as people write them ("1.5TB", "500GiB", 1048576) and as Spark reads them ("4g")."""

from __future__ import annotations

import re

from ..errors import BadInputError

__all__ = ["parse_size", "parse_spark_size", "spark_size"]

_UNITS = {
    "": 1, "b": 1,
    "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2, "g": 1000**3, "gb": 1000**3,
    "t": 1000**4, "tb": 1000**4, "p": 1000**5, "pb": 1000**5,
    "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4, "pib": 1024**5,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(value: str | int | float) -> int:
    """Bytes in ``value``; decimal units (TB) are powers of 1000, binary units (TiB) of 1024."""
    if isinstance(value, bool):
        raise BadInputError(f"data size {value!r} is not a size; give bytes or a string like '500GiB' or '1.5TB'")
    if isinstance(value, (int, float)):
        if value < 0 or value != value:
            raise BadInputError(f"data size {value!r} must be a non-negative number of bytes")
        return int(value)
    match = _SIZE.match(value)
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS:
        raise BadInputError(
            f"data size {value!r} is not understood; give bytes or a number with a unit such as "
            "'800MB', '500GiB' or '1.5TB'"
        )
    return int(float(match.group(1)) * _UNITS[unit])


def spark_size(mib: float) -> str:
    """A Spark memory string: whole GiB as 'Ng', otherwise 'Nm'."""
    whole = int(mib)
    return f"{whole // 1024}g" if whole >= 1024 and whole % 1024 == 0 else f"{max(whole, 1)}m"


# Spark's own size strings (JavaUtils.byteStringAs) are binary whatever the suffix: "4g" and
# "4gb" are both 4 GiB.  A bare number is in the key's own unit (MiB for spark.executor.memory,
# bytes for spark.sql.autoBroadcastJoinThreshold), Spark refuses fractions ("1.5g"), and a
# leading minus is allowed (ConfigHelpers.byteFromString) because "-1" means "off" for some keys.
_SPARK_UNITS = {"b": 1, "k": 1024, "kb": 1024, "m": 1024**2, "mb": 1024**2, "g": 1024**3, "gb": 1024**3,
                "t": 1024**4, "tb": 1024**4, "p": 1024**5, "pb": 1024**5}
_SPARK_SIZE = re.compile(r"^(-?)(\d+)([a-z]*)$")


def parse_spark_size(value: str | int, default_unit: str = "b") -> int:
    """Bytes in a Spark size string ("4g" = 4 GiB, "512m", "1t"); a bare number is in ``default_unit``."""
    text = str(value).strip().lower()
    match = _SPARK_SIZE.match(text)
    unit = (match.group(3) or default_unit) if match else None
    if match is None or unit not in _SPARK_UNITS:
        fraction = re.match(r"^-?\d+\.\d+[a-z]*$", text)
        why = "Spark does not accept fractions" if fraction else "expected a whole number with b, k, m, g, t or p"
        raise BadInputError(
            f"Spark size {value!r} is not valid ({why}); write it as Spark reads it, e.g. '4g', '512m' or '1536m'"
        )
    sign = -1 if match.group(1) else 1
    return sign * int(match.group(2)) * _SPARK_UNITS[unit]
