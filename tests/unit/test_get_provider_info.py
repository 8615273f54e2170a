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
