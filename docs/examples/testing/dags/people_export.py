"""
Import a CSV of people into Datasette, export the rows added since the last run, then commit the cursor.

Variables: ``people_source`` (the CSV, a path or URL), ``people_export_folder`` (where exports go, a
folder or URL) and ``people_cursor``, the largest ``id`` exported so far: read when the run starts (none
yet: ``0``), committed by the last task once the export is written. Connection: ``datasette_default``.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag

from airflow_provider_cloud.operators.cursor import CommitCursorOperator
from airflow_provider_cloud.operators.rows import ExportRowsOperator, ImportRowsOperator

CURSOR = "{{ var.value.get('people_cursor', '0') }}"


@dag(schedule="@daily", start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def people_export():
    import_people = ImportRowsOperator(
        task_id="import_people",
        conn_id="datasette_default",
        dataset="people",
        source="{{ var.value.people_source }}",
        key="id",
        create=True,
    )
    export_people = ExportRowsOperator(
        task_id="export_people",
        conn_id="datasette_default",
        dataset="people",
        destination="{{ var.value.people_export_folder }}/people_after_" + CURSOR + ".csv",
        cursor_column="id",
        since=CURSOR,
    )
    commit_cursor = CommitCursorOperator(
        task_id="commit_cursor",
        variable="people_cursor",
        cursor="{{ ti.xcom_pull(task_ids='export_people')['cursor'] }}",
        only_if_advanced=True,
    )
    import_people >> export_people >> commit_cursor


people_export()
