"""
Provider metadata that Airflow discovers through the ``apache_airflow_provider`` entry point.

The connection forms are declared here (``ui-field-behaviour`` and ``conn-fields``), read by Airflow 3.3's UI,
the docs' field tables and the browser test alike. What the 3.3.2 form does with them, and so how they are
written:

- ``placeholders`` reach only the standard fields (host, port, password); placeholders of extra fields are
  dropped by the API server. An extra string field shows suggestions from ``schema.examples`` instead (the
  UI then shows "Start typing to see options"); other hints go in the description.
- A field is marked required unless its type admits ``null``; a toggle or select shows ``schema.default``
  and an untouched form stores it, so every toggle and select has the default the hook applies.
- Port is shown for every type: the UI's Test button sends the stored port (``0`` for none), and the API
  server refuses a test whose port differs from the stored one, so a connection without a port cannot be
  tested from the UI.
"""

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
        "description": "Check the server's certificate (default on); turn off only for self-signed test servers.",
        "schema": {"type": ["boolean", "null"], "default": True},
    },
    "ca_bundle": {
        "label": "CA bundle (path)",
        "description": (
            "A PEM file of the certificate authorities to trust instead of the system's, at this path on every"
            " machine that runs the hook (workers, triggerer, API server); needs Verify on."
        ),
        "schema": {"type": ["string", "null"], "examples": ["/etc/ssl/certs/ca-certificates.crt"]},
    },
    "retry_limit": {
        "label": "Retries",
        "description": "Retries after the first attempt on connection errors, 429 and 502/503/504 (default 5).",
        "schema": {"type": ["integer", "null"], "minimum": 0},
    },
    "window": {
        "label": "Requests in flight",
        "description": (
            "Requests sent side by side over a slow link (default per service: Datasette 16, CloudTables 8,"
            " Kloudless 16; 1 sends one at a time; at most 64)."
        ),
        "schema": {"type": ["integer", "null"], "minimum": 1, "maximum": 64},
    },
}

_DATASETTE = {
    "hook-class-name": "airflow_provider_cloud.hooks.datasette.DatasetteHook",
    "connection-type": "datasette",
    "hook-name": "Datasette",
    "ui-field-behaviour": {
        "hidden-fields": ["schema", "login"],
        "relabeling": {"host": "Base URL", "password": "API token"},
        "placeholders": {
            "host": "https://myspace.datasette.cloud or http://127.0.0.1:8001",
            "port": "443 for https://, 80 for http://, or the port the server listens on",
            "password": "dstok_... or dsatok_...",
        },
    },
    "conn-fields": {
        "database": {
            "label": "Database",
            "description": "Default database; may be left empty when the server has only one.",
            "schema": {"type": ["string", "null"], "examples": ["data"]},
        },
        "max_insert_rows": {
            "label": "Max rows per write",
            "description": "Only when the server hides /-/settings.json (default: read from the server, else 100).",
            "schema": {"type": ["integer", "null"], "minimum": 1},
        },
        **_HTTP_EXTRAS,
    },
}

_KLOUDLESS = {
    "hook-class-name": "airflow_provider_cloud.hooks.kloudless.KloudlessHook",
    "connection-type": "kloudless",
    "hook-name": "Kloudless",
    "ui-field-behaviour": {
        "hidden-fields": ["schema", "login"],
        "relabeling": {"host": "API base URL", "password": "Bearer token or API key"},
        "placeholders": {
            "host": "https://api.kloudless.com (empty: the public API)",
            "port": "443 for https://, 80 for http://, or the port the server listens on",
            "password": "an account's Bearer token, or the application's API key",
        },
    },
    "conn-fields": {
        "auth_scheme": {
            "label": "Auth scheme",
            "description": "Bearer: the password is one account's token. APIKey: the application's API key.",
            "schema": {"type": "string", "enum": ["Bearer", "APIKey"], "default": "Bearer"},
        },
        "account_id": {
            "label": "Account id",
            "description": "me (the token's account, default) or a numeric account id; required with an API key.",
            "schema": {"type": ["string", "null"], "examples": ["me"]},
        },
        "api_version": {
            "label": "API version",
            "description": "The API version of request paths (default 1).",
            "schema": {"type": ["integer", "null"], "minimum": 1},
        },
        "raw_data": {
            "label": "Raw data",
            "description": "X-Kloudless-Raw-Data: include the upstream service's raw objects (default off).",
            "schema": {"type": ["boolean", "null"], "default": False},
        },
        "as_user": {
            "label": "Act as user",
            "description": "X-Kloudless-As-User: the upstream user id to impersonate (admin accounts).",
            "schema": {"type": ["string", "null"]},
        },
        "raw_headers": {
            "label": "Raw headers (JSON object)",
            "description": 'X-Kloudless-Raw-Headers: headers forwarded upstream, e.g. {"X-Custom": "value"}.',
            "schema": {"type": ["string", "null"]},
        },
        "app_id": {
            "label": "Application id",
            "description": "The OAuth client id, for token verification and authorization URLs.",
            "schema": {"type": ["string", "null"]},
        },
        **_HTTP_EXTRAS,
    },
}


_CLOUDTABLES = {
    "hook-class-name": "airflow_provider_cloud.hooks.cloudtables.CloudTablesHook",
    "connection-type": "cloudtables",
    "hook-name": "CloudTables",
    "ui-field-behaviour": {
        "hidden-fields": ["schema", "login"],
        "relabeling": {"host": "Host (sub-domain or self-hosted domain)", "password": "API key"},
        "placeholders": {
            "host": "acme.cloudtables.io, or tables.example.com when self-hosted",
            "port": "443 for https://, 80 for http://, or the port the server listens on",
            "password": "the API key from the CloudTables Security page",
        },
    },
    "conn-fields": {
        "clientId": {
            "label": "Client id",
            "description": "Who the calls are made for, for the CloudTables audit trail; default of minted tokens.",
            "schema": {"type": ["string", "null"], "examples": ["airflow"]},
        },
        "clientName": {
            "label": "Client name",
            "description": "Display name shown with the client id in the audit trail.",
            "schema": {"type": ["string", "null"], "examples": ["Airflow"]},
        },
        "roles": {
            "label": "Default roles",
            "description": "Roles of minted access tokens when a task gives none (comma-separated).",
            "schema": {"type": ["string", "null"], "examples": ["Viewer", "Viewer, Editor"]},
        },
        "rate_limit": {
            "label": "Rate limit (requests)",
            "description": "Requests allowed per rate window (default 500, the CloudTables limit); 0 turns pacing off.",
            "schema": {"type": ["integer", "null"], "minimum": 0},
        },
        "rate_window": {
            "label": "Rate window (s)",
            "description": "Seconds of the rate window (default 900: 500 requests per 15 minutes).",
            "schema": {"type": ["number", "null"], "exclusiveMinimum": 0},
        },
        "rate_budget_pool": {
            "label": "Rate budget pool",
            "description": (
                "An Airflow pool with one slot, shared by every task using this API key, so that together they"
                " keep within the key's rate limit; empty: each task paces itself alone."
            ),
            "schema": {"type": ["string", "null"]},
        },
        "self_hosted": {
            "label": "Self-hosted",
            "description": (
                "self-hosted: the /io paths of a self-hosted server; hosted: a hosted application; auto"
                " (default): hosted when the host is under the hosted domain below."
            ),
            "schema": {
                "type": ["string", "null"],
                "enum": ["auto", "self-hosted", "hosted"],
                "default": "auto",
            },
        },
        "domain": {
            "label": "Hosted domain",
            "description": "Hosts under this domain are hosted applications (default cloudtables.io).",
            "schema": {"type": ["string", "null"]},
        },
        "ssl": {
            "label": "HTTPS",
            "description": (
                "Use https:// for a host written without a scheme (default on). A host written with http:// or"
                " https:// keeps its scheme; off beside an https:// host is an error."
            ),
            "schema": {"type": ["boolean", "null"], "default": True},
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
            {
                "integration-name": "Kloudless",
                "external-doc-url": "https://developers.kloudless.com/docs/v1/core",
                "tags": ["service"],
            },
            {
                "integration-name": "CloudTables",
                "external-doc-url": "https://cloudtables.com/docs/api",
                "tags": ["service"],
            },
        ],
        "hooks": [
            {"integration-name": "Datasette", "python-modules": ["airflow_provider_cloud.hooks.datasette"]},
            {"integration-name": "Kloudless", "python-modules": ["airflow_provider_cloud.hooks.kloudless"]},
            {
                "integration-name": "CloudTables",
                "python-modules": ["airflow_provider_cloud.hooks.cloudtables"],
            },
        ],
        "operators": [
            {
                "integration-name": "Datasette",
                "python-modules": [
                    "airflow_provider_cloud.operators.rows",
                    "airflow_provider_cloud.operators.cleanup",
                ],
            },
            {
                "integration-name": "CloudTables",
                "python-modules": ["airflow_provider_cloud.operators.cloudtables"],
            },
            {
                "integration-name": "Kloudless",
                "python-modules": [
                    "airflow_provider_cloud.operators.cursor",
                    "airflow_provider_cloud.operators.kloudless",
                ],
            },
        ],
        "sensors": [
            {"integration-name": "Kloudless", "python-modules": ["airflow_provider_cloud.sensors.kloudless"]},
        ],
        "triggers": [
            {
                "integration-name": "Kloudless",
                "python-modules": [
                    "airflow_provider_cloud.triggers.kloudless",
                    "airflow_provider_cloud.triggers.kloudless_events",
                ],
            },
        ],
        "filesystems": ["airflow_provider_cloud.fs.kloudless"],
        "connection-types": [_DATASETTE, _KLOUDLESS, _CLOUDTABLES],
        "asset-uris": [
            {
                "schemes": [scheme],
                "handler": f"airflow_provider_cloud.assets.normalize_{scheme}",
                "factory": f"airflow_provider_cloud.assets.create_{scheme}_asset",
                "to_openlineage_converter": "airflow_provider_cloud.assets.convert_asset_to_openlineage",
            }
            for scheme in ("datasette", "cloudtables", "kloudless")
        ],
        "extra-links": ["airflow_provider_cloud.operators.links.DatasetteTableLink"],
    }
