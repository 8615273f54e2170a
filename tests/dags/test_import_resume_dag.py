"""A failed import resumes on its retry under ``dag.test()``: the checkpoint in Airflow's own task state store."""

from __future__ import annotations

import pytest
import structlog

from tests.dags.dag_support import run_dag, task_states
from tests.integration.operators.rows_support import (
    as_stored,
    assert_same_rows,
    create_table,
    people_rows,
    table_rows,
    write_csv,
)
from tests.integration.operators.test_rows_resume import refuse_row

pytestmark = [pytest.mark.dag, pytest.mark.integration]


def test_the_retry_of_a_failed_import_resumes_after_the_rows_its_first_try_stored(
    airflow_db, datasette_server, fresh_table_name, tmp_path, monkeypatch
):
    from airflow.models.task_state_store import TaskStateStoreModel
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    rows = people_rows(4_000, seed=31)
    source = write_csv(tmp_path / "people.csv", rows)
    create_table(datasette_server, fresh_table_name)
    refuse_row(datasette_server, fresh_table_name, 2_450)  # the second window (1,601-3,200) fails
    monkeypatch.setenv(*datasette_server.env_var("import_resume_datasette"))
    monkeypatch.setenv("AIRFLOW_VAR_IMPORT_RESUME_TABLE", fresh_table_name)
    monkeypatch.setenv("AIRFLOW_VAR_IMPORT_RESUME_SOURCE", str(source))
    monkeypatch.setenv("AIRFLOW_VAR_IMPORT_RESUME_DB", str(datasette_server.db_path))

    with structlog.testing.capture_logs() as logs:
        dag_run, xcoms = run_dag("import_resume")

    messages = [str(entry.get("event")) for entry in logs]
    assert any(
        m.startswith("1,600 rows of ") and m.endswith("a retry of this task resumes after them")
        for m in messages
    )
    assert any(
        m.startswith(f"Resuming the import of {source.as_uri()}: 1,600 rows were stored by try 1")
        for m in messages
    ), messages[-30:]

    assert task_states(dag_run) == {"import_rows": "success"}
    with create_session() as session:
        ti = session.query(TaskInstance).filter_by(dag_id="import_resume", run_id=dag_run.run_id).one()
        assert ti.try_number == 2
        left = (
            session.query(TaskStateStoreModel).filter_by(dag_id="import_resume", run_id=dag_run.run_id).all()
        )
    assert left == []  # the checkpoint went with the success
    summary = xcoms["import_rows"]
    assert summary["resumed_after"] == 1_600  # the first window returned; the second failed at row 2,450
    assert summary["rows_read"] == summary["rows_written"] == 4_000
    assert_same_rows(table_rows(datasette_server, fresh_table_name), as_stored(rows))
