"""The DatasetteServer testing kit and its pytest fixtures, against a real Datasette 1.0a41."""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import time

import pytest
import requests

from airflow_provider_cloud.testing._datasette import process as kit_process
from airflow_provider_cloud.testing.datasette import DatasetteServer, DatasetteServerError

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def http():
    with requests.Session() as session:
        session.trust_env = False  # never send 127.0.0.1 through a proxy from the environment
        yield session


@pytest.fixture(scope="module")
def big_batch_server(datasette_server_factory):
    return datasette_server_factory(settings={"max_insert_rows": 1000})


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def create_table(http, server, table, rows, token=None):
    return http.post(
        f"{server.url}/{server.database}/-/create",
        json={"table": table, "rows": rows, "pk": "id"},
        headers=bearer(token or server.token),
        timeout=10,
    )


def process_exists(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_server_starts_and_answers(datasette_server, http):
    response = http.get(f"{datasette_server.url}/-/versions.json", timeout=10)

    assert response.status_code == 200
    assert response.json()["datasette"]["version"] == "1.0a41"
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", datasette_server.url)
    assert datasette_server.url.endswith(f":{datasette_server.port}")
    assert datasette_server.running
    assert process_exists(datasette_server.pid)
    assert datasette_server.db_path.name == "data.db"
    assert datasette_server.db_path.exists()
    assert "Uvicorn running" in datasette_server.log_path.read_text()


def test_token_acts_as_root(datasette_server, http):
    response = http.get(f"{datasette_server.url}/-/actor.json", headers=bearer(datasette_server.token))

    assert datasette_server.token.startswith("dstok_")
    assert response.status_code == 200
    assert response.json()["actor"]["id"] == "root"


def test_token_creates_table_and_inserts_rows(datasette_server, http, fresh_table_name):
    created = create_table(http, datasette_server, fresh_table_name, [{"id": 1, "name": "Ada"}])
    inserted = http.post(
        f"{datasette_server.url}/data/{fresh_table_name}/-/insert",
        json={"rows": [{"id": 2, "name": "Grace"}, {"id": 3, "name": "Edsger"}]},
        headers=bearer(datasette_server.token),
        timeout=10,
    )

    assert created.status_code == 201, created.text
    assert inserted.status_code == 201, inserted.text
    assert datasette_server.sql(f"select id, name from [{fresh_table_name}] order by id") == [
        {"id": 1, "name": "Ada"},
        {"id": 2, "name": "Grace"},
        {"id": 3, "name": "Edsger"},
    ]


def test_sql_reads_with_parameters_and_cannot_write(datasette_server, http, fresh_table_name):
    create_table(http, datasette_server, fresh_table_name, [{"id": 1}, {"id": 2}])

    assert datasette_server.sql(f"select id from [{fresh_table_name}] where id > ?", (1,)) == [{"id": 2}]
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        datasette_server.sql(f"delete from [{fresh_table_name}]")


def test_factory_server_applies_settings(big_batch_server, datasette_server, http, fresh_table_name):
    settings = http.get(f"{big_batch_server.url}/-/settings.json", timeout=10).json()
    default_settings = http.get(f"{datasette_server.url}/-/settings.json", timeout=10).json()
    rows = [{"id": n} for n in range(150)]

    assert settings["max_insert_rows"] == 1000
    assert default_settings["max_insert_rows"] == 100
    assert create_table(http, big_batch_server, fresh_table_name, rows).status_code == 201
    assert big_batch_server.sql(f"select count(*) as n from [{fresh_table_name}]") == [{"n": 150}]


def test_expired_token_is_rejected(datasette_server, http):
    # Minting runs a subprocess that may take seconds on a loaded machine: leave the token enough life
    # to be seen fresh, then wait out its expiry (a functional wait, not a timing assertion).
    token = datasette_server.create_token(expires_after=8)
    fresh = http.get(f"{datasette_server.url}/-/actor.json", headers=bearer(token), timeout=10)
    time.sleep(9.1)
    expired = http.get(f"{datasette_server.url}/-/actor.json", headers=bearer(token), timeout=10)

    assert fresh.status_code == 200
    assert fresh.json()["actor"]["id"] == "root"
    assert expired.status_code == 401
    assert expired.json()["error"] == "Token has expired"


def test_token_signed_with_another_secret_is_rejected(datasette_server, http):
    foreign = DatasetteServer(secret="another-secret").create_token()  # no server needed to mint

    response = http.get(f"{datasette_server.url}/-/actor.json", headers=bearer(foreign), timeout=10)

    assert foreign.startswith("dstok_")
    assert response.status_code == 401
    assert response.json()["error"] == "Invalid token signature"


def test_restricted_token_may_not_write(datasette_server, http, fresh_table_name):
    create_table(http, datasette_server, fresh_table_name, [{"id": 1}])
    token = datasette_server.create_token(restrictions=[("data", fresh_table_name, "view-table")])

    actor = http.get(f"{datasette_server.url}/-/actor.json", headers=bearer(token), timeout=10).json()
    insert = http.post(
        f"{datasette_server.url}/data/{fresh_table_name}/-/insert",
        json={"row": {"id": 2}},
        headers=bearer(token),
        timeout=10,
    )

    assert actor["actor"]["_r"] == {"r": {"data": {fresh_table_name: ["vt"]}}}
    assert insert.status_code == 403
    assert datasette_server.sql(f"select id from [{fresh_table_name}]") == [{"id": 1}]


@pytest.mark.parametrize(
    "restrictions",
    [
        pytest.param([()], id="empty"),
        pytest.param([("a", "b", "c", "d")], id="four-parts"),
        pytest.param(["insert-row"], id="bare-string"),
    ],
)
def test_malformed_restrictions_are_refused(restrictions):
    with pytest.raises(ValueError, match="A restriction is"):
        DatasetteServer().create_token(restrictions=restrictions)


def test_unknown_action_is_refused():
    with pytest.raises(ValueError, match="Unknown permission: insert-rows"):
        DatasetteServer().create_token(restrictions=[("insert-rows",)])


def test_non_positive_expiry_is_refused():
    with pytest.raises(ValueError, match="positive"):
        DatasetteServer().create_token(expires_after=0)


def test_restart_keeps_data_and_token(big_batch_server, http, fresh_table_name):
    assert create_table(http, big_batch_server, fresh_table_name, [{"id": 7}]).status_code == 201
    old_pid, url, token = big_batch_server.pid, big_batch_server.url, big_batch_server.token

    big_batch_server.restart()
    actor = http.get(f"{big_batch_server.url}/-/actor.json", headers=bearer(token), timeout=10)
    rows = http.get(f"{big_batch_server.url}/data/{fresh_table_name}.json", headers=bearer(token), timeout=10)

    assert big_batch_server.pid != old_pid
    assert not process_exists(old_pid)
    assert big_batch_server.url == url  # the port was free again, so it is kept
    assert big_batch_server.token == token
    assert actor.json()["actor"]["id"] == "root"
    assert rows.json()["rows"] == [{"id": 7}]


def test_stop_ends_the_process_and_is_idempotent(http, monkeypatch):
    # The first picked port is taken, as if another process grabbed it between pick and bind.
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    taken = squatter.getsockname()[1]
    real_pick = kit_process.pick_free_port
    picks = iter([taken])
    monkeypatch.setattr(kit_process, "pick_free_port", lambda host: next(picks, None) or real_pick(host))
    try:
        server = DatasetteServer()
        with server:
            pid, url, directory = server.pid, server.url, server.directory
            log_text = server.log_path.read_text()
            assert http.get(f"{url}/-/versions.json", timeout=10).status_code == 200
    finally:
        squatter.close()

    assert "address already in use" in log_text  # the first attempt failed to bind ...
    assert server.port != taken  # ... and the second one got another port
    assert not server.running
    assert server.pid is None
    assert not process_exists(pid)
    assert not directory.exists()
    with pytest.raises(requests.ConnectionError):
        http.get(f"{url}/-/versions.json", timeout=5)
    server.stop()  # a second stop is harmless
    assert not server.running


def test_explicit_port_in_use_is_refused():
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        server = DatasetteServer(port=port)

        with pytest.raises(DatasetteServerError, match=f"Port {port} on 127.0.0.1 is in use"):
            server.start()

    assert not server.running
    server.stop()


def test_startup_failure_reports_the_log_tail():
    server = DatasetteServer(extra_args=["--no-such-option"])

    with pytest.raises(DatasetteServerError) as caught:
        with server:
            pass

    assert "exited with code 2" in str(caught.value)
    assert "Error: No such option '--no-such-option'" in caught.value.log_tail
    assert caught.value.log_tail in str(caught.value)
    assert caught.value.returncode == 2
    assert not server.running
    assert not server.directory.exists()  # the failed context manager cleaned up its temp dir


def test_connection_is_accepted_by_airflow(datasette_server):
    from airflow.sdk import Connection

    from_json = Connection.from_json(datasette_server.connection_json(), conn_id="ds_json")
    from_uri = Connection(conn_id="ds_uri", uri=datasette_server.connection_uri())

    for conn in (from_json, from_uri):
        assert conn.conn_type == "datasette"
        assert conn.host == datasette_server.url
        assert conn.password == datasette_server.token
        assert conn.extra_dejson == {"database": "data"}
    assert from_json.get_uri() == datasette_server.connection_uri()


def test_connection_can_carry_another_token(datasette_server):
    name, value = datasette_server.env_var("ds_limited", token="dstok_other")

    assert name == "AIRFLOW_CONN_DS_LIMITED"
    assert json.loads(value) == {
        "conn_type": "datasette",
        "host": datasette_server.url,
        "password": "dstok_other",
        "extra": {"database": "data"},
    }


def test_conn_id_fixture_defines_the_connection(datasette_conn_id, datasette_server):
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(datasette_conn_id)

    assert datasette_conn_id == "datasette_default"
    assert json.loads(os.environ["AIRFLOW_CONN_DATASETTE_DEFAULT"])["host"] == datasette_server.url
    assert conn.host == datasette_server.url
    assert conn.password == datasette_server.token
    assert conn.extra_dejson["database"] == "data"


@pytest.mark.parametrize("case", ["a", "b/c d"])
def test_fresh_table_names_are_unique_and_plain(fresh_table_name, request, case):
    names = request.config.stash.setdefault(_SEEN_NAMES, [])
    names.append(fresh_table_name)

    assert re.fullmatch(r"t_test_fresh_table_names_[a-z0-9_]+_\d+", fresh_table_name)
    assert len(set(names)) == len(names)


_SEEN_NAMES = pytest.StashKey[list]()
