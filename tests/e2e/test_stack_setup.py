"""What ``AirflowStack`` prepares before starting anything: the home, the DAGs folder, the environment, the port."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from tests.e2e.airflow_stack import STACK_ID_VAR, AirflowStack, AirflowStackError, free_port

E2E_DAGS = Path(__file__).resolve().parent / "dags"


def test_free_port_is_bindable_and_below_the_ephemeral_range() -> None:
    port = free_port()
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    assert 10000 <= port < low
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_home_and_environment_are_the_stacks_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    monkeypatch.setenv("AIRFLOW_CONN_LEAKED", "http://example.invalid")
    monkeypatch.setenv("AIRFLOW_HOME", "/somewhere/else")
    stack = AirflowStack(
        [E2E_DAGS / "e2e_xcom.py"],
        connections={
            "json_conn": {"conn_type": "http", "host": "127.0.0.1"},
            "uri_conn": "http://127.0.0.1:1",
        },
        variables={"count": 3, "name": "plain"},
        env={"AIRFLOW__CORE__PARALLELISM": "2"},
        home=tmp_path / "home",
    )
    stack._prepare_home()
    env = stack.env

    assert (stack.dags_folder / "e2e_xcom.py").read_text() == (E2E_DAGS / "e2e_xcom.py").read_text()
    assert env["AIRFLOW_HOME"] == str(tmp_path / "home")
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"sqlite:///{tmp_path / 'home' / 'airflow.db'}"
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert "AIRFLOW_CONN_LEAKED" not in env
    assert json.loads(env["AIRFLOW_CONN_JSON_CONN"]) == {"conn_type": "http", "host": "127.0.0.1"}
    assert env["AIRFLOW_CONN_URI_CONN"] == "http://127.0.0.1:1"
    assert env["AIRFLOW_VAR_COUNT"] == "3"
    assert env["AIRFLOW_VAR_NAME"] == "plain"
    assert env["AIRFLOW__CORE__PARALLELISM"] == "2"  # the caller's env overrides the fast defaults
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == f"http://127.0.0.1:{stack.port}/execution/"
    assert env[STACK_ID_VAR] == stack.stack_id
    assert len(env["AIRFLOW__API_AUTH__JWT_SECRET"]) >= 64


def test_a_missing_dag_file_fails_before_anything_starts(tmp_path: Path) -> None:
    stack = AirflowStack([tmp_path / "nope.py"], home=tmp_path / "home")
    with pytest.raises(AirflowStackError, match=r"no such DAG file or folder: .*nope\.py"):
        stack.start()
    assert stack.processes == {}


@pytest.mark.parametrize("components", [["scheduler"], ["api-server", "webserver"]])
def test_components_must_be_known_and_include_the_api_server(components: list[str]) -> None:
    with pytest.raises(AirflowStackError, match="components must include api-server, among"):
        AirflowStack(components=components)
