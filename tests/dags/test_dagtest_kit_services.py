"""
The ``dag.test()`` fixtures beside the service fixtures: one DAG run reaches Datasette, CloudTables and
Kloudless through the connections ``datasette_conn_id``, ``cloudtables_conn_id`` and ``kloudless_conn_id`` set.
"""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.dag, pytest.mark.integration]

SERVICES_DAG = """
import pendulum
from airflow.sdk import dag

from airflow_provider_cloud.operators.kloudless import KloudlessUploadFileOperator
from airflow_provider_cloud.operators.rows import ImportRowsOperator

ROWS = [{"Name": "Edinburgh", "Runways": 1}, {"Name": "Aberdeen", "Runways": 2}]


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def kit_services():
    ImportRowsOperator(
        task_id="to_datasette", conn_id="datasette_default", dataset="{{ var.value.kit_table }}",
        rows=ROWS, key="Name", create=True,
    )
    ImportRowsOperator(
        task_id="to_cloudtables", conn_id="cloudtables_default", dataset="Airports", rows=ROWS, key="Name",
    )
    KloudlessUploadFileOperator(
        task_id="to_kloudless", conn_id="kloudless_default", source="{{ var.value.kit_file }}",
    )


kit_services()
"""


def test_one_run_reaches_all_three_services_through_the_fixtures_connections(
    dag_runner,
    airflow_variables,
    datasette_conn_id,
    datasette_server,
    fresh_table_name,
    cloudtables_conn_id,
    cloudtables_emulator,
    kloudless_conn_id,
    kloudless_emulator,
    kloudless_account_id,
    tmp_path,
):
    airports = cloudtables_emulator.add_dataset("Airports", [("Name", "text"), ("Runways", "number")])
    upload = tmp_path / "airports.csv"
    upload.write_text("Name,Runways\nEdinburgh,1\n")
    airflow_variables.set("kit_table", fresh_table_name)
    airflow_variables.set("kit_file", str(upload))
    (tmp_path / "dags").mkdir()
    (tmp_path / "dags" / "kit_services.py").write_text(SERVICES_DAG)

    result = dag_runner(tmp_path / "dags" / "kit_services.py")

    assert result.task_states() == dict.fromkeys(
        ["to_datasette", "to_cloudtables", "to_kloudless"], "success"
    )
    assert result.xcom("to_datasette")["rows_written"] == 2
    assert datasette_server.sql(f"select count(*) as n from [{fresh_table_name}]") == [{"n": 2}]
    assert result.xcom("to_cloudtables")["rows_written"] == 2
    assert len(cloudtables_emulator.rows(airports)) == 2
    uploaded = result.xcom("to_kloudless")
    assert uploaded["name"] == "airports.csv"
    assert kloudless_emulator.file_content(kloudless_account_id, uploaded["file_id"]) == upload.read_bytes()
