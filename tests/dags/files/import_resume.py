"""
An import that fails mid-way on its first try and resumes on its retry (``tests/dags/test_import_resume_dag.py``).

The table refuses one row through a trigger; the task's ``on_retry_callback`` drops that trigger, so the
retry meets no fault while its source file stays the same. The connection is ``import_resume_datasette``;
the Variables ``import_resume_table``, ``import_resume_source`` and ``import_resume_db`` name the table, the
CSV and the server's database file.
"""

from __future__ import annotations

import datetime
import sqlite3
from typing import Any

import pendulum
from airflow.sdk import Variable, dag

from airflow_provider_cloud.operators.rows import ImportRowsOperator


def drop_the_fault(context: Any) -> None:
    connection = sqlite3.connect(Variable.get("import_resume_db"))
    try:
        connection.execute(f'drop trigger if exists "fault_{Variable.get("import_resume_table")}"')
        connection.commit()
    finally:
        connection.close()


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def import_resume():
    ImportRowsOperator(
        task_id="import_rows",
        conn_id="import_resume_datasette",
        dataset="{{ var.value.import_resume_table }}",
        source="{{ var.value.import_resume_source }}",
        batch_size=100,
        retries=1,
        retry_delay=datetime.timedelta(0),
        on_retry_callback=drop_the_fault,
    )


import_resume()
