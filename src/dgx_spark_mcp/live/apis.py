"""The REST APIs the live tools speak, as recorded in ``data/live-apis.json``: Spark's monitoring API v1 and
Airflow's API v2 (Airflow 3) and v1 (Airflow 2), each with the release it was checked against.

Why data: endpoint paths and the names that differ between Airflow's API versions are facts about other
software that change with its releases; the file says where each was read and which release the live tests
ran, so a reader can tell when to check again.  The code builds its paths from the base paths here, and a
test holds the endpoint lists to the requests the code makes.
"""

from __future__ import annotations

import functools

from pydantic import BaseModel, ConfigDict, Field

from ..knowledge import load_knowledge

__all__ = ["AirflowFlavor", "LiveApis", "SparkApi", "live_apis"]


class SparkApi(BaseModel):
    base: str
    source: str
    verified_with: str
    endpoints: list[str] = Field(description="Paths under base; [/{attempt}] where YARN-style attempts insert one.")


class AirflowFlavor(BaseModel):
    """What differs between Airflow's REST API versions."""

    model_config = ConfigDict(frozen=True)

    api: str = Field(description="Base path: /api/v2 or /api/v1.")
    airflow: int = Field(description="The Airflow major version that serves it.")
    date_field: str = Field(description="A DAG run's date field (logical_date is null for manual runs in v2).")
    since_param: str = Field(description="The 'runs since' filter of the dagRuns list.")
    newest_first: str = Field(description="order_by value for newest first.")
    json_records: bool = Field(description="Task logs come as JSON records (v2), not a Python repr of tuples (v1).")
    jwt: bool = Field(description="Credentials are exchanged for a JWT at POST /auth/token (v2), not sent as basic auth.")
    source: str
    verified_with: str


class LiveApis(BaseModel):
    about: str
    spark: SparkApi
    airflow: list[AirflowFlavor] = Field(description="Newest first: the order servers are probed in.")
    airflow_endpoints: list[str] = Field(description="Paths under an Airflow flavor's base.")


@functools.cache
def live_apis() -> LiveApis:
    return load_knowledge("live-apis.json", LiveApis)
