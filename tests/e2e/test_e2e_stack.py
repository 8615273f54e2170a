"""
End-to-end: the example DAGs under a real scheduler, DAG processor, triggerer and API server (see ``airflow_stack``).

One stack serves the whole module. It runs the five DAGs of ``airflow_provider_cloud/example_dags`` (the files
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
  it, and the stored cursor moves past it;
- ``example_kloudless_archive``, started by its test, after the Kloudless ones (its upload is an event of their
  account), on a table of its own: the dry run's count, the archive file, its bytes in the Kloudless emulator,
  and exactly the expired rows deleted.

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
time on a 2-core CI machine. The services, connections and start of the runs are in ``example_runs.py``, the
scenarios (drive, wait, check) in ``example_scenarios.py``: the production stack (``test_e2e_production.py``)
runs the same ones. Adding a DAG here: append its file to ``DAG_FILES``, its settings to ``stack_settings``,
start its run in ``start_runs`` and add a test that waits for it and checks it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e import example_scenarios as scenario
from tests.e2e.airflow_stack import AirflowStack
from tests.e2e.example_runs import (
    DAG_FILES,
    Runs,
    Services,
    connections,
    stack_settings,
    start_runs,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600, method="signal")]


@pytest.fixture(scope="module")
def stack(services: Services) -> Iterator[AirflowStack]:
    airflow = AirflowStack(DAG_FILES, connections=connections(services), **stack_settings(services))
    with airflow:
        yield airflow
    print(f"AirflowStack phases (s): {airflow.timings}; swept: {airflow.swept_pids}")


@pytest.fixture(scope="module")
def runs(stack: AirflowStack, services: Services) -> Runs:
    return start_runs(stack, services)


def test_datasette_rows_imports_exports_and_cleans_up(runs: Runs) -> None:
    scenario.datasette_rows_imports_exports_and_cleans_up(runs)


def test_cloudtables_embed_publishes_the_page_and_keeps_the_api_key_out_of_xcom(runs: Runs) -> None:
    scenario.cloudtables_embed_publishes_the_page_and_keeps_the_api_key_out_of_xcom(runs)


def test_kloudless_sensor_defers_resumes_on_the_upload_and_commits_the_cursor(runs: Runs) -> None:
    scenario.kloudless_sensor_defers_resumes_on_the_upload_and_commits_the_cursor(runs)


def test_asset_watcher_runs_the_consumer_after_an_upload(runs: Runs) -> None:
    scenario.asset_watcher_runs_the_consumer_after_an_upload(runs)


def test_kloudless_archive_uploads_the_expired_rows_then_deletes_them(runs: Runs) -> None:
    scenario.kloudless_archive_uploads_the_expired_rows_then_deletes_them(runs)


def test_no_secret_of_ours_shows_in_logs_database_or_command_lines_even_at_debug(runs: Runs) -> None:
    scenario.no_secret_of_ours_shows_in_logs_database_or_command_lines_even_at_debug(runs)
