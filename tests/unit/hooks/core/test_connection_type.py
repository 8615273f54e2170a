"""A service hook refuses a connection of another type, before any request, naming both types."""

from __future__ import annotations

import json

import pytest

from airflow_provider_cloud.exceptions import UnsupportedConnectionError
from airflow_provider_cloud.hooks.cloudtables import CloudTablesHook
from airflow_provider_cloud.hooks.datasette import DatasetteHook
from airflow_provider_cloud.hooks.kloudless import KloudlessHook
from tests.unit.hooks.core.core_support import CONN_ID, ExampleHook


@pytest.mark.parametrize(
    ("hook_class", "other_type"),
    [(KloudlessHook, "datasette"), (CloudTablesHook, "datasette"), (DatasetteHook, "kloudless")],
)
def test_a_hook_on_another_services_connection_fails_clearly(monkeypatch, hook_class, other_type):
    connection = {"conn_type": other_type, "host": "https://example.test", "password": "token-0123456789"}
    monkeypatch.setenv("AIRFLOW_CONN_OTHER", json.dumps(connection))
    hook = hook_class("other")
    with pytest.raises(UnsupportedConnectionError) as caught:
        hook.session
    message = str(caught.value)
    assert f"has type {other_type!r}" in message
    assert f"needs a connection of type {hook_class.conn_type!r}" in message
    assert "token-0123456789" not in message


@pytest.mark.asyncio
@pytest.mark.parametrize("hook_class", [KloudlessHook, CloudTablesHook, DatasetteHook])
async def test_a_trigger_side_hook_checks_the_type_too(monkeypatch, hook_class):
    monkeypatch.setenv(
        "AIRFLOW_CONN_OTHER", json.dumps({"conn_type": "http", "host": "https://example.test"})
    )
    with pytest.raises(UnsupportedConnectionError, match="has type 'http'"):
        await hook_class.async_create("other")


def test_a_hook_without_a_type_of_its_own_takes_any_connection():
    assert ExampleHook(CONN_ID).connection.conn_type == "http"
