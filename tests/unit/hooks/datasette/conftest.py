"""A DatasetteHook on a connection of its own (database ``data``), for tests that mount a fake transport."""

from __future__ import annotations

import json

import pytest

from airflow_provider_cloud.hooks.datasette import DatasetteHook


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch) -> DatasetteHook:
    conn = {"conn_type": "datasette", "host": "https://ds.example.test", "password": "dstok_unit_token"}
    conn["extra"] = {"database": "data"}
    monkeypatch.setenv("AIRFLOW_CONN_DS_UNIT", json.dumps(conn))
    return DatasetteHook("ds_unit", retry_limit=0)
