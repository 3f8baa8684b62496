"""The one error tree of dgx-spark-mcp.

    DgxSparkError                  base; never raised itself
    ├── BadInputError              the caller asked for something invalid (unknown profile,
    │                              a value out of range, a path outside the allowed roots).
    │                              The message names the value, what was expected and what to do.
    └── CouldNotDoError            the request was fine but this machine could not do it
        │                          (a library missing, a device lost, a store unavailable).
        └── UnavailableError       a live server (History Server, driver UI, Airflow) could not
                                   be reached or did not answer in time: trying again later may
                                   work, which the message says.

Both reach an agent as a tool result with ``is_error=True`` and the message as text, so the
agent can read it and act; neither is a protocol error.  Conditions that are normal on some
machines (no GPU, an unsupported NVML field) are *not* errors: they are reported inside the
result, because an agent planning for a cluster still wants the rest of the answer.
"""

from __future__ import annotations

__all__ = ["BadInputError", "CouldNotDoError", "DgxSparkError", "UnavailableError"]


class DgxSparkError(Exception):
    """Base of every error this package raises on purpose."""


class BadInputError(DgxSparkError, ValueError):
    """Raised when an argument is invalid; the message says what was expected and what to do."""


class CouldNotDoError(DgxSparkError, RuntimeError):
    """Raised when a valid request cannot be carried out on this machine right now."""


class UnavailableError(CouldNotDoError):
    """Raised when a live server cannot be reached, times out, or is not ready yet; the message says what to check
    and that a later call may succeed."""
