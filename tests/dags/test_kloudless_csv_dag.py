"""
The ``kloudless_csv_to_datasette`` DAG run offline with dag.test(): Kloudless events → download → mapped imports
into a real Datasette → cursor commit.
"""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_cloud.testing.dagtest import xcom_rows
from tests.dags.dag_support import run_dag, task_states

pytestmark = [pytest.mark.dag, pytest.mark.integration]

DAG_ID = "kloudless_csv_to_datasette"
CURSOR_VARIABLE = "kloudless_csv_cursor"
DATASETTE_CONN_ID = "kloudless_csv_datasette"


def stored_cursor() -> str | None:
    from airflow.models.variable import Variable

    return Variable.get(CURSOR_VARIABLE, default_var=None)


def import_results(dag_run: Any) -> dict[int, Any]:
    """Return the XCom value of every mapped ``import_csv`` task instance of a run, by map index."""
    return {
        map_index: value
        for task_id, key, map_index, value in xcom_rows(DAG_ID, dag_run.run_id)
        if (task_id, key) == ("import_csv", "return_value")
    }


def table_rows(datasette_server: Any, table: str) -> list[dict[str, Any]]:
    return datasette_server.sql(f'select id, name, qty from "{table}" order by id')


@pytest.fixture
def no_stored_cursor(airflow_db):
    from airflow.models.variable import Variable

    Variable.delete(CURSOR_VARIABLE)
    yield
    Variable.delete(CURSOR_VARIABLE)


@pytest.fixture
def dag_settings(monkeypatch, tmp_path, datasette_server, fresh_table_name, kloudless_conn_id) -> str:
    """Point the DAG at the emulator (connection from the fixture), the Datasette server and a fresh table."""
    monkeypatch.setenv(*datasette_server.env_var(DATASETTE_CONN_ID))
    monkeypatch.setenv("KLOUDLESS_CSV_DAG_KLOUDLESS_CONN", kloudless_conn_id)
    monkeypatch.setenv("KLOUDLESS_CSV_DAG_DATASETTE_CONN", DATASETTE_CONN_ID)
    monkeypatch.setenv("AIRFLOW_VAR_KLOUDLESS_CSV_FILES", (tmp_path / "downloads").as_uri())
    monkeypatch.setenv("AIRFLOW_VAR_KLOUDLESS_CSV_TABLE", fresh_table_name)
    monkeypatch.setenv("KLOUDLESS_CSV_DAG_TIMEOUT", "0.5")
    return fresh_table_name


def test_new_csv_files_land_in_datasette_once_and_the_cursor_follows(
    no_stored_cursor, dag_settings, datasette_server, kloudless_emulator, kloudless_account_id, tmp_path
):
    kl, account, table = kloudless_emulator, kloudless_account_id, dag_settings
    inbox = kl.add_folder(account, "inbox")
    first = kl.add_file(account, "orders-1.csv", b"id,name,qty\n1,apple,3\n2,pear,5\n", inbox["id"])
    kl.add_file(account, "readme.txt", b"not rows\n")

    # Run 1: nothing stored yet, so every retained event; the one CSV is downloaded and imported.
    dag_run, xcoms = run_dag(DAG_ID)

    assert str(dag_run.state) == "success"
    assert task_states(dag_run) == dict.fromkeys(
        ["wait_for_files", "download_csv_files", "import_csv", "commit_cursor"], "success"
    )
    downloaded = xcoms["download_csv_files"]
    assert [(f["file_id"], f["name"], f["size"]) for f in downloaded] == [(first["id"], "orders-1.csv", 31)]
    assert downloaded[0]["path"].startswith((tmp_path / "downloads").as_uri() + "/")
    assert [r["source"] for r in import_results(dag_run).values()] == [downloaded[0]["path"]]
    assert table_rows(datasette_server, table) == [
        {"id": 1, "name": "apple", "qty": 3},
        {"id": 2, "name": "pear", "qty": 5},
    ]
    first_cursor = xcoms["wait_for_files"]["cursor"]
    assert stored_cursor() == str(first_cursor) == str(kl.latest_cursor(account))

    # Run 2: another CSV arrives (one row updates id 2); only the new file is downloaded and imported.
    second = kl.add_file(account, "orders-2.csv", b"id,name,qty\n2,pear,6\n3,plum,1\n")
    dag_run, xcoms = run_dag(DAG_ID)

    assert str(dag_run.state) == "success"
    assert xcoms["wait_for_files"]["previous_cursor"] == str(first_cursor)
    assert [f["file_id"] for f in xcoms["download_csv_files"]] == [second["id"]]
    imports = import_results(dag_run)
    assert len(imports) == 1
    assert imports[0]["rows_read"] == imports[0]["rows_written"] == 2
    assert table_rows(datasette_server, table) == [
        {"id": 1, "name": "apple", "qty": 3},
        {"id": 2, "name": "pear", "qty": 6},
        {"id": 3, "name": "plum", "qty": 1},
    ]
    assert stored_cursor() == str(xcoms["wait_for_files"]["cursor"]) == str(kl.latest_cursor(account))

    # Run 3: a batch without any CSV: nothing is imported, yet the cursor moves past it.
    kl.add_file(account, "notes.txt", b"still not rows\n")
    dag_run, xcoms = run_dag(DAG_ID)

    assert str(dag_run.state) == "success"
    assert xcoms["download_csv_files"] == []
    assert task_states(dag_run)["import_csv"] == "skipped"
    assert task_states(dag_run)["commit_cursor"] == "success"
    assert import_results(dag_run) == {}
    assert stored_cursor() == str(kl.latest_cursor(account))
    assert len(table_rows(datasette_server, table)) == 3
