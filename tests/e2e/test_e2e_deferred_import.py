"""
Paced CloudTables imports under a real Airflow (scheduler, triggerer): they defer between rate windows and
resume in new task processes; two imports of one API key run at once in the key's pool. Both stacks: the quick
one (SQLite, LocalExecutor) and the production one (PostgreSQL, Redis, CeleryExecutor, two workers, where a
resumed part may run on the other worker).

The DAGs are ``tests/dags/files/e2e_deferred_import.py`` (its docstring says what they need). Each DAG has
its own emulator, whose limiter is the service's: ``e2e_deferred_import`` at 50 requests per 15 s (200 rows,
so four windows at least), ``e2e_shared_budget`` at 20 per 10 s for both of its imports together (40 rows
each). Zero 429s means no part of any task, resumed in a new process, overran the limit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from airflow_provider_cloud.testing.cloudtables import CloudTablesEmulator
from tests.dags.dag_support import DAGS_FOLDER
from tests.dags.deferred_import_support import connection, last_values, refused, stored
from tests.dags.files.e2e_deferred_import import (
    DEFERRED_CONN_ID,
    READINGS_POINTS,
    SHARED_CONN_ID,
    SHARED_POOL,
)
from tests.e2e.airflow_stack import AirflowStack, PostgresCelery

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900, method="signal")]

DAG_FILE = DAGS_FOLDER / "e2e_deferred_import.py"
SINGLE, SHARED = "e2e_deferred_import", "e2e_shared_budget"
RUN_TIMEOUT = 420.0


@dataclass
class Services:
    single: CloudTablesEmulator
    shared: CloudTablesEmulator
    datasets: dict[str, str]
    file_base: Path


@pytest.fixture(scope="module", params=["quick", "production"])
def stack_kind(request: pytest.FixtureRequest) -> str:
    """Which stack runs the DAGs; each gets emulators of its own (``services``)."""
    return str(request.param)


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory, stack_kind: str) -> Iterator[Services]:
    with ExitStack() as servers:
        single = servers.enter_context(
            CloudTablesEmulator(rate_limit=50, rate_window=15, request_log_size=5_000)
        )
        shared = servers.enter_context(
            CloudTablesEmulator(rate_limit=20, rate_window=10, request_log_size=5_000)
        )
        datasets = {"Readings": single.add_dataset("Readings", READINGS_POINTS)}
        datasets |= {name: shared.add_dataset(name, READINGS_POINTS) for name in ("Readings A", "Readings B")}
        yield Services(single, shared, datasets, tmp_path_factory.mktemp("e2e-deferred-files"))


@pytest.fixture(scope="module")
def runs(services: Services, stack_kind: str) -> Iterator[tuple[AirflowStack, dict[str, str]]]:
    """Start the stack, make the key's pool (one slot), trigger both DAGs at once and wait for them."""
    connections = {
        DEFERRED_CONN_ID: connection(services.single, rate_limit=50, rate_window=15),
        SHARED_CONN_ID: connection(
            services.shared, rate_limit=20, rate_window=10, rate_budget_pool=SHARED_POOL
        ),
    }
    stack = AirflowStack(
        [DAG_FILE],
        connections=connections,
        variables={"cloud_provider_file_base": services.file_base.as_uri()},
        expect_dag_ids=[SINGLE, SHARED],
        **({"backend": PostgresCelery(workers=2, concurrency=2)} if stack_kind == "production" else {}),
    )
    with stack:
        stack.api("POST", "pools", {"name": SHARED_POOL, "slots": 1, "include_deferred": False})
        run_ids = {}
        for dag_id in (SINGLE, SHARED):
            stack.unpause(dag_id)
            run_ids[dag_id] = stack.trigger(dag_id)
        for dag_id, run_id in run_ids.items():
            assert stack.wait_for_run(dag_id, run_id, timeout=RUN_TIMEOUT) == "success", stack.diagnostics()
        yield stack, run_ids


def test_an_import_defers_through_the_triggerer_between_rate_windows_and_ends_complete(runs, services):
    stack, run_ids = runs
    summary = stack.xcom(SINGLE, run_ids[SINGLE], "import_readings")
    assert summary["rows_read"] == summary["rows_written"] == 200
    assert summary["deferrals"] >= 2
    assert stack.task_instances(SINGLE, run_ids[SINGLE])["import_readings"].deferred
    assert refused(services.single) == 0
    assert stored(services.single, services.datasets["Readings"]) == last_values(200)


def test_two_imports_of_one_key_run_in_its_pool_within_one_budget(runs, services):
    stack, run_ids = runs
    instances = stack.task_instances(SHARED, run_ids[SHARED])
    summaries = {name: stack.xcom(SHARED, run_ids[SHARED], f"import_{name}") for name in "ab"}
    for name in "ab":
        assert summaries[name]["rows_written"] == 40
        assert stored(services.shared, services.datasets[f"Readings {name.upper()}"]) == last_values(40)
    assert refused(services.shared) == 0
    assert sum(summaries[name]["deferrals"] for name in "ab") >= 1
    assert any(instances[f"import_{name}"].deferred for name in "ab")
    order = [
        name
        for request in services.shared.requests_seen
        for name in "ab"
        if request.method == "POST" and services.datasets[f"Readings {name.upper()}"] in request.path
    ]
    turns = 1 + sum(1 for earlier, later in zip(order, order[1:], strict=False) if earlier != later)
    print(f"inserts by import, in arrival order: {''.join(order)}; summaries: {summaries}")
    # They took turns at the windows: one ran while the other waited deferred (its worker and slot free).
    assert turns >= 3


def test_every_part_ran_where_the_executor_runs_tasks(runs, stack_kind):
    stack, run_ids = runs
    hosts = {
        f"{dag_id}.{ti['task_id']}": ti.get("hostname")
        for dag_id, run_id in run_ids.items()
        for ti in stack.api("GET", f"dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]
    }
    assert len(hosts) >= 3  # the single import and the shared budget's two
    if stack_kind == "production":  # parts resumed by the triggerer went back through Celery
        assert {host for host in hosts.values() if not str(host).startswith("celery-worker-")} == set(), hosts
    else:  # the LocalExecutor: this machine
        assert len(set(hosts.values())) == 1, hosts
