"""Shared pieces of the HTTP core unit tests: a minimal service hook on a fake transport."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_cloud.hooks.core import CloudApiHook
from tests.fake_transport import Reply

CONN_ID = "test_api"
HOST = "https://api.example.test"
TOKEN = "s3cr3t-token-value"
DATASETTE_400 = {"ok": False, "error": "a; b", "errors": ["a", "b"], "status": 400}


class ExampleHook(CloudApiHook):
    """The smallest service hook: Bearer token from the connection password."""

    service_name = "test"

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.connection.password}"}


def set_connection(monkeypatch: pytest.MonkeyPatch, *, extra: Any = None, **fields: Any) -> None:
    """Define connection ``test_api`` as an ``AIRFLOW_CONN_TEST_API`` JSON variable."""
    conn = {"conn_type": "http", "host": HOST, "password": TOKEN, **fields}
    if extra is not None:
        conn["extra"] = extra
    monkeypatch.setenv("AIRFLOW_CONN_TEST_API", json.dumps(conn))


def ok(body: Any = None) -> Reply:
    return Reply(200, json={"ok": True} if body is None else body)
