"""A DAG whose tasks use DatasetteHook through an ``AIRFLOW_CONN_...`` connection, run with ``dag.test()``."""

from __future__ import annotations

import json

import pytest

from airflow_provider_cloud.testing.datasette import DatasetteServer
from tests.dags.dag_support import run_dag, task_states

pytestmark = [pytest.mark.dag, pytest.mark.integration]


def test_dag_writes_then_counts_and_reads_through_the_hook(
    airflow_db: object,
    datasette_server: DatasetteServer,
    fresh_table_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow.sdk.log import redact

    monkeypatch.setenv(*datasette_server.env_var("datasette_dag"))
    token = datasette_server.token

    dag_run, xcoms = run_dag("datasette_hook_dag", run_conf={"table": fresh_table_name})

    assert str(dag_run.state) == "success"
    assert task_states(dag_run) == {"write_people": "success", "read_people": "success"}
    assert xcoms["write_people"] == {"rows": 250, "requests": 3, "created": True}  # WriteResult.as_dict()
    read = xcoms["read_people"]
    assert read["written"] == 250
    assert read["count"] == 250
    assert read["top"] == list(range(250, 239, -1))  # score = id / 2 >= 120, highest first
    assert read["connected"] is True
    assert "actor 'root'" in read["message"]
    assert read["token_as_logged"] == "***"  # the hook registered the password with the masker
    assert read["scrubbed"] == "Bearer ***"
    assert redact(token) == "***"
    assert token not in json.dumps(xcoms, default=str)
    assert datasette_server.sql(f'select count(*) as n from "{fresh_table_name}"') == [{"n": 250}]
