"""
Paced CloudTables imports under ``dag.test()``: they defer between rate windows (the trigger runs inline) and
end equal to one uninterrupted run, within the emulator's limit; two imports of one key share its budget.

The DAG file is the end-to-end one (``tests/dags/files/e2e_deferred_import.py``) with smaller numbers: 10
requests per 2 s, deferring waits over 0.5 s. ``dag.test()`` runs tasks one after the other; two tasks at
once, in a pool, are the end-to-end test's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from airflow_provider_cloud.operators.rows import ImportRowsOperator
from airflow_provider_cloud.testing.cloudtables import CloudTablesEmulator
from tests.dags.dag_support import DAGS_FOLDER, run_dag, task_states
from tests.dags.deferred_import_support import connection, last_values, refused, stored
from tests.dags.files.e2e_deferred_import import (
    DEFERRED_CONN_ID,
    READINGS_POINTS,
    SHARED_CONN_ID,
    SHARED_POOL,
    readings,
    readings_csv,
)

pytestmark = [pytest.mark.dag, pytest.mark.integration]

DAG_FILE = DAGS_FOLDER / "e2e_deferred_import.py"
LIMIT, WINDOW = 10, 2.0
ROWS = 30


@pytest.fixture
def emulator() -> Iterator[CloudTablesEmulator]:
    with CloudTablesEmulator(rate_limit=LIMIT, rate_window=WINDOW, request_log_size=5_000) as ct:
        yield ct


@pytest.fixture
def small_numbers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("E2E_DEFER_WAITS_OVER", "0.5")
    monkeypatch.setenv("AIRFLOW_VAR_CLOUD_PROVIDER_FILE_BASE", tmp_path.as_uri())
    monkeypatch.setenv("AIRFLOW_VAR_E2E_DEFERRED_IMPORT_ROWS", str(ROWS))
    monkeypatch.setenv("AIRFLOW_VAR_E2E_SHARED_BUDGET_ROWS", "20")


def connect(monkeypatch: pytest.MonkeyPatch, conn_id: str, ct: CloudTablesEmulator, **extra: Any) -> None:
    settings = {"rate_limit": LIMIT, "rate_window": WINDOW, **extra}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(connection(ct, **settings)))


def deferral_lines(logs: list[dict[str, Any]]) -> list[str]:
    return [str(e["event"]) for e in logs if str(e.get("event")).startswith("Deferring, the worker free")]


def test_an_import_defers_between_rate_windows_and_ends_equal_to_one_uninterrupted_run(
    airflow_db, emulator, small_numbers, monkeypatch, cloudtables_emulator, cloudtables_conn_id, tmp_path
):
    from airflow.models.task_state_store import TaskStateStoreModel
    from airflow.utils.session import create_session

    dataset = emulator.add_dataset("Readings", READINGS_POINTS)
    connect(monkeypatch, DEFERRED_CONN_ID, emulator)

    with structlog.testing.capture_logs() as logs:
        dag_run, xcoms = run_dag("e2e_deferred_import", path=DAG_FILE)

    assert task_states(dag_run) == {"make_readings": "success", "import_readings": "success"}
    summary = xcoms["import_readings"]
    assert summary["rows_read"] == summary["rows_written"] == ROWS
    # 30 rows, a read of the data set and its schema per part, 10 requests per window: 3 windows at least.
    assert summary["deferrals"] >= 2
    assert len(deferral_lines(logs)) == summary["deferrals"]
    assert refused(emulator) == 0  # the resumed parts knew the sends of the earlier ones
    with create_session() as session:
        left = session.query(TaskStateStoreModel).filter_by(run_id=dag_run.run_id).all()
    assert left == []  # checkpoint, send times and deferral count went with the success

    # The same file imported in one go, unpaced, on another server: the data sets are equal.
    reference = cloudtables_emulator.add_dataset("Readings", READINGS_POINTS)
    source = tmp_path / "reference.csv"
    source.write_text(readings_csv(readings(ROWS)))
    ImportRowsOperator(
        task_id="reference", conn_id=cloudtables_conn_id, dataset="Readings", source=str(source), key="code"
    ).execute({})
    assert stored(emulator, dataset) == stored(cloudtables_emulator, reference)
    last = last_values(ROWS)  # a key's last row wins
    assert stored(emulator, dataset) == last
    assert last["R0000"] == ("moved", 1000)


def test_two_imports_of_one_key_share_its_budget_through_the_ledger_in_a_variable(
    airflow_db, emulator, small_numbers, monkeypatch
):
    from airflow.models.variable import Variable as VariableModel
    from airflow.utils.session import create_session

    datasets = {name: emulator.add_dataset(f"Readings {name}", READINGS_POINTS) for name in "AB"}
    connect(monkeypatch, SHARED_CONN_ID, emulator, rate_budget_pool=SHARED_POOL)

    with structlog.testing.capture_logs() as logs:
        dag_run, xcoms = run_dag("e2e_shared_budget", path=DAG_FILE)

    assert set(task_states(dag_run).values()) == {"success"}
    for name in "AB":
        assert stored(emulator, datasets[name]) == last_values(20)
    # import_b starts where import_a left the window: it waits (deferred) instead of sending at once.
    assert xcoms["import_b"]["deferrals"] >= 1
    assert refused(emulator) == 0
    assert deferral_lines(logs)
    with create_session() as session:
        ledgers = (
            session.query(VariableModel).filter(VariableModel.key.like("cloudtables_rate_budget_%")).all()
        )
        assert len(ledgers) == 1
        name, value = ledgers[0].key, ledgers[0].val
    assert emulator.api_key not in name
    assert emulator.api_key not in value
    assert 1 <= len(json.loads(value)) <= LIMIT + 1


def test_without_a_shared_budget_the_second_import_overruns_the_limit(
    airflow_db, emulator, small_numbers, monkeypatch
):
    """The control: the same DAG whose connection does not share the budget meets the service's 429s."""
    for name in "AB":
        emulator.add_dataset(f"Readings {name}", READINGS_POINTS)
    connect(monkeypatch, SHARED_CONN_ID, emulator, retry_limit=20)

    dag_run, _ = run_dag("e2e_shared_budget", path=DAG_FILE)

    assert set(task_states(dag_run).values()) == {"success"}  # the core waits the 429s out
    assert refused(emulator) > 0
