"""
A DatasetteHook on a connection of its own (database ``data``), for tests that mount a fake transport; and
one on :class:`FakeDatasette` (``served_hook``), with retries (waits skipped), for tests of lost answers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from airflow_provider_cloud.hooks.datasette import DatasetteHook
from tests.fake_transport import FakeTransport
from tests.unit.hooks.core.conftest import logged  # noqa: F401  (the same capture of the hook's log)
from tests.unit.hooks.datasette.fake_server import FakeDatasette


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch) -> DatasetteHook:
    conn = {"conn_type": "datasette", "host": "https://ds.example.test", "password": "dstok_unit_token"}
    conn["extra"] = {"database": "data"}
    monkeypatch.setenv("AIRFLOW_CONN_DS_UNIT", json.dumps(conn))
    return DatasetteHook("ds_unit", retry_limit=0)


@pytest.fixture
def server() -> FakeDatasette:
    return FakeDatasette()


@pytest.fixture
def served_hook(monkeypatch: pytest.MonkeyPatch, server: FakeDatasette) -> Iterator[DatasetteHook]:
    conn = {"conn_type": "datasette", "host": "https://ds.example.test", "password": "dstok_unit_token"}
    conn["extra"] = {"database": "data"}
    monkeypatch.setenv("AIRFLOW_CONN_DS_SERVED", json.dumps(conn))
    hook = DatasetteHook("ds_served", retry_limit=3)
    hook._sleep = lambda seconds: None
    FakeTransport(handler=server).mount(hook.session)
    yield hook
    hook.close()
