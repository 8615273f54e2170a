"""
Scheduled rows pipeline on Datasette: import a CSV (upsert), export what changed since the last run, clean up.

Each day:

1. ``import_people`` upserts ``<file base>/incoming/people.csv`` into the table by ``id`` (a retried or
   repeated import rewrites the same rows, it never duplicates them);
2. ``export_changes`` writes the rows updated after the high-water mark the previous run committed (the
   largest ``updated_at`` exported, in the Variable ``cloud_provider_people_cursor``; nothing stored: every
   row) to ``<file base>/exports/people/<run>.jsonl``, and returns the new high-water mark;
3. ``clean_up_old_rows`` deletes the rows not updated for ``retention_days`` days (a DAG param, 30), and
   refuses to delete more than 1,000 at once;
4. ``commit_cursor`` stores the new high-water mark once everything before it succeeded, so a failed run
   exports the same rows again instead of skipping them;
5. ``summarize`` gathers the counts and both cursors from XCom.

Settings, all read when a task runs:

- connection ``datasette_default`` (conn type ``datasette``: host = base URL, password = API token,
  extra ``{"database": "data"}``);
- Variable ``cloud_provider_file_base``: where files live, a URL such as ``s3://bucket/airflow`` or
  ``gs://...`` on a cluster; default ``file://`` + the folder in the environment variable
  ``CLOUD_PROVIDER_FILE_BASE`` (else ``/tmp/airflow-provider-cloud``), for one machine;
- Variable ``cloud_provider_people_table``: the table (default ``people``).

Only small values travel between tasks: counts, a cursor and a file URL.
"""

from __future__ import annotations

import os
from typing import Any

import pendulum
from airflow.sdk import dag, task

from airflow_provider_cloud.operators.cursor import CommitCursorOperator
from airflow_provider_cloud.operators.rows import (
    CleanupRowsOperator,
    ExportRowsOperator,
    ImportRowsOperator,
)

CONN_ID = "datasette_default"
CURSOR_VARIABLE = "cloud_provider_people_cursor"
#: The file base without the Variable; the environment is read where the file is parsed, which on Airflow 3
#: includes the worker, right before it runs a task.
LOCAL_FILE_BASE = "file://" + os.path.abspath(
    os.environ.get("CLOUD_PROVIDER_FILE_BASE", "/tmp/airflow-provider-cloud")
)
FILE_BASE = "{{ var.value.get('cloud_provider_file_base', local_file_base) }}"
TABLE = "{{ var.value.get('cloud_provider_people_table', 'people') }}"
#: Run ids hold ':' and '+', which are awkward in object keys and URLs.
RUN_NAME = "{{ run_id | replace(':', '') | replace('+', '_') }}"


@dag(
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # runs share the stored cursor: one at a time
    params={"retention_days": 30},
    user_defined_macros={"local_file_base": LOCAL_FILE_BASE},
    tags=["example", "datasette"],
    doc_md=__doc__,
)
def example_datasette_rows() -> None:
    # [START howto_operator_import_rows]
    import_people = ImportRowsOperator(
        task_id="import_people",
        conn_id=CONN_ID,
        dataset=TABLE,
        source=FILE_BASE + "/incoming/people.csv",
        key="id",
        create=True,
    )
    # [END howto_operator_import_rows]

    # [START howto_operator_export_rows_incremental]
    export_changes = ExportRowsOperator(
        task_id="export_changes",
        conn_id=CONN_ID,
        dataset=TABLE,
        destination=FILE_BASE + "/exports/people/" + RUN_NAME + ".jsonl",
        cursor_column="updated_at",
        since="{{ var.value.get('cloud_provider_people_cursor', '') }}",  # empty: every row
    )
    # [END howto_operator_export_rows_incremental]

    # [START howto_operator_cleanup_rows]
    clean_up_old_rows = CleanupRowsOperator(
        task_id="clean_up_old_rows",
        conn_id=CONN_ID,
        dataset=TABLE,
        where={"updated_at__lt": "{{ macros.ds_add(ds, -params.retention_days) }}"},
        max_rows=1000,
    )
    # [END howto_operator_cleanup_rows]

    # [START howto_operator_commit_cursor]
    commit_cursor = CommitCursorOperator(
        task_id="commit_cursor",
        variable=CURSOR_VARIABLE,
        cursor="{{ ti.xcom_pull(task_ids='export_changes')['cursor'] }}",
        only_if_advanced=True,
        description="Largest updated_at exported by example_datasette_rows",
    )
    # [END howto_operator_commit_cursor]

    # [START howto_operator_return_values]
    @task
    def summarize(
        imported: dict[str, Any],
        exported: dict[str, Any],
        cleaned: int,
        committed: dict[str, Any],
    ) -> dict[str, Any]:
        """Return what the run did: rows imported, exported and cleaned, the export file and both cursors."""
        return {
            "imported": imported["rows_written"],
            "rejected": imported["rows_rejected"],
            "exported": exported["rows"],
            "export_path": exported["path"],
            "cleaned": cleaned,
            "cursor_before": committed["previous"],
            "cursor_after": committed["cursor"] if committed["stored"] else committed["previous"],
        }

    import_people >> export_changes >> clean_up_old_rows >> commit_cursor
    summarize(
        import_people.output,  # type: ignore[arg-type]  # XComArgs resolve to the values at run time
        export_changes.output,  # type: ignore[arg-type]
        clean_up_old_rows.output,  # type: ignore[arg-type]
        commit_cursor.output,  # type: ignore[arg-type]
    )
    # [END howto_operator_return_values]


example_datasette_rows()
