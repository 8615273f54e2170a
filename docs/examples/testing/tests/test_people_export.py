"""
Test the ``people_export`` DAG with ``dag.test()``: a real Datasette, a private metadata database.

The fixtures come from the plugin that installing ``airflow-provider-cloud[datasette]`` registers with
pytest; no ``conftest.py`` is needed.
"""

from __future__ import annotations

from pathlib import Path

from airflow.sdk import ObjectStoragePath

DAG_FILE = Path(__file__).resolve().parent.parent / "dags" / "people_export.py"
TASKS = ["import_people", "export_people", "commit_cursor"]


def test_first_run_exports_everything_and_commits_the_cursor(
    dag_runner, airflow_variables, datasette_conn_id, datasette_server, tmp_path
):
    source = tmp_path / "people.csv"
    source.write_text("id,name\n1,Ada\n2,Grace\n3,Edsger\n")
    airflow_variables.set("people_source", str(source))
    airflow_variables.set("people_export_folder", (tmp_path / "exports").as_uri())

    result = dag_runner(DAG_FILE)

    assert result.state == "success"
    assert result.task_states() == dict.fromkeys(TASKS, "success")
    assert result.xcom("import_people")["rows_written"] == 3
    export = result.xcom("export_people")
    assert (export["rows"], export["cursor"]) == (3, 3)
    assert ObjectStoragePath(export["path"]).read_text().splitlines() == [
        "id,name",
        "1,Ada",
        "2,Grace",
        "3,Edsger",
    ]
    assert result.variable("people_cursor") == "3"
    assert datasette_server.sql("select count(*) as n from people") == [{"n": 3}]


def test_next_run_exports_only_rows_past_the_cursor(
    dag_runner, airflow_variables, datasette_conn_id, tmp_path
):
    source = tmp_path / "people.csv"
    source.write_text("id,name\n1,Ada\n2,Grace\n3,Edsger\n4,Barbara\n5,Frances\n")
    airflow_variables.set("people_source", str(source))
    airflow_variables.set("people_export_folder", (tmp_path / "exports").as_uri())
    airflow_variables.set("people_cursor", "3")  # as the previous run committed it

    result = dag_runner(DAG_FILE)

    assert result.state == "success"
    export = result.xcom("export_people")
    assert export["path"].endswith("/people_after_3.csv")
    assert (export["rows"], export["cursor"]) == (2, 5)
    assert ObjectStoragePath(export["path"]).read_text().splitlines() == ["id,name", "4,Barbara", "5,Frances"]
    assert result.xcom("commit_cursor") == {
        "variable": "people_cursor",
        "previous": "3",
        "cursor": "5",
        "stored": True,
    }
    assert result.variable("people_cursor") == "5"
