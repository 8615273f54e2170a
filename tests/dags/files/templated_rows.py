"""
Templated fields: every option of the import, export and download comes from params or Variables, as text.

The DAG keeps Jinja's default (text) rendering, so numbers, mappings and lists reach the operators as text
and are read after rendering (``operators/_templated.py``). Variables: ``templated_rows_table``,
``templated_rows_source`` (a ``;``-separated CSV with ``full_name``, renamed to ``name``),
``templated_rows_output`` (a folder) and ``templated_rows_cursor_column``. Connections:
``templated_rows_datasette`` and ``kloudless_default``.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag

from airflow_provider_cloud.operators.kloudless import KloudlessDownloadFileOperator
from airflow_provider_cloud.operators.rows import ExportRowsOperator, ImportRowsOperator
from airflow_provider_cloud.sensors.kloudless import KloudlessEventsSensor

CONN_ID = "templated_rows_datasette"
TABLE = "{{ var.value.templated_rows_table }}"


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={
        "format": "csv",
        "mode": "upsert",
        "rename": {"full_name": "name"},
        "types": {"score": "float"},
        "batch_size": 3,
        "csv_options": {"delimiter": ";"},
        "export_format": "jsonl",
        "columns": ["id", "name", "score"],
        "order_by": "-id",
        "page_size": 2,
        "name_pattern": "*.csv, *.txt",  # two globs, comma-separated
        "mime_types": ["text/csv"],
    },
)
def templated_rows():
    ImportRowsOperator(
        task_id="import_rows",
        conn_id=CONN_ID,
        dataset=TABLE,
        source="{{ var.value.templated_rows_source }}",
        key="id",
        create=True,
        format="{{ params.format }}",
        mode="{{ params.mode }}",
        rename="{{ params.rename }}",
        types="{{ params.types }}",
        batch_size="{{ params.batch_size }}",
        csv_options="{{ params.csv_options }}",
    ) >> ExportRowsOperator(
        task_id="export_rows",
        conn_id=CONN_ID,
        dataset=TABLE,
        destination="{{ var.value.templated_rows_output }}/out.{{ params.export_format }}",
        format="{{ params.export_format }}",
        columns="{{ params.columns }}",
        order_by="{{ params.order_by }}",
        cursor_column="{{ var.value.templated_rows_cursor_column }}",
        page_size="{{ params.page_size }}",
    )

    KloudlessEventsSensor(
        task_id="wait", start_from="oldest", deferrable=False, poke_interval=1, timeout=60
    ) >> KloudlessDownloadFileOperator(
        task_id="download",
        events="{{ ti.xcom_pull(task_ids='wait') }}",
        destination="{{ var.value.templated_rows_output }}/files/",
        name_pattern="{{ params.name_pattern }}",
        mime_types="{{ params.mime_types }}",
    )


templated_rows()
