"""
Pytest fixtures for testing DAGs, hooks and operators of airflow-provider-cloud offline.

The plugin is registered as the ``pytest11`` entry point ``airflow_provider_cloud``, so every pytest run in
an environment with the package installed has these fixtures; no ``conftest.py`` import is needed.

Datasette (a real server, ``datasette serve`` in a subprocess on 127.0.0.1 and a free port; install the
``datasette`` extra: ``pip install 'airflow-provider-cloud[datasette]'``):

``datasette_server`` (session scope)
    One :class:`~airflow_provider_cloud.testing.datasette.DatasetteServer` with Datasette's default
    settings, shared by the whole session; database ``data``, ``.token`` acts as root.
``datasette_server_factory`` (session scope)
    A callable ``make(**kwargs) -> DatasetteServer`` taking the ``DatasetteServer`` arguments; each call
    starts another server, e.g. ``make(settings={"max_insert_rows": 1000})``. All are stopped at the end
    of the session.
``datasette_conn_id`` (function scope)
    Sets ``AIRFLOW_CONN_DATASETTE_DEFAULT`` to the session server's connection JSON (host = base URL,
    password = token, ``extra = {"database": "data"}``; undone after the test) and returns
    ``"datasette_default"``.
``fresh_table_name`` (function scope)
    A table name no other test of the session gets: ``t_<test name>_<n>``, letters, digits and ``_`` only,
    so tests sharing the session server do not collide.

Kloudless (the in-process :class:`~airflow_provider_cloud.testing.kloudless.KloudlessEmulator`, standard
library only):

``kloudless_server`` (session scope)
    One emulator on 127.0.0.1 and a free port, shared by the whole session.
``kloudless_emulator`` (function scope)
    The session emulator, reset before and after the test (no accounts, tokens, files, events or faults).
``kloudless_account_id`` (function scope)
    The numeric id of a fresh account on ``kloudless_emulator``.
``kloudless_token`` (function scope)
    A Bearer token for ``kloudless_account_id``.
``kloudless_conn_id`` (function scope)
    Sets ``AIRFLOW_CONN_KLOUDLESS_DEFAULT`` (conn type ``kloudless``, host = the emulator's URL, password =
    ``kloudless_token``, ``auth_scheme`` Bearer, ``account_id`` ``me``; undone after the test) and returns
    ``"kloudless_default"``; Airflow's cached ``kloudless://kloudless_default@`` store is dropped before and
    after, so ``kloudless://`` paths reach the test's own account.

CloudTables (the in-process :class:`~airflow_provider_cloud.testing.cloudtables.CloudTablesEmulator`,
standard library only):

``cloudtables_server`` (session scope)
    One emulator on 127.0.0.1 and a free port, shared by the whole session, with a rate limit of
    :data:`CLOUDTABLES_TEST_RATE_LIMIT` requests per 900 s, so that tests are never paced; start your own
    ``CloudTablesEmulator(rate_limit=..., rate_window=...)`` to test the limit.
``cloudtables_emulator`` (function scope)
    The session emulator, reset before and after the test (no data sets, rows, tokens, faults or latency).
``cloudtables_conn_id`` (function scope)
    Sets ``AIRFLOW_CONN_CLOUDTABLES_DEFAULT`` (conn type ``cloudtables``, host = the emulator's URL, which
    is served in the self-hosted ``/io`` form, password = its API key, ``clientId`` ``airflow-tests``,
    ``rate_limit`` as the emulator's; undone after the test) and returns ``"cloudtables_default"``.

The network-conditions proxy (:class:`~airflow_provider_cloud.testing.proxy.NetworkConditionsProxy`, standard
library only):

``network_proxy`` (function scope)
    A callable ``make(upstream_url, **kwargs) -> NetworkConditionsProxy`` taking the proxy's arguments
    (``latency``, ``jitter``, ``bandwidth``, ``faults``, ``seed``); each call starts a proxy in front of
    ``upstream_url``, and all are stopped after the test. Give a connection ``proxy.url`` as its host
    instead of the server's URL, e.g. ``{**datasette_server.connection_dict(), "host": proxy.url}``.

Airflow (a private metadata database and ``dag.test()``; helpers in
:mod:`airflow_provider_cloud.testing.dagtest`):

``airflow_db`` (session scope)
    The session's private metadata database (SQLite in a temporary ``AIRFLOW_HOME``, set before any
    ``conftest.py`` imports Airflow; an inherited home or database is never used), migrated on first use;
    returns its URL. Ini option ``airflow_private_home = false`` keeps your own set-up instead; the
    decisions are recorded in :mod:`airflow_provider_cloud.testing.dag_fixtures`.
``airflow_variables`` (function scope)
    ``get(key, default)`` and ``set(key, value)`` on Variables in the metadata database (where tasks read
    and commit them); the Variables table is put back as it was after the test.
``dag_runner`` (function scope)
    :func:`~airflow_provider_cloud.testing.dagtest.run_dag`: ``dag_runner(path, dag_id=None, **test_kwargs)``
    runs the DAG file with ``dag.test()``, its folder as the DAGs folder, and returns a
    :class:`~airflow_provider_cloud.testing.dagtest.DagTestResult` (``state``, ``task_states()``,
    ``xcom(task_id, key, map_index=...)``, ``variable(key)``); Variables are restored after the test.

Example::

    import pytest


    @pytest.mark.integration
    def test_import(datasette_conn_id, datasette_server, fresh_table_name):
        ...  # run the operator with conn_id=datasette_conn_id, dataset=fresh_table_name
        assert datasette_server.sql(f"select count(*) as n from [{fresh_table_name}]") == [{"n": 3}]

Nothing from Airflow, and nothing heavy, is imported when this module loads: pytest loads plugins before
any ``conftest.py``, and the private Airflow home must be set (and a ``conftest.py`` may still add settings)
before Airflow is first imported. The fixtures import what they need when they run.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_cloud.testing.dag_fixtures import (  # noqa: F401 - pytest finds hooks and fixtures here
    airflow_db,
    airflow_variables,
    dag_runner,
    pytest_addoption,
    pytest_configure,
    pytest_load_initial_conftests,
    pytest_unconfigure,
)

if TYPE_CHECKING:
    from airflow_provider_cloud.testing.cloudtables import CloudTablesEmulator
    from airflow_provider_cloud.testing.datasette import DatasetteServer
    from airflow_provider_cloud.testing.kloudless import KloudlessEmulator
    from airflow_provider_cloud.testing.proxy import NetworkConditionsProxy

DATASETTE_CONN_ID = "datasette_default"
KLOUDLESS_CONN_ID = "kloudless_default"
CLOUDTABLES_CONN_ID = "cloudtables_default"
#: Requests per 900 s that the session CloudTables emulator and its connection allow: tests never wait.
CLOUDTABLES_TEST_RATE_LIMIT = 1_000_000

_table_numbers = itertools.count(1)


# -- Datasette ------------------------------------------------------------------------------------------


class DatasetteServerFactory:
    """Start Datasette servers on demand and stop them all at the end."""

    def __init__(self) -> None:
        self._servers: list[DatasetteServer] = []

    def __call__(self, **kwargs: Any) -> DatasetteServer:
        """Start a server with the given ``DatasetteServer`` arguments and return it."""
        from airflow_provider_cloud.testing.datasette import DatasetteServer

        server = DatasetteServer(**kwargs)
        self._servers.append(server)
        return server.start()

    def stop_all(self) -> None:
        """Stop every server this factory started, newest first."""
        while self._servers:
            self._servers.pop().stop()


@pytest.fixture(scope="session")
def datasette_server_factory() -> Iterator[DatasetteServerFactory]:
    """Return a callable that starts extra Datasette servers; all are stopped at session end."""
    factory = DatasetteServerFactory()
    try:
        yield factory
    finally:
        factory.stop_all()


@pytest.fixture(scope="session")
def datasette_server() -> Iterator[DatasetteServer]:
    """Run one Datasette server (default settings) for the whole session."""
    from airflow_provider_cloud.testing.datasette import DatasetteServer

    with DatasetteServer() as server:
        yield server


@pytest.fixture
def datasette_conn_id(datasette_server: DatasetteServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """Define connection ``datasette_default`` for the session server through its environment variable."""
    name, value = datasette_server.env_var(DATASETTE_CONN_ID)
    monkeypatch.setenv(name, value)  # monkeypatch removes it again after the test
    return DATASETTE_CONN_ID


@pytest.fixture
def fresh_table_name(request: pytest.FixtureRequest) -> str:
    """Return a table name unique in this session, made from the test's name."""
    stem = re.sub(r"[^0-9a-z_]+", "_", request.node.name.lower()).strip("_")[:40].rstrip("_")
    return f"t_{stem or 'table'}_{next(_table_numbers)}"


# -- Kloudless ------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def kloudless_server() -> Iterator[KloudlessEmulator]:
    """Run one Kloudless emulator for the whole session."""
    from airflow_provider_cloud.testing.kloudless import KloudlessEmulator

    with KloudlessEmulator() as emulator:
        yield emulator


@pytest.fixture
def kloudless_emulator(kloudless_server: KloudlessEmulator) -> Iterator[KloudlessEmulator]:
    """Return the session emulator, reset before and after the test."""
    kloudless_server.reset()
    try:
        yield kloudless_server
    finally:
        kloudless_server.reset()


@pytest.fixture
def kloudless_account_id(kloudless_emulator: KloudlessEmulator) -> int:
    """Connect a fresh account on the emulator and return its numeric id."""
    return kloudless_emulator.create_account(account="airflow@example.com")


@pytest.fixture
def kloudless_token(kloudless_emulator: KloudlessEmulator, kloudless_account_id: int) -> str:
    """Mint a Bearer token for ``kloudless_account_id``."""
    return kloudless_emulator.create_token(kloudless_account_id)


@pytest.fixture
def kloudless_conn_id(
    kloudless_emulator: KloudlessEmulator, kloudless_token: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """
    Define connection ``kloudless_default`` (Bearer token, account ``me``) through its environment variable.

    Airflow keeps one object store (and its filesystem) per scheme and connection id for the process: the
    ``kloudless://kloudless_default@...`` store is dropped before and after, so each test's paths reach its
    own account.
    """
    connection = {
        "conn_type": "kloudless",
        "host": kloudless_emulator.url,
        "password": kloudless_token,
        "extra": {"auth_scheme": "Bearer", "account_id": "me"},
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{KLOUDLESS_CONN_ID.upper()}", json.dumps(connection))
    _forget_object_store(f"kloudless-{KLOUDLESS_CONN_ID}")
    yield KLOUDLESS_CONN_ID
    _forget_object_store(f"kloudless-{KLOUDLESS_CONN_ID}")


def _forget_object_store(alias: str) -> None:
    from airflow.sdk.io import store  # Airflow has no public call to drop one store from its cache

    store._STORE_CACHE.pop(alias, None)


# -- CloudTables ----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def cloudtables_server() -> Iterator[CloudTablesEmulator]:
    """Run one CloudTables emulator (rate limit high enough never to pace tests) for the whole session."""
    from airflow_provider_cloud.testing.cloudtables import CloudTablesEmulator

    with CloudTablesEmulator(rate_limit=CLOUDTABLES_TEST_RATE_LIMIT, rate_window=900.0) as emulator:
        yield emulator


@pytest.fixture
def cloudtables_emulator(cloudtables_server: CloudTablesEmulator) -> Iterator[CloudTablesEmulator]:
    """Return the session emulator, reset before and after the test."""
    cloudtables_server.reset()
    try:
        yield cloudtables_server
    finally:
        cloudtables_server.reset()


@pytest.fixture
def cloudtables_conn_id(cloudtables_emulator: CloudTablesEmulator, monkeypatch: pytest.MonkeyPatch) -> str:
    """Define connection ``cloudtables_default`` for the emulator through its environment variable."""
    connection = {
        "conn_type": "cloudtables",
        "host": cloudtables_emulator.url,
        "password": cloudtables_emulator.api_key,
        "extra": {
            "clientId": "airflow-tests",
            "clientName": "Airflow tests",
            "rate_limit": CLOUDTABLES_TEST_RATE_LIMIT,
            "rate_window": 900,
        },
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{CLOUDTABLES_CONN_ID.upper()}", json.dumps(connection))
    return CLOUDTABLES_CONN_ID


# -- Network conditions ---------------------------------------------------------------------------------


class NetworkProxyFactory:
    """Start network-conditions proxies on demand and stop them all at the end of the test."""

    def __init__(self) -> None:
        self._proxies: list[NetworkConditionsProxy] = []

    def __call__(self, upstream_url: str, **kwargs: Any) -> NetworkConditionsProxy:
        """Start a proxy in front of ``upstream_url`` with the given ``NetworkConditionsProxy`` arguments."""
        from airflow_provider_cloud.testing.proxy import NetworkConditionsProxy

        proxy = NetworkConditionsProxy(upstream_url, **kwargs)
        self._proxies.append(proxy)
        return proxy.start()

    def stop_all(self) -> None:
        while self._proxies:
            self._proxies.pop().stop()


@pytest.fixture
def network_proxy() -> Iterator[NetworkProxyFactory]:
    """Return a callable that starts network-conditions proxies; all are stopped after the test."""
    factory = NetworkProxyFactory()
    try:
        yield factory
    finally:
        factory.stop_all()
