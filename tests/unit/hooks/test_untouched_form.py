"""
What Airflow 3.3.2's connection form stores, read by each hook: an untouched form means the hook's defaults.

The form stores every extra field: its ``schema.default`` if declared, else ``null``; Port is stored as the
user typed it. These tests build that ``extra`` from ``get_provider_info()`` itself.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_cloud.get_provider_info import get_provider_info
from airflow_provider_cloud.hooks.cloudtables import CloudTablesHook
from airflow_provider_cloud.hooks.datasette import DatasetteHook
from airflow_provider_cloud.hooks.kloudless import KloudlessHook

HOOKS = {"datasette": DatasetteHook, "cloudtables": CloudTablesHook, "kloudless": KloudlessHook}
HOSTS = {
    "datasette": "https://myspace.datasette.cloud",
    "cloudtables": "acme.cloudtables.io",
    "kloudless": "https://api.kloudless.com",
}
SETTINGS = ("base_url", "verify", "timeouts", "retry_policy", "window")


def untouched_extra(conn_type: str) -> dict[str, Any]:
    (entry,) = [e for e in get_provider_info()["connection-types"] if e["connection-type"] == conn_type]
    return {name: field["schema"].get("default") for name, field in entry["conn-fields"].items()}


def make_hook(monkeypatch: pytest.MonkeyPatch, conn_type: str, **fields: Any) -> Any:
    conn = {"conn_type": conn_type, "host": HOSTS[conn_type], "password": "secret-token-1234", **fields}
    monkeypatch.setenv(f"AIRFLOW_CONN_FORM_{conn_type.upper()}", json.dumps(conn))
    return HOOKS[conn_type](f"form_{conn_type}")


def settings(hook: Any) -> dict[str, Any]:
    found = {name: getattr(hook, name) for name in SETTINGS}
    if isinstance(hook, CloudTablesHook):
        found["endpoint"] = hook.endpoint
    if isinstance(hook, KloudlessHook):
        found.update(api_version=hook.api_version, account=hook._settings.account_id)
        found["auth"] = hook._settings.headers()["Authorization"]
    return found


@pytest.mark.parametrize("conn_type", sorted(HOOKS))
def test_an_untouched_form_means_the_hooks_defaults(monkeypatch, conn_type):
    plain = settings(make_hook(monkeypatch, conn_type))
    form = settings(make_hook(monkeypatch, conn_type, extra=json.dumps(untouched_extra(conn_type)), port=443))
    assert form == plain
    assert form["base_url"].startswith("https://")
    assert ":443" not in form["base_url"]


@pytest.mark.parametrize("conn_type", sorted(HOOKS))
def test_the_port_field_reaches_a_host_without_one(monkeypatch, conn_type):
    hook = make_hook(monkeypatch, conn_type, host="http://127.0.0.1", port=8123)
    assert hook.base_url.startswith("http://127.0.0.1:8123")


def test_an_untouched_cloudtables_form_keeps_an_http_hosts_scheme(monkeypatch):
    # ssl is stored as true by an untouched form; the emulator's http:// host keeps its scheme
    extra = json.dumps(untouched_extra("cloudtables"))
    hook = make_hook(monkeypatch, "cloudtables", host="http://127.0.0.1", port=8123, extra=extra)
    assert (hook.base_url, hook.endpoint.hosted) == ("http://127.0.0.1:8123", False)


def test_an_untouched_kloudless_form_sends_raw_data_off(monkeypatch):
    hook = make_hook(monkeypatch, "kloudless", extra=json.dumps(untouched_extra("kloudless")))
    assert hook._settings.headers()["X-Kloudless-Raw-Data"] == "false"


@pytest.mark.parametrize(("port", "reachable"), [(None, True), (443, True), (8443, False)])
def test_kloudless_without_a_host_takes_port_443_only(monkeypatch, port, reachable):
    hook = make_hook(monkeypatch, "kloudless", host="", port=port)
    if reachable:
        assert hook.base_url == "https://api.kloudless.com"
        return
    ok, message = hook.test_connection()
    assert not ok
    assert message.startswith("Connection 'form_kloudless' has Port 8443 but no host")
    assert "secret-token-1234" not in message
