"""
Archive, then delete: rows past retention go to a CSV file, it goes to a Kloudless folder, then the rows go.

``example_datasette_rows`` drops its old rows; this DAG keeps them first, on the team's drive. Each day:

1. ``count_expired`` is a dry run of the clean-up: it counts the rows not updated for ``retention_days`` days
   (a DAG param, 30) and deletes nothing;
2. ``anything_expired`` skips the rest of the run when that count is 0, so a repeated run (the rows already
   gone) never uploads an empty archive over the real one;
3. ``archive_folder`` returns the id of the Kloudless folder named by a Variable (default ``archive``, in the
   account's root), made when missing;
4. ``archive_expired`` exports those rows, by ``id``, to ``<file base>/archive/<table>/<table>-<ds>.csv.gz``
   (compressed, and so not taken for new orders by the Kloudless examples, which read ``*.csv`` files);
5. ``upload_archive`` uploads that file into the folder with ``overwrite=True``: a run repeated after the
   upload (the clean-up failed, say) replaces the day's archive, keeping its file id, instead of failing on
   the name;
6. ``delete_archived`` deletes the expired rows, refusing to delete more than the archive holds
   (``max_rows``: rows that expired after the export wait for the next run);
7. ``summarize`` reports the counts, the archive and where it went (the counts are 0 when nothing expired).

Settings, all read when a task runs:

- connections ``datasette_default`` (conn type ``datasette``) and ``kloudless_default`` (conn type
  ``kloudless``: password = a Bearer token, extras ``auth_scheme`` and ``account_id``);
- Variable ``cloud_provider_file_base``: where files live (``s3://...``/``gs://...`` on a cluster); default
  ``file://`` + the folder in the environment variable ``CLOUD_PROVIDER_FILE_BASE`` (else
  ``/tmp/airflow-provider-cloud``);
- Variable ``cloud_provider_archive_table``: the Datasette table, with ``id`` and ``updated_at`` columns
  (default ``people``, the table ``example_datasette_rows`` fills);
- Variable ``cloud_provider_archive_folder``: the name of the Kloudless folder (default ``archive``).

The clean-up cuts by ``ds``, so run it with a logical date (scheduled runs have one).
"""

from __future__ import annotations

import os
from typing import Any

import pendulum
from airflow.sdk import dag, get_current_context, task

from airflow_provider_cloud.hooks.kloudless import KloudlessHook
from airflow_provider_cloud.operators.kloudless import KloudlessUploadFileOperator
from airflow_provider_cloud.operators.rows import CleanupRowsOperator, ExportRowsOperator

DATASETTE_CONN_ID = "datasette_default"
KLOUDLESS_CONN_ID = "kloudless_default"
#: The file base without the Variable; the environment is read where the file is parsed, which on Airflow 3
#: includes the worker, right before it runs a task.
LOCAL_FILE_BASE = "file://" + os.path.abspath(
    os.environ.get("CLOUD_PROVIDER_FILE_BASE", "/tmp/airflow-provider-cloud")
)
FILE_BASE = "{{ var.value.get('cloud_provider_file_base', local_file_base) }}"
TABLE = "{{ var.value.get('cloud_provider_archive_table', 'people') }}"
FOLDER = "{{ var.value.get('cloud_provider_archive_folder', 'archive') }}"
#: The rows past retention: one filter for the dry run, the export and the clean-up.
EXPIRED = {"updated_at__lt": "{{ macros.ds_add(ds, -params.retention_days) }}"}


@dag(
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # a run deletes what it archived: one at a time
    params={"retention_days": 30},
    user_defined_macros={"local_file_base": LOCAL_FILE_BASE},
    tags=["example", "kloudless", "datasette"],
    doc_md=__doc__,
)
def example_kloudless_archive() -> None:
    # [START howto_operator_cleanup_rows_dry_run]
    count_expired = CleanupRowsOperator(
        task_id="count_expired",
        conn_id=DATASETTE_CONN_ID,
        dataset=TABLE,
        where=EXPIRED,
        dry_run=True,
    )

    @task.short_circuit(ignore_downstream_trigger_rules=False)
    def anything_expired(count: int) -> bool:
        """Go on only when some rows expired (a dry run returns how many rows match)."""
        return count > 0

    go_on = anything_expired(count_expired.output)  # type: ignore[arg-type]  # an int at run time
    # [END howto_operator_cleanup_rows_dry_run]

    archive_expired = ExportRowsOperator(
        task_id="archive_expired",
        conn_id=DATASETTE_CONN_ID,
        dataset=TABLE,
        where=EXPIRED,
        order_by="id",
        destination=FILE_BASE + "/archive/" + TABLE + "/" + TABLE + "-{{ ds }}.csv.gz",
    )

    # [START howto_operator_kloudless_upload]
    @task
    def archive_folder(name: str) -> str:
        """Return the id of the Kloudless folder ``name`` in the account's root, made when missing."""
        hook = KloudlessHook(KLOUDLESS_CONN_ID)
        try:
            return str(hook.create_folder(name)["id"])  # an existing folder of that name is answered
        finally:
            hook.close()

    folder_id = archive_folder(FOLDER)

    upload_archive = KloudlessUploadFileOperator(
        task_id="upload_archive",
        conn_id=KLOUDLESS_CONN_ID,
        source="{{ ti.xcom_pull(task_ids='archive_expired')['path'] }}",
        parent_id=folder_id,  # type: ignore[arg-type]  # the folder's id at run time
        overwrite=True,
    )
    # [END howto_operator_kloudless_upload]

    # [START howto_operator_cleanup_rows_archived]
    delete_archived = CleanupRowsOperator(
        task_id="delete_archived",
        conn_id=DATASETTE_CONN_ID,
        dataset=TABLE,
        where=EXPIRED,
        max_rows="{{ ti.xcom_pull(task_ids='archive_expired')['rows'] }}",  # type: ignore[arg-type]
    )
    # [END howto_operator_cleanup_rows_archived]

    @task(trigger_rule="none_failed")
    def summarize() -> dict[str, Any]:
        """Return the rows that expired, were archived and deleted, the archive file and its Kloudless copy."""
        ti = get_current_context()["ti"]
        archived = ti.xcom_pull(task_ids="archive_expired") or {}
        uploaded = ti.xcom_pull(task_ids="upload_archive") or {}
        return {
            "expired": ti.xcom_pull(task_ids="count_expired"),
            "archived": archived.get("rows", 0),
            "archive_path": archived.get("path"),
            "kloudless_path": uploaded.get("path"),
            "kloudless_file_id": uploaded.get("file_id"),
            "bytes": uploaded.get("size"),
            "deleted": ti.xcom_pull(task_ids="delete_archived") or 0,
        }

    go_on >> [archive_expired, folder_id]
    archive_expired >> upload_archive >> delete_archived >> summarize()


example_kloudless_archive()
