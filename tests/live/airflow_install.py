"""A real Apache Airflow for the live tests, in its own virtual environment, cached by version.

Airflow pins hundreds of packages of its own, so it never enters the project's environment: each
version gets ``~/.cache/dgx-spark-mcp/airflow-<version>/`` (``$XDG_CACHE_HOME`` is honoured), built
on first use with pip from PyPI and marked complete only when the install finished, so a later run
reuses it and a broken half-install is rebuilt.  The install is pinned by
``tests/fixtures/airflow/constraints-<version>.txt``.  Several pytest processes wait for one another on a
lock file instead of installing twice.

Run ``python tests/live/airflow_install.py 3.1.8`` to build the environment ahead (or to see why
an install fails).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["AirflowInstallError", "airflow_bin", "cache_dir"]

INSTALL_TIMEOUT_S = 900
CONSTRAINTS = Path(__file__).resolve().parent.parent / "fixtures" / "airflow"
"""``constraints-<version>.txt``: the packages of an install that passed here (``pip freeze``), so that a later
install from PyPI resolves to the same set rather than to whatever is newest that day (Airflow's own constraint
files live on GitHub, out of reach of the test machines)."""


class AirflowInstallError(RuntimeError):
    """pip could not build the Airflow environment; the message holds the end of pip's output."""


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "dgx-spark-mcp"


def _base_python() -> str:
    """The interpreter behind this venv: a venv made from another venv's python would point at it."""
    return getattr(sys, "_base_executable", None) or sys.executable


def airflow_bin(version: str) -> Path:
    """The ``bin`` directory of an environment holding ``apache-airflow==version``, built if missing."""
    root = cache_dir() / f"airflow-{version}"
    venv, done = root / "venv", root / "installed"
    if done.exists():
        return venv / "bin"
    root.mkdir(parents=True, exist_ok=True)
    with (root / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.exists():  # another process finished it while this one waited
            return venv / "bin"
        shutil.rmtree(venv, ignore_errors=True)
        started = time.monotonic()
        subprocess.run([_base_python(), "-m", "venv", str(venv)], check=True, timeout=120)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        pinned = CONSTRAINTS / f"constraints-{version}.txt"
        constraints = ["-c", str(pinned)] if pinned.exists() else []
        out = subprocess.run([*pip, f"apache-airflow=={version}", *constraints], capture_output=True, text=True,
                             timeout=INSTALL_TIMEOUT_S, check=False)
        if out.returncode != 0:
            shutil.rmtree(venv, ignore_errors=True)
            raise AirflowInstallError(f"pip install apache-airflow=={version} failed (exit {out.returncode}):\n"
                                      + (out.stdout + out.stderr)[-3000:])
        done.write_text(f"{time.monotonic() - started:.0f} s\n")
    return venv / "bin"


if __name__ == "__main__":
    for wanted in sys.argv[1:] or ["3.1.8"]:
        t0 = time.monotonic()
        print(airflow_bin(wanted), f"({time.monotonic() - t0:.0f} s)")
