"""
The example DAGs' world for the end-to-end tests: the services they talk to, their connections, how their runs
are started, and the small REST helpers their scenarios (``example_scenarios.py``) wait and look with.

Used by the quick stack (``test_e2e_stack.py``) and the production stack (``test_e2e_production.py``); the
module docstring of ``test_e2e_stack.py`` tells why the runs are started the way :func:`start_runs` does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from airflow_provider_cloud.example_dags import sample_data
from airflow_provider_cloud.testing.cloudtables import CloudTablesEmulator
from airflow_provider_cloud.testing.datasette import DatasetteServer
from airflow_provider_cloud.testing.kloudless import KloudlessEmulator
from tests.dags.example_dags_support import DAG_FILES as EXAMPLE_FILES, EXAMPLE_DAGS
from tests.e2e.airflow_stack import AirflowStack, AirflowStackError

ROWS_DAG, EMBED_DAG = "example_datasette_rows", "example_cloudtables_embed"
EVENTS_DAG, WATCHER_DAG = "example_kloudless_events", "example_kloudless_asset_watcher"
ARCHIVE_DAG = "example_kloudless_archive"
EXAMPLES = (ROWS_DAG, EMBED_DAG, EVENTS_DAG, WATCHER_DAG, ARCHIVE_DAG)
DAG_FILES = [EXAMPLE_DAGS / EXAMPLE_FILES[dag_id] for dag_id in EXAMPLES]
WATCHED_ASSET_URI = "kloudless://kloudless_default/events"
PEOPLE_CURSOR, KLOUDLESS_CURSOR = "cloud_provider_people_cursor", "cloud_provider_kloudless_cursor"
#: The archive DAG's own table: the rows DAG runs at the same time and cleans up ``people``.
ARCHIVE_TABLE = "people_archive"
PEOPLE = 60
RUN_TIMEOUT = 240.0


@dataclass
class Services:
    datasette: DatasetteServer
    cloudtables: CloudTablesEmulator
    kloudless: KloudlessEmulator
    account_id: int
    kloudless_token: str
    dataset_id: str
    file_base: Path
    earlier_cursor: int
    """The Kloudless cursor after a file uploaded before the runs: what an earlier run committed."""


@dataclass
class Runs:
    stack: AirflowStack
    services: Services
    run_ids: dict[str, str]
    people: list[dict[str, Any]]
    ds: date


@contextmanager
def started_services(file_base: Path) -> Iterator[Services]:
    """Start Datasette and both emulators on 127.0.0.1 with sample data; stop them all afterwards."""
    with ExitStack() as servers:
        datasette = servers.enter_context(DatasetteServer())
        cloudtables = servers.enter_context(CloudTablesEmulator())
        kloudless = servers.enter_context(KloudlessEmulator())
        dataset_id = cloudtables.add_dataset("People", sample_data.CLOUDTABLES_PEOPLE_POINTS)
        account_id = kloudless.create_account(account="e2e@example.com")
        earlier = sample_data.orders_csv(5, first_id=1, day=date(2026, 3, 1))
        kloudless.add_file(account_id, "orders-earlier.csv", earlier)
        yield Services(
            datasette=datasette,
            cloudtables=cloudtables,
            kloudless=kloudless,
            account_id=account_id,
            kloudless_token=kloudless.create_token(account_id),
            dataset_id=dataset_id,
            file_base=file_base,
            earlier_cursor=kloudless.latest_cursor(account_id),
        )


def connections(services: Services) -> dict[str, Any]:
    """The example DAGs' three connections, to the services on 127.0.0.1."""
    return {
        "datasette_default": services.datasette.connection_dict(),
        "cloudtables_default": {
            "conn_type": "cloudtables",
            "host": services.cloudtables.url,
            "password": services.cloudtables.api_key,
            "extra": {"clientId": "airflow-e2e", "clientName": "Airflow e2e"},
        },
        "kloudless_default": {
            "conn_type": "kloudless",
            "host": services.kloudless.url,
            "password": services.kloudless_token,
            "extra": {"auth_scheme": "Bearer", "account_id": services.account_id},
        },
    }


def stack_settings(services: Services) -> dict[str, Any]:
    """The ``AirflowStack`` arguments the example DAGs need besides their files and connections."""
    return {
        # Read-only as environment variables: the cursors the DAGs commit are not set here (see ``start_runs``).
        "variables": {
            "cloud_provider_file_base": services.file_base.as_uri(),
            "cloud_provider_archive_table": ARCHIVE_TABLE,
        },
        "env": {
            "CLOUD_PROVIDER_FILE_BASE": str(services.file_base),
            "CLOUD_PROVIDER_KLOUDLESS_POLL_SECONDS": "1",
            # Every line anyone may log, for the secret scan at the end of the module.
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "DEBUG",
        },
    }


def start_runs(stack: AirflowStack, services: Services, examples: Iterable[str] = EXAMPLES) -> Runs:
    """
    Unpause the watcher's DAG; store the Kloudless cursor, write the people CSV, trigger and unpause the others.

    The cursor goes in through the REST API, into the database: an ``AIRFLOW_VAR_`` environment variable
    would hide the value the DAG commits. Each run takes the logical date of the DAG's next scheduled run.
    The archive DAG is not started here: its scenario starts it once the Kloudless ones are done (see there).
    """
    examples = list(examples)
    if WATCHER_DAG in examples:
        stack.unpause(WATCHER_DAG)
        # Its watcher is registered at the next parse of its file: ask for it now, not up to 30 s later.
        stack.api("PUT", f"parseDagFile/{stack.api('GET', f'dags/{WATCHER_DAG}')['file_token']}")
    stack.api("POST", "variables", {"key": KLOUDLESS_CURSOR, "value": str(services.earlier_cursor)})
    scheduled = [dag_id for dag_id in (ROWS_DAG, EMBED_DAG, EVENTS_DAG) if dag_id in examples]
    logical_dates = {dag_id: next_logical_date(stack, dag_id) for dag_id in scheduled}
    ds = datetime.fromisoformat(logical_dates.get(ROWS_DAG) or next_logical_date(stack, ROWS_DAG)).date()
    people = sample_data.people_rows(PEOPLE, today=ds, span_days=60)
    sample_data.write_people_csv(services.file_base / "incoming" / "people.csv", people)
    run_ids = {dag_id: trigger_at(stack, dag_id, when) for dag_id, when in logical_dates.items()}
    for dag_id in run_ids:
        stack.unpause(dag_id)
    return Runs(stack=stack, services=services, run_ids=run_ids, people=people, ds=ds)


def next_logical_date(stack: AirflowStack, dag_id: str) -> str:
    """Return the logical date of the run the scheduler would create next for ``dag_id`` (ISO 8601)."""
    when = stack.api("GET", f"dags/{dag_id}")["next_dagrun_logical_date"]
    assert when, f"{dag_id} has no next scheduled run"
    return str(when)


def trigger_at(stack: AirflowStack, dag_id: str, logical_date: str) -> str:
    """Create a manual run of ``dag_id`` with ``logical_date`` and return its run id."""
    answer = stack.api("POST", f"dags/{dag_id}/dagRuns", {"logical_date": logical_date, "conf": {}})
    return str(answer["dag_run_id"])


def variable(stack: AirflowStack, key: str) -> str | None:
    """Return a Variable as stored in the metadata database, or ``None`` when it is not there."""
    try:
        return str(stack.api("GET", f"variables/{key}")["value"])
    except AirflowStackError as exc:
        if not_found(exc):
            return None
        raise


def states(stack: AirflowStack, dag_id: str, run_id: str) -> dict[str, str | None]:
    return {name: ti.state for name, ti in stack.task_instances(dag_id, run_id).items()}


def wait_until(what: str, stack: AirflowStack, probe: Callable[[], Any], timeout: float = RUN_TIMEOUT) -> Any:
    """
    Call ``probe`` every second until it returns something truthy, and return that.

    The stack's own bounded wait (``StackClient._poll``): a failed REST call counts as "not yet" (a busy API
    server may time out once); after ``timeout`` seconds the test fails with the last such error and the end of
    every process's log.
    """
    return stack._poll(what, timeout, lambda: probe() or None, interval=1.0)


def not_found(error: AirflowStackError) -> bool:
    return "answered 404" in str(error)


def watcher_cursor(stack: AirflowStack) -> Any:
    """Return the cursor the watcher's trigger stored in the watched asset's state store (``None``: none yet)."""
    assets = stack.api("GET", "assets", params={"uri_pattern": WATCHED_ASSET_URI})["assets"]
    (asset,) = [a for a in assets if a["uri"] == WATCHED_ASSET_URI]
    try:
        return stack.api("GET", f"assets/{asset['id']}/state-store/cursor")["value"]
    except AirflowStackError as exc:
        if not_found(exc):
            return None
        raise


def consumer_run_with_file(stack: AirflowStack, file_id: str, checked: set[str]) -> dict[str, Any] | None:
    """Return a finished run of the watcher's consumer whose batch holds the file ``file_id``, if any."""
    for run in stack.runs(WATCHER_DAG):
        run_id = run["dag_run_id"]
        if run_id in checked or run.get("state") not in ("success", "failed"):
            continue
        try:
            batch = stack.xcom(WATCHER_DAG, run_id, "read_batch")
        except AirflowStackError as exc:
            if not_found(exc):  # read_batch failed: nothing to match (the test then times out, with logs)
                checked.add(run_id)
            continue
        checked.add(run_id)
        if any((event.get("metadata") or {}).get("id") == file_id for event in batch["events"]):
            return run
    return None
