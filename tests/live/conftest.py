"""Fixtures of the live-source tests: real servers on loopback (one line per source)."""

from .airflow_env import airflow3  # noqa: F401  (a session fixture: a real Apache Airflow 3 with failed DAG runs)
from .shs import history_server  # noqa: F401  (a session fixture: a real Spark History Server)
