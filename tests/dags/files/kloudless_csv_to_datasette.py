"""
Event-triggered import: new CSV files in a Kloudless account are downloaded and their rows upserted into Datasette.

``wait_for_files`` (deferrable) waits for ``add``/``update`` events after the cursor stored in the Variable
``kloudless_csv_cursor`` (nothing stored: every retained event). ``download_csv_files`` fetches the CSV files
those events point to into a folder of this run; ``import_csv`` is mapped over the downloaded paths, one import
per file, upserting by ``id``; ``commit_cursor`` stores the sensor's cursor once the imports succeeded. It runs
when the batch held no CSV at all (the mapped import is then skipped), so such a batch is not read again; a
failed download or import leaves the cursor where it was, and the next run replays the same events.

Nothing machine-specific is written here:

- Variables ``kloudless_csv_files`` (the base URL downloads go under: ``file://`` on one machine, ``s3://``
  or ``gs://`` on a cluster) and ``kloudless_csv_table`` (the Datasette table);
- environment variables ``KLOUDLESS_CSV_DAG_KLOUDLESS_CONN`` and ``KLOUDLESS_CSV_DAG_DATASETTE_CONN`` (the
  connection ids, default ``kloudless_default`` and ``datasette_default``) and ``KLOUDLESS_CSV_DAG_TIMEOUT``
  (seconds the sensor waits, default 60; with ``soft_fail`` a run without events is skipped).
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import dag

from airflow_provider_cloud.operators.cursor import CommitCursorOperator
from airflow_provider_cloud.operators.kloudless import KloudlessDownloadFileOperator, file_path
from airflow_provider_cloud.operators.rows import ImportRowsOperator
from airflow_provider_cloud.sensors.kloudless import KloudlessEventsSensor

CURSOR_VARIABLE = "kloudless_csv_cursor"
KLOUDLESS_CONN_ID = os.environ.get("KLOUDLESS_CSV_DAG_KLOUDLESS_CONN", "kloudless_default")
DATASETTE_CONN_ID = os.environ.get("KLOUDLESS_CSV_DAG_DATASETTE_CONN", "datasette_default")
#: One folder per run; run ids hold ':' and '+', which are awkward in object keys and URLs.
RUN_FOLDER = "{{ run_id | replace(':', '') | replace('+', '_') }}"


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def kloudless_csv_to_datasette():
    wait_for_files = KloudlessEventsSensor(
        task_id="wait_for_files",
        conn_id=KLOUDLESS_CONN_ID,
        cursor_variable=CURSOR_VARIABLE,
        start_from="oldest",
        event_types=("add", "update"),
        max_events=100,
        deferrable=True,
        poll_interval=0.05,
        timeout=float(os.environ.get("KLOUDLESS_CSV_DAG_TIMEOUT", "60")),
        soft_fail=True,
    )

    download_csv_files = KloudlessDownloadFileOperator(
        task_id="download_csv_files",
        conn_id=KLOUDLESS_CONN_ID,
        events=wait_for_files.output,
        name_pattern="*.csv",
        max_files=100,
        destination="{{ var.value.kloudless_csv_files }}/" + RUN_FOLDER + "/",
    )

    import_csv = ImportRowsOperator.partial(
        task_id="import_csv",
        conn_id=DATASETTE_CONN_ID,
        dataset="{{ var.value.kloudless_csv_table }}",
        key="id",
        create=True,
    ).expand(source=download_csv_files.output.map(file_path))

    commit_cursor = CommitCursorOperator(
        task_id="commit_cursor",
        variable=CURSOR_VARIABLE,
        cursor="{{ (ti.xcom_pull(task_ids='wait_for_files') or {}).get('cursor') }}",
        trigger_rule="none_failed",
    )

    import_csv >> commit_cursor


kloudless_csv_to_datasette()
