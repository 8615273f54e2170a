"""
Event-triggered import: new CSV files in a Kloudless account are downloaded and their rows upserted into Datasette.

Every hour:

1. ``wait_for_files`` (deferrable: it waits on the triggerer, not on a worker) waits for ``add``/``update``
   events after the cursor stored in the Variable ``cloud_provider_kloudless_cursor`` (nothing stored yet:
   every event the service still retains), and returns at most 100 of them with the cursor after them;
   a run without any event within 50 minutes is skipped;
2. ``download_csv_files`` downloads the CSV files those events point to (one per file, the latest version,
   no deleted files) into ``<file base>/kloudless/<run>/`` and returns their URLs;
3. ``import_csv`` is mapped over those URLs: one import per file, upserting by ``id``;
4. ``commit_cursor`` stores the sensor's cursor once the imports succeeded. It also runs when the batch held
   no CSV file (the mapped import is then skipped), so such a batch is not read again; a failed download or
   import leaves the cursor where it was and the next run replays the same events (at least once, and the
   upsert makes a replay harmless);
5. ``summarize`` reports the events, files and rows of the run.

Settings, all read when a task runs:

- connections ``kloudless_default`` (conn type ``kloudless``: password = a Bearer token, extras
  ``auth_scheme`` and ``account_id``) and ``datasette_default``;
- Variable ``cloud_provider_file_base``: where files live (``s3://...``/``gs://...`` on a cluster); default
  ``file://`` + the folder in the environment variable ``CLOUD_PROVIDER_FILE_BASE`` (else
  ``/tmp/airflow-provider-cloud``);
- Variable ``cloud_provider_kloudless_table``: the Datasette table (default ``orders``);
- environment variable ``CLOUD_PROVIDER_KLOUDLESS_POLL_SECONDS``: seconds between polls while the sensor is
  deferred (default 60), read when the file is parsed.
"""

from __future__ import annotations

import os
from typing import Any

import pendulum
from airflow.sdk import dag, get_current_context, task

from airflow_provider_cloud.operators.cursor import CommitCursorOperator
from airflow_provider_cloud.operators.kloudless import KloudlessDownloadFileOperator, file_path
from airflow_provider_cloud.operators.rows import ImportRowsOperator
from airflow_provider_cloud.sensors.kloudless import KloudlessEventsSensor

KLOUDLESS_CONN_ID = "kloudless_default"
DATASETTE_CONN_ID = "datasette_default"
CURSOR_VARIABLE = "cloud_provider_kloudless_cursor"
#: The file base without the Variable; the environment is read where the file is parsed, which on Airflow 3
#: includes the worker, right before it runs a task.
LOCAL_FILE_BASE = "file://" + os.path.abspath(
    os.environ.get("CLOUD_PROVIDER_FILE_BASE", "/tmp/airflow-provider-cloud")
)
FILE_BASE = "{{ var.value.get('cloud_provider_file_base', local_file_base) }}"
TABLE = "{{ var.value.get('cloud_provider_kloudless_table', 'orders') }}"
POLL_SECONDS = float(os.environ.get("CLOUD_PROVIDER_KLOUDLESS_POLL_SECONDS", "60"))
#: Run ids hold ':' and '+', which are awkward in object keys and URLs.
RUN_NAME = "{{ run_id | replace(':', '') | replace('+', '_') }}"


@dag(
    schedule="@hourly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # runs share the stored cursor: one at a time
    user_defined_macros={"local_file_base": LOCAL_FILE_BASE},
    tags=["example", "kloudless", "datasette"],
    doc_md=__doc__,
)
def example_kloudless_events() -> None:
    # [START howto_sensor_kloudless_events]
    wait_for_files = KloudlessEventsSensor(
        task_id="wait_for_files",
        conn_id=KLOUDLESS_CONN_ID,
        cursor_variable=CURSOR_VARIABLE,
        start_from="oldest",
        event_types=["add", "update"],
        max_events=100,
        deferrable=True,
        poll_interval=POLL_SECONDS,
        timeout=50 * 60,  # seconds; then the run is skipped (soft_fail)
        soft_fail=True,
    )
    # [END howto_sensor_kloudless_events]

    # [START howto_operator_kloudless_download_and_import]
    download_csv_files = KloudlessDownloadFileOperator(
        task_id="download_csv_files",
        conn_id=KLOUDLESS_CONN_ID,
        events=wait_for_files.output,
        name_pattern="*.csv",
        max_files=100,
        destination=FILE_BASE + "/kloudless/" + RUN_NAME + "/",
    )

    import_csv = ImportRowsOperator.partial(
        task_id="import_csv",
        conn_id=DATASETTE_CONN_ID,
        dataset=TABLE,
        key="id",
        create=True,
    ).expand(source=download_csv_files.output.map(file_path))
    # [END howto_operator_kloudless_download_and_import]

    # [START howto_operator_commit_events_cursor]
    commit_cursor = CommitCursorOperator(
        task_id="commit_cursor",
        variable=CURSOR_VARIABLE,
        cursor="{{ (ti.xcom_pull(task_ids='wait_for_files') or {}).get('cursor') }}",
        trigger_rule="none_failed",
        description="Kloudless events cursor of example_kloudless_events",
    )
    # [END howto_operator_commit_events_cursor]

    @task(trigger_rule="none_failed")
    def summarize() -> dict[str, Any]:
        """Return the events consumed, the files downloaded, the rows imported and the cursors."""
        ti = get_current_context()["ti"]
        batch = ti.xcom_pull(task_ids="wait_for_files") or {}
        files = ti.xcom_pull(task_ids="download_csv_files") or []
        imports = ti.xcom_pull(task_ids="import_csv", map_indexes=range(len(files))) if files else []
        committed = ti.xcom_pull(task_ids="commit_cursor") or {}
        return {
            "events": batch.get("count", 0),
            "files": [f["path"] for f in files],
            "rows_imported": sum(i["rows_written"] for i in imports if i),
            "cursor_before": committed.get("previous"),
            "cursor_after": committed.get("cursor") or committed.get("previous"),
        }

    import_csv >> commit_cursor >> summarize()


example_kloudless_events()
