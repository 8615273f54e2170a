"""
The Add and Edit connection forms of the three types in Airflow 3.3.2's UI, driven in headless Chromium.

Every expectation is read from ``get_provider_info()`` (the docs render their field tables from it too):
each field's label, description and placeholder (an extra field's are its ``schema.examples``, the only
hint the 3.3.2 form shows for it), each toggle's and select's default, and what an untouched form stores.
The Test button runs the hook in the API server against the local servers; its message must be the one the
hook gives in this process for the same connection, and a wrong token must not show in it.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from airflow_provider_cloud.get_provider_info import get_provider_info
from airflow_provider_cloud.hooks.cloudtables import CloudTablesHook
from airflow_provider_cloud.hooks.datasette import DatasetteHook
from airflow_provider_cloud.hooks.kloudless import KloudlessHook
from tests.browser.connection_form import ConnectionsPage
from tests.e2e.airflow_stack import AirflowStack
from tests.e2e.example_runs import Services

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("module_clock")]

ENTRIES = {e["connection-type"]: e for e in get_provider_info()["connection-types"]}
TYPES = sorted(ENTRIES)
HOOKS = {"datasette": DatasetteHook, "cloudtables": CloudTablesHook, "kloudless": KloudlessHook}
STANDARD_LABELS = {
    "host": "Host",
    "port": "Port",
    "login": "Login",
    "password": "Password",
    "schema": "Schema",
}
EXAMPLES_PLACEHOLDER = "Start typing to see options"
TEST_CONN_ID = "browser_form"
VARIABLE = re.compile(rf"'{TEST_CONN_ID}'|\[request id \w+\]")


@dataclass(frozen=True)
class Target:
    """What a user types into the standard fields to reach one local server."""

    host: str
    port: int
    token: str

    @property
    def fields(self) -> dict[str, str]:
        return {"host": self.host, "port": str(self.port), "password": self.token}


def targets(services: Services) -> dict[str, Target]:
    # Datasette and CloudTables: a host without a port plus Port; Kloudless: a URL with its port, and Port
    # the same (both ways must work once Port is shown).
    kloudless = services.kloudless
    return {
        "datasette": Target("http://127.0.0.1", services.datasette.port, services.datasette.token),
        "cloudtables": Target("http://127.0.0.1", services.cloudtables.port, services.cloudtables.api_key),
        "kloudless": Target(f"http://127.0.0.1:{kloudless.port}", kloudless.port, services.kloudless_token),
    }


def untouched_extra(conn_type: str) -> dict[str, Any]:
    """What an untouched form stores: every extra field, at its declared default or null."""
    return {name: field["schema"].get("default") for name, field in ENTRIES[conn_type]["conn-fields"].items()}


@pytest.fixture(scope="module")
def page(browser: BrowserContext, services: Services, airflow_ui: AirflowStack) -> Iterator[Page]:
    tab = browser.new_page()
    yield tab
    tab.close()


@pytest.fixture
def connections(page: Page, airflow_ui: AirflowStack) -> ConnectionsPage:
    return ConnectionsPage(page, airflow_ui.api_url)


def says(expected: str, shown: str) -> bool:
    """
    Whether the toast shows the hook's message, but for what differs between two calls: the connection id
    (the API server tests under a random one) and the service's request id.
    """
    pattern, last = "", 0
    for found in VARIABLE.finditer(expected):
        pattern += re.escape(expected[last : found.start()])
        pattern += r"'\w+'" if found.group().startswith("'") else r"\[request id \w+\]"
        last = found.end()
    return re.search(pattern + re.escape(expected[last:]), shown) is not None


@pytest.fixture
def hook_says(monkeypatch: pytest.MonkeyPatch) -> Callable[[str, dict[str, Any]], tuple[bool, str]]:
    """Run the hook's ``test_connection`` here, on a connection with the given stored fields."""

    def run(conn_type: str, stored: dict[str, Any]) -> tuple[bool, str]:
        conn = {k: stored[k] for k in ("host", "port", "password", "extra")}
        monkeypatch.setenv(
            f"AIRFLOW_CONN_{TEST_CONN_ID.upper()}", json.dumps({"conn_type": conn_type, **conn})
        )
        hook = HOOKS[conn_type](TEST_CONN_ID)
        try:
            result: tuple[bool, str] = hook.test_connection()
        finally:
            hook.close()
        return result

    return run


def check_form(connections: ConnectionsPage, conn_type: str, filled: dict[str, str] | None = None) -> None:
    """Check every field of the open form against the metadata: labels, descriptions, placeholders, values."""
    entry = ENTRIES[conn_type]
    behaviour = entry["ui-field-behaviour"]
    for name, default_label in STANDARD_LABELS.items():
        control = connections.standard_input(name)
        if name in behaviour["hidden-fields"]:
            expect(control).to_have_count(0)
            continue
        assert connections.standard_label(name) == behaviour["relabeling"].get(name, default_label), name
        assert control.get_attribute("placeholder") == behaviour["placeholders"].get(name, ""), name
        if name != "password":
            assert control.input_value() == (filled or {}).get(name, ""), name
    assert connections.extra_names() == list(entry["conn-fields"])
    for name, spec in entry["conn-fields"].items():
        schema = spec["schema"]
        shown = connections.extra_field(name)
        assert (shown.label, shown.description) == (spec["label"], spec["description"]), name
        assert shown.required == ("null" not in schema["type"]), name
        examples = schema.get("examples", [])
        assert shown.examples == examples, name
        assert shown.placeholder == (EXAMPLES_PLACEHOLDER if examples else None), name
        default = schema.get("default")
        assert shown.value == (default if isinstance(default, bool) else default or ""), name


@pytest.mark.parametrize("conn_type", TYPES)
def test_add_form_shows_the_documented_fields_saves_defaults_and_tests(
    connections, airflow_ui, services, hook_says, conn_type
):
    conn_id = f"form_{conn_type}"
    target = targets(services)[conn_type]
    connections.open_add_form(conn_id, ENTRIES[conn_type]["hook-name"])
    check_form(connections, conn_type)
    connections.fill_standard(**target.fields)
    connections.save()

    stored = airflow_ui.api("GET", f"connections/{conn_id}")
    assert (stored["conn_type"], stored["host"], stored["port"]) == (conn_type, target.host, target.port)
    assert json.loads(stored["extra"]) == untouched_extra(conn_type)

    ok, shown = connections.test_connection(conn_id)
    expected_ok, expected = hook_says(conn_type, {**stored, "password": target.token})
    assert expected_ok, expected
    assert ok, shown
    assert says(expected, shown), (expected, shown)


@pytest.mark.parametrize("conn_type", TYPES)
def test_edit_form_shows_what_is_stored_and_a_wrong_token_fails_with_the_hooks_message(
    connections, airflow_ui, services, hook_says, conn_type
):
    conn_id = f"form_{conn_type}"
    target = targets(services)[conn_type]
    connections.open_edit_form(conn_id)
    check_form(connections, conn_type, filled={"host": target.host, "port": str(target.port)})
    wrong = f"wrong-{secrets.token_hex(12)}"
    connections.fill_standard(password=wrong)
    connections.save()

    stored = airflow_ui.api("GET", f"connections/{conn_id}")
    assert json.loads(stored["extra"]) == untouched_extra(conn_type)
    ok, shown = connections.test_connection(conn_id)
    expected_ok, expected = hook_says(conn_type, {**stored, "password": wrong})
    assert not expected_ok
    assert not ok, shown
    assert says(expected, shown), (expected, shown)
    assert wrong not in shown


OLD_EXTRA = {
    "ssl": None,
    "self_hosted": True,
    "verify": "/etc/ssl/certs/ca-certificates.crt",
    "clientId": "legacy-client",
}
"""A CloudTables connection's extras as forms and the README wrote them before: a CA path in ``verify``, a
boolean ``self_hosted``, ``ssl: null``."""


def test_an_old_connection_opens_saves_untouched_and_tests_as_before(
    connections, airflow_ui, services, hook_says
):
    conn_id, target = "form_cloudtables_old", targets(services)["cloudtables"]
    body = {"connection_id": conn_id, "conn_type": "cloudtables", **target.fields, "port": target.port}
    airflow_ui.api("POST", "connections", {**body, "extra": json.dumps(OLD_EXTRA)})
    connections.open_edit_form(conn_id)
    shown = {name: connections.extra_field(name).value for name in connections.extra_names()}
    # 3.3.2's Edit form shows only the extra fields a connection stores (new fields appear once set in
    # "Extra Fields JSON"); a stored null shows as off (here ssl: null, which still means https by default).
    assert set(shown) == set(OLD_EXTRA)
    assert shown["verify"] is True  # a path shows as on: verification is on, with that bundle
    assert shown["self_hosted"] == ""  # a boolean is none of the select's choices: shown empty, kept as is
    assert shown["clientId"] == "legacy-client"
    connections.save()

    stored = airflow_ui.api("GET", f"connections/{conn_id}")
    assert {k: v for k, v in json.loads(stored["extra"]).items() if k in OLD_EXTRA} == OLD_EXTRA
    ok, message = connections.test_connection(conn_id)
    expected_ok, expected = hook_says("cloudtables", {**stored, "password": target.token})
    assert expected_ok, expected
    assert "(self-hosted)" in expected
    assert ok, message
    assert says(expected, message), (expected, message)
