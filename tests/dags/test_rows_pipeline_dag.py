"""The rows pipeline DAG (import → export → clean-up) run with dag.test() against a real Datasette."""

from __future__ import annotations

import pytest

from tests.dags.dag_support import run_dag, task_states
from tests.integration.operators.rows_support import expected_from_csv, table_ids, write_people_csv

pytestmark = [pytest.mark.dag, pytest.mark.integration]


def test_rows_pipeline_passes_cursor_and_counts_through_xcom(
    airflow_db, datasette_server, fresh_table_name, tmp_path, monkeypatch
):
    source = write_people_csv(tmp_path / "people.csv", 60, seed=5)
    output = tmp_path / "out"
    monkeypatch.setenv(*datasette_server.env_var("rows_pipeline_datasette"))
    monkeypatch.setenv("AIRFLOW_VAR_ROWS_PIPELINE_SOURCE", str(source))
    monkeypatch.setenv("AIRFLOW_VAR_ROWS_PIPELINE_OUTPUT", str(output))
    monkeypatch.setenv("AIRFLOW_VAR_ROWS_PIPELINE_TABLE", fresh_table_name)
    monkeypatch.setenv("AIRFLOW_VAR_ROWS_PIPELINE_CURSOR", "40")

    dag_run, xcoms = run_dag("rows_pipeline")

    assert str(dag_run.state) == "success"
    assert task_states(dag_run) == dict.fromkeys(
        ["import_rows", "read_cursor", "export_rows", "cleanup_rows", "summarize"], "success"
    )
    assert xcoms["import_rows"]["rows_written"] == 60
    assert xcoms["read_cursor"] == 40
    export_file = output / f"{fresh_table_name}_after_40.csv"
    assert xcoms["export_rows"] == {"path": export_file.as_uri(), "rows": 20, "cursor": 60}
    assert xcoms["cleanup_rows"] == 20
    assert xcoms["summarize"] == {
        "imported": 60,
        "exported": 20,
        "export_path": export_file.as_uri(),
        "next_cursor": 60,
        "deleted": 20,
    }
    assert expected_from_csv(export_file) == expected_from_csv(source)[40:]
    assert table_ids(datasette_server, fresh_table_name) == list(range(1, 41))
