"""
End-to-end: the example DAGs under a real scheduler, DAG processor, triggerer and API server (see ``airflow_stack``).

One stack serves the whole module. It runs the four DAGs of ``airflow_provider_cloud/example_dags`` (the files
as shipped) with connections to services started in this process on 127.0.0.1 (``services`` fixture): a real
Datasette (a subprocess) and the CloudTables and Kloudless emulators (threads), seeded with ``sample_data`` the
way the demo and ``tests/test_example_dags.py`` seed them. The file base Variable points into a temporary
folder and the Kloudless poll interval is 1 s. The ``runs`` fixture starts the three manual runs together, so
they overlap with each other and with the asset watcher's start-up; each test then drives and checks its own
scenario:

- ``example_datasette_rows`` (triggered with a logical date: its clean-up templates use ``ds``): rows imported,
  exported and cleaned, the cursor committed, the export file and the table;
- ``example_cloudtables_embed``: rows imported, the token minted, the page with the ``<script>`` tag written,
  the API key in no XCom and no task log;
- ``example_kloudless_events``: the CSV file is uploaded only once the sensor's deferral has settled
  (``AirflowStack.wait_for_deferral``); the sensor resumed through the triggerer, the rows landed in Datasette
  and the cursor Variable moved on;
- ``example_kloudless_asset_watcher``: once the watcher's trigger has stored its cursor in the asset's state
  store (read through the REST API), a CSV file is uploaded; an ``asset_triggered`` run of the consumer imports
  it, and the stored cursor moves past it.

**Scheduled runs.** A DAG on a time schedule gets a run for its latest interval as soon as it is unpaused
(``catchup=False`` still runs the latest one). Each is therefore triggered by hand *before* it is unpaused,
with the logical date of that scheduled run (``next_dagrun_logical_date``): the scheduler finds the run already
there, skips it and moves on to the next interval, so each DAG runs once, under the test's control. The
watcher's DAG is unpaused first, with a re-parse of its file requested through the REST API: the DAG processor
registers a watcher only when it parses the file of an unpaused DAG. (A test that crosses a full hour gives
``example_kloudless_events`` one more, scheduled, run, queued behind the test's by ``max_active_runs=1``;
crossing midnight does the same to the daily DAGs. Nothing here looks at those runs.)

**One Kloudless account.** Both Kloudless DAGs use ``kloudless_default``, so the sensor's file may fire the
watcher too (when its cursor was stored before the upload): the watcher test looks for the consumer run whose
batch holds *its* file rather than taking the first asset-triggered run. The watcher test comes after the
sensor's, which ends only once the sensor's run has, so the sensor's batch never holds the watcher's file (the
tests share one stack and run in file order).

The harness's own small DAGs (``tests/e2e/dags``) are not loaded: these runs cover what they showed (XCom
between tasks on workers, a deferral through the triggerer, an ``AssetWatcher``), and every extra DAG costs
time on a 2-core CI machine. Adding a DAG: append its file to ``DAG_FILES``, its settings to ``services`` or
``stack``, start its run in ``runs`` and add a test that waits for it and checks it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_cloud.example_dags import sample_data
from airflow_provider_cloud.testing.cloudtables import CloudTablesEmulator
from airflow_provider_cloud.testing.datasette import DatasetteServer
from airflow_provider_cloud.testing.kloudless import KloudlessEmulator
from tests.dags.example_dags_support import DAG_FILES as EXAMPLE_FILES, EXAMPLE_DAGS, table_ids
from tests.e2e.airflow_stack import STACK_ID_VAR, AirflowStack, AirflowStackError
from tests.e2e.secret_scan import scan_command_lines, scan_database, scan_files

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600, method="signal")]

ROWS_DAG, EMBED_DAG = "example_datasette_rows", "example_cloudtables_embed"
EVENTS_DAG, WATCHER_DAG = "example_kloudless_events", "example_kloudless_asset_watcher"
DAG_FILES = [
    EXAMPLE_DAGS / EXAMPLE_FILES[dag_id] for dag_id in (ROWS_DAG, EMBED_DAG, EVENTS_DAG, WATCHER_DAG)
]
WATCHED_ASSET_URI = "kloudless://kloudless_default/events"
PEOPLE_CURSOR, KLOUDLESS_CURSOR = "cloud_provider_people_cursor", "cloud_provider_kloudless_cursor"
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


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """Start Datasette and both emulators on 127.0.0.1 with sample data; stop them all afterwards."""
    file_base = tmp_path_factory.mktemp("e2e-files")
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


@pytest.fixture(scope="module")
def stack(services: Services) -> Iterator[AirflowStack]:
    connections = {
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
    airflow = AirflowStack(
        DAG_FILES,
        connections=connections,
        # Read-only as environment variables: the cursors the DAGs commit are not set here (see ``runs``).
        variables={"cloud_provider_file_base": services.file_base.as_uri()},
        env={
            "CLOUD_PROVIDER_FILE_BASE": str(services.file_base),
            "CLOUD_PROVIDER_KLOUDLESS_POLL_SECONDS": "1",
            # Every line anyone may log, for the secret scan at the end of the module.
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "DEBUG",
        },
    )
    with airflow:
        yield airflow
    print(f"AirflowStack phases (s): {airflow.timings}; swept: {airflow.swept_pids}")


@pytest.fixture(scope="module")
def runs(stack: AirflowStack, services: Services) -> Runs:
    """
    Unpause the watcher's DAG; store the Kloudless cursor, write the people CSV, trigger and unpause the others.

    The cursor goes in through the REST API, into the database: an ``AIRFLOW_VAR_`` environment variable
    would hide the value the DAG commits. Each run takes the logical date of the DAG's next scheduled run.
    """
    stack.unpause(WATCHER_DAG)
    # Its watcher is registered at the next parse of its file: ask for it now, not up to 30 s later.
    stack.api("PUT", f"parseDagFile/{stack.api('GET', f'dags/{WATCHER_DAG}')['file_token']}")
    stack.api("POST", "variables", {"key": KLOUDLESS_CURSOR, "value": str(services.earlier_cursor)})
    logical_dates = {dag_id: next_logical_date(stack, dag_id) for dag_id in (ROWS_DAG, EMBED_DAG, EVENTS_DAG)}
    ds = datetime.fromisoformat(logical_dates[ROWS_DAG]).date()
    people = sample_data.people_rows(PEOPLE, today=ds, span_days=60)
    sample_data.write_people_csv(services.file_base / "incoming" / "people.csv", people)
    run_ids = {dag_id: trigger_at(stack, dag_id, when) for dag_id, when in logical_dates.items()}
    for dag_id in run_ids:
        stack.unpause(dag_id)
    return Runs(stack=stack, services=services, run_ids=run_ids, people=people, ds=ds)


# -- helpers -----------------------------------------------------------------------------------------------


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

    A failed REST call counts as "not yet" (a busy API server may time out once); after ``timeout`` seconds
    the test fails with the last such error and the end of every process's log.
    """
    deadline = time.monotonic() + timeout
    last_error: AirflowStackError | None = None
    while True:
        stack.check_processes()
        try:
            result = probe()
        except AirflowStackError as exc:
            last_error, result = exc, None
        if result:
            return result
        if time.monotonic() >= deadline:
            note = f" (last error: {last_error})" if last_error else ""
            raise AssertionError(
                f"timed out after {timeout:.0f} s waiting for {what}{note}\n{stack.diagnostics()}"
            )
        time.sleep(1.0)


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


# -- 1. Datasette rows ---------------------------------------------------------------------------------------


def test_datasette_rows_imports_exports_and_cleans_up(runs: Runs) -> None:
    stack, datasette, run_id = runs.stack, runs.services.datasette, runs.run_ids[ROWS_DAG]

    assert stack.wait_for_run(ROWS_DAG, run_id, timeout=RUN_TIMEOUT) == "success"
    assert set(states(stack, ROWS_DAG, run_id).values()) == {"success"}
    cut_off = (runs.ds - timedelta(days=30)).isoformat()  # retention_days before {{ ds }}
    kept = [p for p in runs.people if p["updated_at"] >= cut_off]
    assert 0 < len(kept) < PEOPLE
    newest = runs.people[-1]["updated_at"]
    summary = stack.xcom(ROWS_DAG, run_id, "summarize")
    assert (summary["imported"], summary["rejected"], summary["exported"]) == (PEOPLE, 0, PEOPLE)
    assert summary["cleaned"] == PEOPLE - len(kept)
    assert (summary["cursor_before"], summary["cursor_after"]) == (None, newest)
    assert variable(stack, PEOPLE_CURSOR) == newest
    export = Path(summary["export_path"].removeprefix("file://"))
    assert export.parent == runs.services.file_base / "exports" / "people"
    exported = [json.loads(line) for line in export.read_text().splitlines()]
    assert [row["id"] for row in exported] == [p["id"] for p in runs.people]
    assert table_ids(datasette, "people") == [p["id"] for p in kept]


# -- 2. CloudTables embed ------------------------------------------------------------------------------------


def test_cloudtables_embed_publishes_the_page_and_keeps_the_api_key_out_of_xcom(runs: Runs) -> None:
    stack, cloudtables, run_id = runs.stack, runs.services.cloudtables, runs.run_ids[EMBED_DAG]

    assert stack.wait_for_run(EMBED_DAG, run_id, timeout=RUN_TIMEOUT) == "success"
    tasks = ("import_people", "mint_embed_token", "publish_page")
    assert states(stack, EMBED_DAG, run_id) == dict.fromkeys(tasks, "success")
    xcoms = {task_id: stack.xcom(EMBED_DAG, run_id, task_id) for task_id in tasks}
    assert xcoms["import_people"]["rows_written"] == PEOPLE
    number = cloudtables.datapoint_id(runs.services.dataset_id, "Person")
    assert sorted(row[number] for row in cloudtables.rows(runs.services.dataset_id)) == [
        p["id"] for p in runs.people
    ]
    (minted,) = cloudtables.tokens
    embed = xcoms["mint_embed_token"]
    assert (embed["token"], embed["dataset"], embed["dataset_id"]) == (
        minted.token,
        "People",
        runs.services.dataset_id,
    )
    page_path = runs.services.file_base / "embed" / "People.html"
    assert xcoms["publish_page"]["path"] == page_path.as_uri()
    page = page_path.read_text()
    assert embed["script_tag"] in page
    assert "<script" in embed["script_tag"]
    assert f'data-token="{minted.token}"' in page
    assert cloudtables.api_key not in json.dumps(xcoms)
    for task_id in tasks:
        log = stack.task_log(EMBED_DAG, run_id, task_id)
        assert log, f"no task log for {task_id}"
        assert cloudtables.api_key not in log


# -- 3. Kloudless events: the deferrable sensor ----------------------------------------------------------------


def test_kloudless_sensor_defers_resumes_on_the_upload_and_commits_the_cursor(runs: Runs) -> None:
    stack, run_id = runs.stack, runs.run_ids[EVENTS_DAG]
    kl, account = runs.services.kloudless, runs.services.account_id
    before = str(runs.services.earlier_cursor)

    deferred = stack.wait_for_deferral(EVENTS_DAG, run_id, "wait_for_files", timeout=RUN_TIMEOUT)
    assert deferred.state == "deferred"
    uploaded = kl.add_file(account, "orders-events.csv", sample_data.orders_csv(6, first_id=101, day=runs.ds))

    assert stack.wait_for_run(EVENTS_DAG, run_id, timeout=RUN_TIMEOUT) == "success"
    after = str(kl.latest_cursor(account))
    sensor = stack.task_instances(EVENTS_DAG, run_id)["wait_for_files"]
    assert sensor.state == "success"
    assert sensor.try_number == 1  # resumed within the same try
    assert sensor.trigger_logs, (
        "no triggerer wrote a log for the sensor: its trigger never ran on a triggerer"
    )
    assert sensor.deferred
    log = stack.task_log(EVENTS_DAG, run_id, "wait_for_files")
    assert "Pausing task as DEFERRED" in log
    assert "new Kloudless events after cursor" in log  # the trigger's own line, from the triggerer
    assert "Trigger fired event" in log
    assert set(states(stack, EVENTS_DAG, run_id).values()) == {"success"}
    batch = stack.xcom(EVENTS_DAG, run_id, "wait_for_files")
    assert (str(batch["previous_cursor"]), str(batch["cursor"]), batch["count"]) == (before, after, 1)
    (downloaded,) = stack.xcom(EVENTS_DAG, run_id, "download_csv_files")
    assert (downloaded["file_id"], downloaded["name"]) == (uploaded["id"], "orders-events.csv")
    assert stack.xcom(EVENTS_DAG, run_id, "import_csv", map_index=0)["rows_written"] == 6
    summary = stack.xcom(EVENTS_DAG, run_id, "summarize")
    assert (summary["events"], summary["rows_imported"]) == (1, 6)
    assert (summary["cursor_before"], summary["cursor_after"]) == (before, after)
    assert variable(stack, KLOUDLESS_CURSOR) == after
    ids = set(table_ids(runs.services.datasette, "orders"))
    assert set(range(101, 107)) <= ids
    assert not ids & set(range(1, 6))  # the file before the stored cursor was not read again


# -- 4. Kloudless AssetWatcher ----------------------------------------------------------------------------------


def test_asset_watcher_runs_the_consumer_after_an_upload(runs: Runs) -> None:
    stack, kl, account = runs.stack, runs.services.kloudless, runs.services.account_id
    wait_until("the watcher to store its cursor", stack, lambda: watcher_cursor(stack) is not None)

    uploaded = kl.add_file(
        account, "orders-watcher.csv", sample_data.orders_csv(4, first_id=201, day=runs.ds)
    )
    event = kl.events(account)[-1]
    assert event["metadata"]["id"] == uploaded["id"]

    checked: set[str] = set()
    run = wait_until(
        "a consumer run holding the uploaded file",
        stack,
        lambda: consumer_run_with_file(stack, uploaded["id"], checked),
    )
    run_id = run["dag_run_id"]
    assert run["run_type"] == "asset_triggered"
    assert run["state"] == "success", f"{states(stack, WATCHER_DAG, run_id)}\n{stack.diagnostics()}"
    asset_events = stack.api("GET", f"dags/{WATCHER_DAG}/dagRuns/{run_id}/upstreamAssetEvents")[
        "asset_events"
    ]
    payloads = [e["extra"]["payload"] for e in asset_events if e["extra"].get("from_trigger")]
    assert any(event["id"] in p["event_ids"] for p in payloads), asset_events
    files = stack.xcom(WATCHER_DAG, run_id, "download_csv_files")
    assert "orders-watcher.csv" in [f["name"] for f in files]
    summary = stack.xcom(WATCHER_DAG, run_id, "summarize")
    assert summary["rows_imported"] >= 4
    assert set(range(201, 205)) <= set(table_ids(runs.services.datasette, "orders"))
    latest = kl.latest_cursor(account)
    assert wait_until("the watcher to store the new cursor", stack, lambda: watcher_cursor(stack) == latest)


# -- 5. Secrets, at DEBUG level ---------------------------------------------------------------------------------


def test_no_secret_of_ours_shows_in_logs_database_or_command_lines_even_at_debug(runs: Runs) -> None:
    # Last in the module: every run above has finished. The connections' secrets may show nowhere; the minted
    # embed token only in XCom (by design) — not in a log, a rendered field or a trigger's kwargs.
    stack, services = runs.stack, runs.services
    (minted,) = services.cloudtables.tokens
    secrets = {
        "datasette token": services.datasette.token,
        "CloudTables API key": services.cloudtables.api_key,
        "Kloudless token": services.kloudless_token,
        "embed token": minted.token,
    }
    database = stack.home / "airflow.db"
    in_files = scan_files(
        stack.home, secrets, skip=[database, Path(f"{database}-wal"), Path(f"{database}-shm")]
    )
    ours = [finding for finding in in_files if not finding.airflow_supervisor_payload]
    assert ours == [], "\n".join(map(str, ours))
    in_database = [
        finding
        for finding in scan_database(database, secrets)
        if not (finding.secret == "embed token" and finding.where.startswith("xcom."))
    ]
    assert in_database == [], "\n".join(map(str, in_database))
    assert scan_command_lines(STACK_ID_VAR, stack.stack_id, secrets) == []
    relayed = sorted({finding.secret for finding in in_files if finding.airflow_supervisor_payload})
    assert relayed in (
        [],
        ["embed token"],
    )  # Airflow's supervisor relaying the token operator's XCom (README)
