"""CloudTablesAccessTokenOperator on a connection of another service fails at once, sending nothing."""

from __future__ import annotations

import json
import time

import pytest

from airflow_provider_cloud.exceptions import UnsupportedConnectionError
from airflow_provider_cloud.operators.cloudtables import CloudTablesAccessTokenOperator
from airflow_provider_cloud.testing.cloudtables import CloudTablesEmulator

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("dataset", ["Airports", "0b7c1d2e-3f40-4a5b-8c6d-7e8f90a1b2c3"])
def test_a_datasette_connection_fails_at_once_naming_both_types(
    monkeypatch, cloudtables_emulator: CloudTablesEmulator, dataset
):
    ct = cloudtables_emulator
    ct.add_dataset("Airports", [("Name", "text")], dataset_id="0b7c1d2e-3f40-4a5b-8c6d-7e8f90a1b2c3")
    ct.fail_next(10, 500)  # what a wrong server answers: before the type check, five retried 500s
    ct.clear_requests_seen()
    token = "dstok_0123456789abcdef"
    connection = {"conn_type": "datasette", "host": ct.url, "password": token}
    monkeypatch.setenv("AIRFLOW_CONN_DATASETTE_BY_MISTAKE", json.dumps(connection))
    operator = CloudTablesAccessTokenOperator(
        task_id="token", dataset=dataset, conn_id="datasette_by_mistake", roles=["viewer"]
    )
    started = time.monotonic()
    with pytest.raises(UnsupportedConnectionError) as caught:
        operator.execute(context={})
    assert time.monotonic() - started < 2.0
    message = str(caught.value)
    assert "'datasette_by_mistake' has type 'datasette'" in message
    assert "needs a connection of type 'cloudtables'" in message
    assert token not in message
    assert ct.requests_seen == []  # nothing was sent
