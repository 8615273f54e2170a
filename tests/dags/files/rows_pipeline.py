"""
Rows pipeline: import a CSV into Datasette, export the rows past the last cursor, then clean up what was exported.

Everything that names a place comes from Airflow Variables, so the DAG file holds no machine's paths:

- ``rows_pipeline_source``: the CSV to import (a local path or any ``ObjectStoragePath`` URL);
- ``rows_pipeline_output``: the folder (or URL) exports go to;
- ``rows_pipeline_table``: the Datasette table;
- ``rows_pipeline_cursor``: the largest id exported by the previous run (default 0).

The connection is ``rows_pipeline_datasette``. The previous cursor travels by XCom into the export's
templated ``since`` and the clean-up's ``where``; the export's new cursor and the clean-up's count travel by
XCom into the final summary.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import Variable, dag, task

from airflow_provider_cloud.operators.rows import (
    CleanupRowsOperator,
    ExportRowsOperator,
    ImportRowsOperator,
)

CONN_ID = "rows_pipeline_datasette"
TABLE = "{{ var.value.rows_pipeline_table }}"
PREVIOUS_CURSOR = "{{ ti.xcom_pull(task_ids='read_cursor') }}"


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def rows_pipeline():
    import_rows = ImportRowsOperator(
        task_id="import_rows",
        conn_id=CONN_ID,
        dataset=TABLE,
        source="{{ var.value.rows_pipeline_source }}",
        key="id",
        create=True,
    )

    @task
    def read_cursor() -> int:
        return int(Variable.get("rows_pipeline_cursor", default="0"))

    export_rows = ExportRowsOperator(
        task_id="export_rows",
        conn_id=CONN_ID,
        dataset=TABLE,
        destination="{{ var.value.rows_pipeline_output }}/" + TABLE + "_after_" + PREVIOUS_CURSOR + ".csv",
        cursor_column="id",
        since=PREVIOUS_CURSOR,
    )

    cleanup_rows = CleanupRowsOperator(
        task_id="cleanup_rows",
        conn_id=CONN_ID,
        dataset=TABLE,
        where={
            "id__gt": PREVIOUS_CURSOR,
            "id__lte": "{{ ti.xcom_pull(task_ids='export_rows')['cursor'] }}",
        },
        max_rows=1000,
    )

    @task
    def summarize(imported: dict[str, Any], exported: dict[str, Any], deleted: int) -> dict[str, Any]:
        return {
            "imported": imported["rows_written"],
            "exported": exported["rows"],
            "export_path": exported["path"],
            "next_cursor": exported["cursor"],
            "deleted": deleted,
        }

    cursor = read_cursor()
    import_rows >> cursor >> export_rows >> cleanup_rows
    # XComArgs: resolved to the upstream return values when the task runs
    summarize(import_rows.output, export_rows.output, cleanup_rows.output)  # type: ignore[arg-type]


rows_pipeline()
