"""The provider is discoverable by Airflow and every class path it declares imports."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from importlib.metadata import entry_points

import pytest

from airflow_provider_cloud import __version__
from airflow_provider_cloud.get_provider_info import get_provider_info
from airflow_provider_cloud.hooks.core import MAX_WINDOW


def _import_path(path: str) -> object:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def test_entry_point_returns_provider_info():
    (ep,) = [
        e
        for e in entry_points(group="apache_airflow_provider")
        if e.value.startswith("airflow_provider_cloud")
    ]
    info = ep.load()()
    assert info["package-name"] == "airflow-provider-cloud"
    assert info["versions"] == [__version__]


def test_provider_info_is_valid_for_airflow():
    from airflow.providers_manager import _create_provider_info_schema_validator

    _create_provider_info_schema_validator().validate(get_provider_info())


@pytest.mark.parametrize("entry", get_provider_info()["connection-types"], ids=lambda e: e["connection-type"])
def test_connection_types_match_their_hooks(entry):
    hook = _import_path(entry["hook-class-name"])
    assert hook.conn_type == entry["connection-type"]
    assert hook.default_conn_name == f"{entry['connection-type']}_default"
    assert hasattr(hook, "test_connection")
    hidden = set(entry["ui-field-behaviour"]["hidden-fields"])
    assert "password" not in hidden
    assert hidden <= {"description", "host", "port", "login", "password", "schema", "extra"}
    for name, field in entry["conn-fields"].items():
        assert field["label"], name
        assert "type" in field["schema"], name


def test_declared_modules_import():
    info = get_provider_info()
    for kind in ("hooks", "operators", "sensors", "triggers"):
        for group in info.get(kind, []):
            for module in group["python-modules"]:
                importlib.import_module(module)


def test_the_kloudless_scheme_reaches_airflows_object_storage():
    from airflow.sdk.io import get_fs, has_fs

    from airflow_provider_cloud.fs.kloudless import KloudlessFileSystem

    modules = get_provider_info()["filesystems"]
    assert modules == ["airflow_provider_cloud.fs.kloudless"]
    assert importlib.import_module(modules[0]).schemes == ["kloudless"]
    assert has_fs("kloudless")
    fs = get_fs("kloudless", "some_conn", {"block_size": 1024})
    assert isinstance(fs, KloudlessFileSystem)
    assert (fs.conn_id, fs.blocksize) == ("some_conn", 1024)


def test_airflow_cli_shows_the_provider():
    done = subprocess.run(
        [sys.executable, "-m", "airflow", "providers", "get", "airflow-provider-cloud", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    shown = json.loads(done.stdout)
    assert shown == [{"Provider": "airflow-provider-cloud", "Version": __version__}]
    hooks = subprocess.run(
        [sys.executable, "-m", "airflow", "providers", "hooks", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    types = {row["connection_type"]: row for row in json.loads(hooks.stdout)}
    assert types["datasette"]["class"] == "airflow_provider_cloud.hooks.datasette.DatasetteHook"


@pytest.mark.parametrize("entry", get_provider_info()["connection-types"], ids=lambda e: e["connection-type"])
def test_the_window_field_names_each_services_default(entry):
    hook = _import_path(entry["hook-class-name"])
    field = entry["conn-fields"]["window"]
    assert f"{entry['hook-name']} {hook.default_window}" in field["description"]
    assert field["schema"]["maximum"] == MAX_WINDOW


# -- the connection form, as Airflow 3.3.2's UI renders it -----------------------------------------------

_STANDARD_FIELDS = {"description", "host", "port", "login", "password", "schema"}


def _types(field: dict) -> list[str]:
    kind = field["schema"]["type"]
    return kind if isinstance(kind, list) else [kind]


@pytest.mark.parametrize("entry", get_provider_info()["connection-types"], ids=lambda e: e["connection-type"])
def test_every_form_shows_port_and_says_what_it_means(entry):
    # The UI's Test button sends the stored port (0 for none) and the API server refuses a port that differs
    # from the stored one: a type whose form hides Port can never be tested from the UI.
    behaviour = entry["ui-field-behaviour"]
    assert "port" not in behaviour["hidden-fields"]
    assert behaviour["placeholders"]["port"].startswith("443 for https://, 80 for http://")


@pytest.mark.parametrize("entry", get_provider_info()["connection-types"], ids=lambda e: e["connection-type"])
def test_placeholders_are_declared_only_where_the_form_shows_them(entry):
    # Airflow 3.3.2 keeps placeholders of the standard fields only; an extra field's hint is its examples
    # (offered as suggestions) or its description.
    behaviour = entry["ui-field-behaviour"]
    shown = _STANDARD_FIELDS - set(behaviour["hidden-fields"])
    assert set(behaviour["placeholders"]) <= shown
    for name, field in entry["conn-fields"].items():
        if "examples" in field["schema"]:
            assert _types(field)[0] == "string", name
            assert all(isinstance(example, str) and example for example in field["schema"]["examples"]), name


@pytest.mark.parametrize("entry", get_provider_info()["connection-types"], ids=lambda e: e["connection-type"])
def test_toggles_and_selects_have_the_hooks_defaults_and_nothing_else_is_required(entry):
    # A toggle shows off for null and a select shows nothing: each needs its real default, which an
    # untouched form then stores. A type without null is marked required by the form.
    for name, field in entry["conn-fields"].items():
        schema = field["schema"]
        if "boolean" in _types(field) or "enum" in schema:
            assert "default" in schema, name
            assert schema["default"] in schema.get("enum", [True, False]), name
        if "null" not in _types(field):
            assert "enum" in schema, f"{name} is required without a choice"


def test_the_fields_of_each_type():
    fields = {e["connection-type"]: set(e["conn-fields"]) for e in get_provider_info()["connection-types"]}
    http = {"timeout", "connect_timeout", "verify", "ca_bundle", "retry_limit", "window"}
    assert fields["datasette"] == http | {"database", "max_insert_rows"}
    assert fields["kloudless"] == http | {
        "auth_scheme",
        "account_id",
        "api_version",
        "raw_data",
        "as_user",
        "raw_headers",
        "app_id",
    }
    assert fields["cloudtables"] == http | {
        "clientId",
        "clientName",
        "roles",
        "rate_limit",
        "rate_window",
        "rate_budget_pool",
        "self_hosted",
        "domain",
        "ssl",
    }


def test_airflows_form_metadata_carries_placeholders_examples_and_defaults():
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    metas = {meta.connection_type: meta for meta in HookMetaService.hook_meta_data()}
    for entry in get_provider_info()["connection-types"]:
        meta = metas[entry["connection-type"]]
        placeholders = entry["ui-field-behaviour"]["placeholders"]
        assert meta.standard_fields is not None
        assert meta.standard_fields.port is not None
        assert meta.standard_fields.port.hidden is False
        assert meta.standard_fields.port.placeholder == placeholders["port"]
        extra = dict(meta.extra_fields or {})
        assert set(extra) == set(entry["conn-fields"])
        for name, field in entry["conn-fields"].items():
            assert extra[name]["value"] == field["schema"].get("default"), name
            assert extra[name]["schema"].get("examples") == field["schema"].get("examples"), name
            assert extra[name]["schema"]["title"] == field["label"], name
            assert extra[name]["description"] == field["description"], name
