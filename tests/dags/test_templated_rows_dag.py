"""A DAG that templates the import, export and download options from params and Variables, run with dag.test()."""

from __future__ import annotations

import json

import pytest

from airflow_provider_cloud.operators.rows import ImportRowsOperator
from tests.dags.dag_support import run_dag, task_states

pytestmark = [pytest.mark.dag, pytest.mark.integration]


def test_templated_options_are_read_after_rendering(
    airflow_db,
    datasette_server,
    kloudless_emulator,
    kloudless_account_id,
    kloudless_conn_id,
    fresh_table_name,
    tmp_path,
    monkeypatch,
):
    source = tmp_path / "people.csv"
    source.write_text("id;full_name;score\n1;Ada;1\n2;Grace;2.5\n3;Edsger;3\n4;Barbara;4.25\n")
    kloudless_emulator.add_file(kloudless_account_id, "wanted.csv", b"id\n1\n")
    kloudless_emulator.add_file(kloudless_account_id, "skipped.txt", b"no\n")
    monkeypatch.setenv(*datasette_server.env_var("templated_rows_datasette"))
    for name, value in {
        "table": fresh_table_name,
        "source": str(source),
        "output": str(tmp_path / "out"),
        "cursor_column": "id",
    }.items():
        monkeypatch.setenv(f"AIRFLOW_VAR_TEMPLATED_ROWS_{name.upper()}", value)

    dag_run, xcoms = run_dag("templated_rows")

    assert task_states(dag_run) == dict.fromkeys(
        ["import_rows", "export_rows", "wait", "download"], "success"
    )
    assert xcoms["import_rows"]["rows_written"] == 4
    assert datasette_server.sql(f"select name, score from [{fresh_table_name}] order by id") == [
        {"name": "Ada", "score": 1.0},  # renamed, and typed float as declared
        {"name": "Grace", "score": 2.5},
        {"name": "Edsger", "score": 3.0},
        {"name": "Barbara", "score": 4.25},
    ]
    exported = tmp_path / "out" / "out.jsonl"
    assert xcoms["export_rows"] == {"path": exported.as_uri(), "rows": 4, "cursor": 4}
    lines = [json.loads(line) for line in exported.read_text().splitlines()]
    assert [list(row) for row in lines] == [["id", "name", "score"]] * 4  # columns, in order
    assert [row["id"] for row in lines] == [4, 3, 2, 1]  # order_by "-id"
    assert [r["name"] for r in xcoms["download"]] == [
        "wanted.csv"
    ]  # both names match; text/plain is not text/csv

    # The extra link, stored by the task runner when each task ended: the table's page, no token.
    link = xcoms["import_rows._link_DatasetteTableLink"]
    assert link == f"{datasette_server.url.rstrip('/')}/data/{fresh_table_name}"
    assert xcoms["export_rows._link_DatasetteTableLink"] == link
    assert datasette_server.token not in json.dumps(xcoms, default=str)


def test_a_number_that_is_not_whole_fails_naming_the_field_before_any_request():
    importer = ImportRowsOperator(
        task_id="i", conn_id="no_such_connection", dataset="t", source="/nowhere.csv", batch_size="2.5"
    )
    with pytest.raises(ValueError, match=r"batch_size= must be a whole number, got '2\.5'"):
        importer.execute({})
