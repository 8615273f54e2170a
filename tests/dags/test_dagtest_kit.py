"""
The shipped ``dag.test()`` kit (``airflow_provider_cloud.testing.dagtest`` and the plugin's ``dag_runner`` and
``airflow_variables`` fixtures) on a real DAG file written outside the configured DAGs folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from airflow_provider_cloud.testing.dagtest import (
    DagFileError,
    VariablesSnapshot,
    dags_folder,
    load_dag,
    read_variable,
    run_dag,
    set_variable,
)

pytestmark = pytest.mark.dag

KIT_DAG = """
import pendulum
from airflow.sdk import dag, task

from airflow_provider_cloud.operators.cursor import CommitCursorOperator


@dag(dag_id="{dag_id}", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def kit():
    @task
    def double(n: int) -> int:
        return n * 2

    @task
    def note(**context) -> str:
        context["ti"].xcom_push(key="detail", value={{"a": 1}})
        return "noted"

    commit = CommitCursorOperator(task_id="commit", variable="{variable}", cursor="42")
    double.expand(n=[1, 2, 3]) >> note() >> commit


kit()
"""


def write_dag(folder: Path, dag_id: str, variable: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{dag_id}.py"
    path.write_text(KIT_DAG.format(dag_id=dag_id, variable=variable))
    return path


def test_sdk_variable_misses_what_a_task_committed_and_read_variable_finds_it(dag_runner, tmp_path):
    from airflow.sdk import Variable as SdkVariable

    result = dag_runner(write_dag(tmp_path / "dags", "kit_variable", "kit_cursor_a"))

    assert result.state == "success"
    # The root cause: outside a task the Task SDK reads environment variables only, not the database.
    assert SdkVariable.get("kit_cursor_a", default=None) is None
    assert read_variable("kit_cursor_a") == "42"
    assert result.variable("kit_cursor_a") == "42"
    assert result.xcom("commit") == {
        "variable": "kit_cursor_a",
        "previous": None,
        "cursor": "42",
        "stored": True,
    }


def test_result_reads_xcoms_by_task_key_and_map_index_and_lists_task_states(dag_runner, tmp_path):
    result = dag_runner(write_dag(tmp_path / "dags", "kit_xcoms", "kit_cursor_b"), "kit_xcoms")

    assert result.dag_id == "kit_xcoms"
    assert result.task_states() == {
        "double[0]": "success",
        "double[1]": "success",
        "double[2]": "success",
        "note": "success",
        "commit": "success",
    }
    assert [result.xcom("double", map_index=i) for i in range(3)] == [2, 4, 6]
    assert result.xcom("note") == "noted"
    assert result.xcom("note", "detail") == {"a": 1}
    assert result.xcoms()["note.detail"] == {"a": 1}
    assert result.xcoms()["double[2]"] == 6
    with pytest.raises(
        KeyError, match=r"no XCom 'return_value' of task 'double'.*\('double', 'return_value', 0\)"
    ):
        result.xcom("double")


def test_dag_test_fails_outside_the_dags_folder_and_run_dag_points_it_there(airflow_db, tmp_path):
    path = write_dag(tmp_path / "elsewhere", "kit_folder", "kit_cursor_c")
    dag = load_dag(path)

    from airflow.sdk.exceptions import AirflowException

    with pytest.raises(AirflowException, match="DAG kit_folder because the dag is not serialized"):
        dag.test()

    before = {
        k: os.environ.get(k)
        for k in ("AIRFLOW__CORE__DAGS_FOLDER", "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST")
    }
    result = run_dag(path)
    assert result.state == "success"
    assert {k: os.environ.get(k) for k in before} == before


def test_dags_folder_sets_the_file_s_folder_and_restores_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", "/somewhere")
    monkeypatch.delenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", raising=False)
    path = write_dag(tmp_path / "dags", "kit_env", "v")

    with dags_folder(path) as folder:
        assert folder == path.parent.resolve()
        assert os.environ["AIRFLOW__CORE__DAGS_FOLDER"] == str(folder)
        assert str(folder) in os.environ["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"]
    assert os.environ["AIRFLOW__CORE__DAGS_FOLDER"] == "/somewhere"
    assert "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST" not in os.environ
    with (
        pytest.raises(DagFileError, match="no DAG file or folder"),
        dags_folder(tmp_path / "missing" / "x.py"),
    ):
        pass


def test_load_dag_names_the_file_and_the_dags_it_has(airflow_db, tmp_path):
    broken = tmp_path / "broken_dag.py"
    broken.write_text("from airflow.sdk import dag\nraise ValueError('no good')\n")
    with pytest.raises(DagFileError, match=r"broken_dag.py failed to import:(.|\n)*no good"):
        load_dag(broken)
    two = tmp_path / "two"
    write_dag(two, "kit_one", "v")
    write_dag(two, "kit_two", "v")
    with pytest.raises(DagFileError, match=r"defines 2 DAGs \['kit_one', 'kit_two'\]; name one"):
        load_dag(two)
    with pytest.raises(DagFileError, match=r"defines no DAG 'kit_three' \(it has \['kit_one', 'kit_two'\]\)"):
        load_dag(two, "kit_three")
    with pytest.raises(DagFileError, match="no DAG file or folder"):
        load_dag(tmp_path / "absent.py")


def test_read_variable_defaults_decodes_json_and_warns_when_the_environment_shadows_it(
    airflow_variables, monkeypatch
):
    with pytest.raises(KeyError, match="'kit_absent' is not stored"):
        read_variable("kit_absent")
    assert read_variable("kit_absent", None) is None

    airflow_variables.set("kit_json", {"cursor": 7}, serialize_json=True)
    assert airflow_variables.get("kit_json", deserialize_json=True) == {"cursor": 7}

    airflow_variables.set("kit_shadowed", "stored")
    monkeypatch.setenv("AIRFLOW_VAR_KIT_SHADOWED", "from-env")
    with pytest.warns(UserWarning, match="AIRFLOW_VAR_KIT_SHADOWED is set: tasks read it instead"):
        assert read_variable("kit_shadowed") == "stored"


def test_variables_snapshot_puts_the_table_back(airflow_db):
    set_variable("kit_kept", "one", description="kept")
    snapshot = VariablesSnapshot()
    set_variable("kit_kept", "two")
    set_variable("kit_added", "new")

    snapshot.restore()

    assert read_variable("kit_kept") == "one"
    assert read_variable("kit_added", None) is None
    from airflow.models.variable import Variable

    Variable.delete("kit_kept")
