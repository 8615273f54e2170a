"""
End-to-end on the production stack: PostgreSQL, Redis, the ``CeleryExecutor`` and two Celery workers.

The stack (``AirflowStack`` with the ``PostgresCelery`` backend, see ``stack_backends.py``) runs a private
PostgreSQL (metadata database and Celery result backend) and a private Redis (the broker), both on 127.0.0.1
and free ports, then the scheduler, the DAG processor, the triggerer, the API server and two
``airflow celery worker`` processes (``celery-worker-1`` and ``-2``, 2 slots each, queue ``default``).
Everything is stopped and every folder removed at the end. It needs the Debian packages ``postgresql`` and
``redis-server`` (``make test`` installs them, through ``.ci/system-packages``); without them the test fails saying so.

The runs are a table of :class:`Case`: the five example DAGs with the scenarios of the quick stack
(``example_scenarios.py``: the deferrable Kloudless sensor resumed through the triggerer, the ``AssetWatcher``
scheduling its consumer, the archive's run started by its own drive once the Kloudless cases are done), one test
each, in table order. Then: every task instance of those runs ran on a
Celery worker and both workers ran some; the declared deferrals happened; and the secret scan over every log,
the database and the command lines finds nothing of ours (nor the two servers' passwords).

**Adding a DAG**: one line in ``CASES``; for a DAG of your own, name its file and the tasks that must defer,
and let the defaults trigger a manual run and wait for it and all its tasks to succeed, e.g.::

    Case("my_dag", E2E_DAGS / "my_dag.py", deferred=("<a task that must defer>",)),

The paced imports that defer between rate windows (and two that share one key's budget) run on this stack too,
with emulators of their own, in ``test_e2e_deferred_import.py`` (parametrized over both stacks).

``start`` (runs once the examples have started, before any case is driven), ``drive`` (wait for the run and
check it; returns the run id), ``connections`` and ``env`` (merged into the stack's) are there for more.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import example_scenarios as scenario
from tests.e2e.airflow_stack import STACK_ID_VAR, AirflowStack, PostgresCelery
from tests.e2e.example_runs import (
    ARCHIVE_DAG,
    DAG_FILES,
    EMBED_DAG,
    EVENTS_DAG,
    EXAMPLES,
    ROWS_DAG,
    RUN_TIMEOUT,
    WATCHER_DAG,
    Runs,
    Services,
    connections,
    stack_settings,
    start_runs,
    states,
)
from tests.e2e.secret_scan import scan_command_lines, scan_files

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600, method="signal")]

E2E_DAGS = Path(__file__).resolve().parent / "dags"
WORKERS = 2


def trigger_manual(dag_id: str) -> Callable[[Runs], str]:
    """A ``Case.start``: unpause the DAG and trigger one manual run (no logical date)."""

    def start(runs: Runs) -> str:
        runs.stack.unpause(dag_id)
        return runs.stack.trigger(dag_id)

    return start


def wait_success(dag_id: str) -> Callable[[Runs], str]:
    """A ``Case.drive``: wait for the run ``start`` made and check it and all its tasks succeeded."""

    def drive(runs: Runs) -> str:
        run_id = runs.run_ids[dag_id]
        state = runs.stack.wait_for_run(dag_id, run_id, timeout=RUN_TIMEOUT)
        assert state == "success", f"{states(runs.stack, dag_id, run_id)}\n{runs.stack.diagnostics()}"
        return run_id

    return drive


@dataclass(frozen=True)
class Case:
    """One DAG the production stack must carry through, and what to check of its run."""

    dag_id: str
    dag_file: Path
    deferred: tuple[str, ...] = ()
    """Tasks of the run that must have deferred to the triggerer and resumed."""
    drive: Callable[[Runs], str] | None = None
    """Drive the run to its end, check it, return its run id (default: :func:`wait_success`)."""
    start: Callable[[Runs], str] | None = None
    """Start the run, return its id (default: :func:`trigger_manual`; the examples are started together)."""
    connections: Callable[[Services], Mapping[str, Any]] | None = None
    """More connections for the stack, made from the running services (URLs, keys)."""
    env: Mapping[str, str] = field(default_factory=dict)
    """More environment variables for every Airflow process."""

    def run(self, runs: Runs) -> str:
        return (self.drive or wait_success(self.dag_id))(runs)


CASES = [
    Case(ROWS_DAG, DAG_FILES[0], drive=scenario.datasette_rows_imports_exports_and_cleans_up),
    Case(
        EMBED_DAG,
        DAG_FILES[1],
        drive=scenario.cloudtables_embed_publishes_the_page_and_keeps_the_api_key_out_of_xcom,
    ),
    Case(
        EVENTS_DAG,
        DAG_FILES[2],
        deferred=("wait_for_files",),
        drive=scenario.kloudless_sensor_defers_resumes_on_the_upload_and_commits_the_cursor,
    ),
    Case(WATCHER_DAG, DAG_FILES[3], drive=scenario.asset_watcher_runs_the_consumer_after_an_upload),
    Case(
        ARCHIVE_DAG, DAG_FILES[4], drive=scenario.kloudless_archive_uploads_the_expired_rows_then_deletes_them
    ),
]


@pytest.fixture(scope="module")
def stack(services: Services) -> Iterator[AirflowStack]:
    settings = stack_settings(services)
    extra_connections = {
        k: v for case in CASES if case.connections for k, v in case.connections(services).items()
    }
    env = {**settings.pop("env"), **{k: v for case in CASES for k, v in case.env.items()}}
    airflow = AirflowStack(
        [case.dag_file for case in CASES],
        connections={**connections(services), **extra_connections},
        env=env,
        backend=PostgresCelery(workers=WORKERS, concurrency=2, queue="default"),
        **settings,
    )
    with airflow:
        yield airflow
    print(f"AirflowStack (PostgreSQL, Celery) phases (s): {airflow.timings}; swept: {airflow.swept_pids}")


@pytest.fixture(scope="module")
def runs(stack: AirflowStack, services: Services) -> Runs:
    """Start the examples' runs together (see ``start_runs``), then every other case's."""
    started = start_runs(stack, services, [case.dag_id for case in CASES if case.dag_id in EXAMPLES])
    for case in CASES:
        if case.dag_id not in EXAMPLES or case.start is not None:
            started.run_ids[case.dag_id] = (case.start or trigger_manual(case.dag_id))(started)
    return started


@pytest.fixture(scope="module")
def checked() -> dict[str, str]:
    """DAG id → the run id its case checked, filled in by ``test_case`` for the tests after it."""
    return {}


@pytest.mark.parametrize("case", CASES, ids=[case.dag_id for case in CASES])
def test_case(case: Case, runs: Runs, checked: dict[str, str]) -> None:
    run_id = case.run(runs)
    checked[case.dag_id] = run_id
    instances = runs.stack.task_instances(case.dag_id, run_id)
    assert instances, f"{case.dag_id} run {run_id} has no task instances to check"
    assert {name: ti.state for name, ti in instances.items()} == dict.fromkeys(instances, "success")
    for task_id in case.deferred:
        ti = instances[task_id]
        assert ti.deferred, f"{case.dag_id}.{task_id} never deferred (states seen: {sorted(ti.seen_states)})"
        assert ti.trigger_logs, f"no triggerer wrote a log for {case.dag_id}.{task_id}"


def test_tasks_ran_on_both_celery_workers(runs: Runs, checked: dict[str, str]) -> None:
    assert set(checked) == {case.dag_id for case in CASES}, "a case above failed: nothing to look at"
    hostnames: dict[str, str | None] = {}
    for dag_id, run_id in checked.items():
        path = f"dags/{dag_id}/dagRuns/{run_id}/taskInstances"
        for ti in runs.stack.api("GET", path, params={"limit": 1000})["task_instances"]:
            name = f"{dag_id}.{ti['task_id']}" + (f"[{ti['map_index']}]" if ti["map_index"] >= 0 else "")
            hostnames[name] = ti.get("hostname")
    workers = {f"celery-worker-{n}" for n in range(1, WORKERS + 1)}
    elsewhere = {name: host for name, host in hostnames.items() if host not in workers}
    assert elsewhere == {}, "task instances not run by a Celery worker"
    assert set(hostnames.values()) == workers, f"not every worker ran a task: {hostnames}"
    print(f"task instances per worker: {dict(Counter(hostnames.values()))}")


def test_no_secret_shows_in_logs_database_or_command_lines(runs: Runs, checked: dict[str, str]) -> None:
    scenario.no_secret_of_ours_shows_in_logs_database_or_command_lines_even_at_debug(runs)
    backend = runs.stack.backend
    assert isinstance(backend, PostgresCelery)
    servers = backend.server_secrets()
    in_files = scan_files(runs.stack.home, servers)
    assert in_files == [], "\n".join(map(str, in_files))
    for server in (
        backend.postgres,
        backend.redis,
    ):  # their logs; not their folders, which hold the passwords
        log = server.log_path.read_text(errors="replace")
        assert log, f"{server.name} wrote no log to {server.log_path}"
        assert [name for name, secret in servers.items() if secret in log] == [], f"in {server.log_path}"
    assert scan_command_lines(STACK_ID_VAR, runs.stack.stack_id, servers) == []
