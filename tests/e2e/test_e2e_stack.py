"""
End-to-end: DAGs under a real scheduler, DAG processor, triggerer and API server (see ``airflow_stack``).

One stack serves the whole module. The ``scenarios`` fixture unpauses every DAG and starts both manual runs,
so the runs and the asset watcher's start-up overlap; each test then drives and checks its own scenario.
Adding an example DAG: append its file to ``DAG_FILES`` and its DAG id to ``DAG_IDS`` (unpaused on start),
its connections to ``connections()``, then trigger it in ``scenarios`` and add a test that waits for and
checks its run.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_cloud.testing.kloudless import KloudlessEmulator
from tests.e2e.airflow_stack import AirflowStack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600, method="signal")]

E2E_DAGS = Path(__file__).resolve().parent / "dags"
DAG_FILES = [E2E_DAGS / "e2e_xcom.py", E2E_DAGS / "e2e_deferrable.py", E2E_DAGS / "e2e_asset_watcher.py"]
DAG_IDS = ["e2e_xcom", "e2e_deferrable", "e2e_asset_watcher"]
KLOUDLESS_CONN_ID = "e2e_kloudless"
RUN_TIMEOUT = 240.0


@dataclass
class Kloudless:
    emulator: KloudlessEmulator
    account_id: int
    token: str


@dataclass
class Scenarios:
    stack: AirflowStack
    xcom_run_id: str
    deferrable_run_id: str
    release_file: Path


@pytest.fixture(scope="module")
def kloudless() -> Iterator[Kloudless]:
    with KloudlessEmulator() as emulator:
        account_id = emulator.create_account(account="e2e@example.com")
        yield Kloudless(emulator, account_id, emulator.create_token(account_id))


def connections(kloudless: Kloudless) -> dict[str, dict[str, Any]]:
    return {
        KLOUDLESS_CONN_ID: {
            "conn_type": "kloudless",
            "host": kloudless.emulator.url,
            "password": kloudless.token,
            "extra": {"auth_scheme": "Bearer", "account_id": kloudless.account_id},
        }
    }


@pytest.fixture(scope="module")
def stack(kloudless: Kloudless) -> Iterator[AirflowStack]:
    airflow = AirflowStack(DAG_FILES, connections=connections(kloudless))
    with airflow:
        yield airflow
    print(f"AirflowStack phases (s): {airflow.timings}; swept: {airflow.swept_pids}")


def wait_for_watcher_polling(kloudless: Kloudless, stack: AirflowStack, timeout: float = RUN_TIMEOUT) -> None:
    """
    Wait until a watcher's trigger polls the account's events after a stored cursor.

    Its first poll only stores the latest cursor (an event produced before that would never fire), so the
    event is produced once a ``GET .../accounts/<id>/events?cursor=...`` arrives: the cursor is stored by then.
    The account id in the path tells this watcher's polls from other watchers' on the same emulator.
    """
    path = f"/accounts/{kloudless.account_id}/events"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.check_processes()
        for request in kloudless.emulator.requests_seen:
            if request["method"] == "GET" and request["path"].endswith(path) and "cursor" in request["query"]:
                return
        time.sleep(0.5)
    raise AssertionError(f"the asset watcher never polled {path} on the emulator\n{stack.diagnostics()}")


@pytest.fixture(scope="module")
def scenarios(stack: AirflowStack) -> Scenarios:
    """Unpause every DAG and start both manual runs; the watcher starts polling on its own meanwhile."""
    for dag_id in DAG_IDS:
        stack.unpause(dag_id)
    release_file = stack.home / "e2e-release-flag"
    return Scenarios(
        stack=stack,
        xcom_run_id=stack.trigger("e2e_xcom"),
        deferrable_run_id=stack.trigger("e2e_deferrable", conf={"release_file": str(release_file)}),
        release_file=release_file,
    )


def test_xcom_flows_between_tasks_on_workers(scenarios: Scenarios) -> None:
    stack, run_id = scenarios.stack, scenarios.xcom_run_id

    assert stack.wait_for_run("e2e_xcom", run_id, timeout=RUN_TIMEOUT) == "success"
    assert stack.xcom("e2e_xcom", run_id, "produce") == {"numbers": [1, 2, 3, 4]}
    assert stack.xcom("e2e_xcom", run_id, "consume") == 10
    states = {task_id: ti.state for task_id, ti in stack.task_instances("e2e_xcom", run_id).items()}
    assert states == {"produce": "success", "consume": "success"}


def test_sensor_defers_to_triggerer_and_resumes(scenarios: Scenarios) -> None:
    stack, run_id = scenarios.stack, scenarios.deferrable_run_id

    deferred = stack.wait_for_deferral("e2e_deferrable", run_id, "wait", timeout=RUN_TIMEOUT)
    assert deferred.state == "deferred"
    scenarios.release_file.write_text("go")  # what the trigger waits for

    assert stack.wait_for_run("e2e_deferrable", run_id, timeout=RUN_TIMEOUT) == "success"
    wait = stack.task_instances("e2e_deferrable", run_id)["wait"]
    assert wait.state == "success"
    assert wait.try_number == 1  # resumed within the same try, not retried
    assert wait.trigger_logs, "no triggerer wrote a log for the sensor: its trigger never ran on a triggerer"
    assert wait.deferred
    log = stack.task_log("e2e_deferrable", run_id, "wait")
    assert "Pausing task as DEFERRED" in log
    assert "Trigger fired event" in log
    assert "Resumed after the trigger fired" in log  # execute_complete ran on a worker
    assert stack.xcom("e2e_deferrable", run_id, "wait") == {
        "resumed": True,
        "release_file": str(scenarios.release_file),
        "trigger_payload": True,
    }
    assert stack.xcom("e2e_deferrable", run_id, "after") is True


def test_asset_watcher_schedules_a_run_after_an_event(scenarios: Scenarios, kloudless: Kloudless) -> None:
    stack = scenarios.stack
    wait_for_watcher_polling(kloudless, stack)
    assert stack.runs("e2e_asset_watcher") == []

    produced = kloudless.emulator.produce_event(kloudless.account_id, "add")

    run = stack.wait_for_new_run("e2e_asset_watcher", timeout=RUN_TIMEOUT)
    assert run["run_type"] == "asset_triggered"
    assert stack.wait_for_run("e2e_asset_watcher", run["dag_run_id"], timeout=RUN_TIMEOUT) == "success"
    payloads = stack.xcom("e2e_asset_watcher", run["dag_run_id"], "react")
    assert [payload["event_ids"] for payload in payloads] == [[produced["id"]]]
    assert payloads[0]["types"] == {"add": 1}
    assert [r["dag_run_id"] for r in stack.runs("e2e_asset_watcher")] == [run["dag_run_id"]]
