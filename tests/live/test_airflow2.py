"""The same tools against a real Apache Airflow 2.10 (REST API v1, basic auth, text task logs), started beside the
Airflow 3 of test_airflow3.py from its own virtual environment: one adapter serves both."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from dgx_spark_mcp.errors import CouldNotDoError, UnavailableError
from dgx_spark_mcp.live.airflow_diagnosis import diagnose_dag_run
from dgx_spark_mcp.live.airflow_runs import list_dag_runs
from dgx_spark_mcp.settings import Settings

from .airflow_env import AIRFLOW2, AirflowEnv, start_airflow

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def airflow2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowEnv]:
    """Apache Airflow 2 with the test DAGs' runs finished, for this module only (it is ended before the next one)."""
    yield from start_airflow(AIRFLOW2, tmp_path_factory.mktemp("airflow2"))


@pytest.fixture
def settings2(airflow2: AirflowEnv, tmp_path: Path) -> Settings:
    return airflow2.settings(tmp_path / "home")


def test_runs_are_listed_failed_first_through_api_v1(airflow2: AirflowEnv, settings2: Settings) -> None:
    page = list_dag_runs(settings2, limit=100)
    assert page.airflow.startswith("Airflow 2.10.5 at ") and page.total == len(airflow2.runs)
    assert [r.state for r in page.runs] == ["failed"] * (len(airflow2.runs) - 1) + ["success"]
    assert all(r.logical_date for r in page.runs)  # Airflow 2's execution_date, under the name Airflow 3 gives it
    (error,) = page.import_errors
    assert error.filename.endswith("/dags/broken_dag.py")
    assert error.error == "ModuleNotFoundError: No module named 'no_such_module_for_tests'"


def test_every_try_of_a_python_exception_is_read_from_text_logs(airflow2: AirflowEnv, settings2: Settings) -> None:
    answer = diagnose_dag_run(settings2, "etl_exception")
    assert answer.source.startswith("Airflow 2.10.5") and answer.run_id == airflow2.runs["etl_exception"]
    assert [(f.task_id, f.try_number) for f in answer.findings] == [("extract", 1), ("extract", 2)]
    for finding in answer.findings:
        assert finding.category == "airflow_task_failed"
        assert finding.error == "ValueError: partition 2026-12-01 has 0 rows; refusing to publish an empty day"


def test_a_timeout_a_chain_and_a_mapped_index_read_as_on_airflow_3(settings2: Settings) -> None:
    timeout = diagnose_dag_run(settings2, "etl_timeout")
    assert timeout.findings[0].category == "airflow_task_timeout"
    assert timeout.findings[0].error is not None and "AirflowTaskTimeout" in timeout.findings[0].error
    chain = diagnose_dag_run(settings2, "etl_chain")
    assert [(u.failed_task, u.blocked_total) for u in chain.upstream_failed] == [("extract", 3)]
    assert {f.task_id for f in chain.findings} == {"extract"} and chain.findings[0].error == "KeyError: 'apac'"
    mapped = diagnose_dag_run(settings2, "etl_mapped")
    (finding,) = mapped.findings
    assert (finding.task_id, finding.map_index, finding.error) == (
        "load_partition", 2, "RuntimeError: partition 2 is corrupt: checksum mismatch")


def test_a_wrong_password_is_refused_clearly_and_never_shown(
        airflow2: AirflowEnv, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "not-the-password-2b9c"  # noqa: S105
    settings = airflow2.settings(tmp_path / "home", airflow=airflow2.server(password=wrong))
    with pytest.raises(CouldNotDoError, match=r"refused the credentials for /api/v1/dags/~/dagRuns \(HTTP 401\)") as exc:
        list_dag_runs(settings)
    assert not isinstance(exc.value, UnavailableError)
    for secret in (wrong, airflow2.password):
        assert secret not in str(exc.value) and secret not in caplog.text
