from __future__ import annotations

import pytest

from tests.dags.dag_support import run_dag, task_states

pytestmark = pytest.mark.dag


def test_dag_runs_and_passes_xcom(airflow_db):
    dag_run, xcoms = run_dag("smoke_dag")
    assert str(dag_run.state) == "success"
    assert xcoms["produce"] == {"n": 41}
    assert xcoms["consume"] == 42
    assert task_states(dag_run) == {"produce": "success", "consume": "success"}
