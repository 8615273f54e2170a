"""Provider metadata that Airflow discovers through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any

from airflow_provider_cloud import __version__

_HTTP_EXTRAS: dict[str, Any] = {
    "timeout": {
        "label": "Read timeout (s)",
        "description": "Seconds to wait for an answer (default 60).",
        "schema": {"type": ["number", "null"]},
    },
    "connect_timeout": {
        "label": "Connect timeout (s)",
        "description": "Seconds to wait for a connection (default 10).",
        "schema": {"type": ["number", "null"]},
    },
    "verify": {
        "label": "Verify TLS certificates",
        "description": "Turn off only for self-signed test servers.",
        "schema": {"type": "boolean", "default": True},
    },
    "retry_limit": {
        "label": "Retries",
        "description": "Retries after the first attempt on connection errors, 429 and 502/503/504 (default 5).",
        "schema": {"type": ["integer", "null"], "minimum": 0},
    },
}

_DATASETTE = {
    "hook-class-name": "airflow_provider_cloud.hooks.datasette.DatasetteHook",
    "connection-type": "datasette",
    "hook-name": "Datasette",
    "ui-field-behaviour": {
        "hidden-fields": ["schema", "port", "login"],
        "relabeling": {"host": "Base URL", "password": "API token"},
        "placeholders": {
            "host": "https://myspace.datasette.cloud or http://127.0.0.1:8001",
            "password": "dstok_... or dsatok_...",
            "database": "data",
        },
    },
    "conn-fields": {
        "database": {
            "label": "Database",
            "description": "Default database; may be left empty when the server has only one.",
            "schema": {"type": ["string", "null"]},
        },
        "max_insert_rows": {
            "label": "Max rows per write",
            "description": "Only when the server hides /-/settings.json (default: read from the server, else 100).",
            "schema": {"type": ["integer", "null"], "minimum": 1},
        },
        **_HTTP_EXTRAS,
    },
}


def get_provider_info() -> dict[str, Any]:
    """Return the provider's metadata for Airflow's ProvidersManager."""
    return {
        "package-name": "airflow-provider-cloud",
        "name": "Cloud data APIs (Datasette, CloudTables, Kloudless)",
        "description": "Hooks, operators, sensors and triggers for Datasette, CloudTables and Kloudless.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Datasette",
                "external-doc-url": "https://docs.datasette.io/en/latest/json_api.html",
                "tags": ["service"],
            },
        ],
        "hooks": [
            {"integration-name": "Datasette", "python-modules": ["airflow_provider_cloud.hooks.datasette"]},
        ],
        "connection-types": [_DATASETTE],
    }
