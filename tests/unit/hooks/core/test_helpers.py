"""HTTP core helpers: Retry-After parsing, base URLs from connections, booleans from extras."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from airflow.sdk import Connection

from airflow_provider_cloud.hooks.core import base_url_from_connection, coerce_bool, parse_retry_after
from tests.unit.hooks.core.core_support import CONN_ID, ExampleHook, set_connection

# -- helpers -------------------------------------------------------------------------------------

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7", 7.0),
        (" 7 ", 7.0),
        ("1.5", 1.5),
        ("0", 0.0),
        ("-4", 0.0),
        (None, None),
        ("", None),
        ("   ", None),
        ("soon", None),
        ("Fri, 02 Jan 2026 03:04:25 GMT", 20.0),
        ("Fri, 02 Jan 2026 03:04:25 -0000", 20.0),
        ("Fri, 02 Jan 2026 03:00:00 GMT", 0.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
    ],
)
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value, now=NOW) == expected


def test_parse_retry_after_defaults_to_the_current_time():
    when = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    wait = parse_retry_after(when)
    assert wait is not None
    assert 28.0 <= wait <= 31.0


def _conn(**fields: Any) -> Connection:
    return Connection(conn_id="svc", conn_type="http", **fields)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param({"host": "https://api.example.test"}, "https://api.example.test", id="full-url"),
        pytest.param(
            {"host": "https://api.example.test/base/"}, "https://api.example.test/base", id="url-path"
        ),
        pytest.param({"host": "http://127.0.0.1", "port": 8001}, "http://127.0.0.1:8001", id="url-plus-port"),
        pytest.param(
            {"host": "https://h.test:9000", "port": 8001}, "https://h.test:9000", id="url-port-wins"
        ),
        pytest.param({"host": "http://[::1]", "port": 8001}, "http://[::1]:8001", id="ipv6"),
        pytest.param(
            {"host": "api.example.test", "schema": "http", "port": 8001},
            "http://api.example.test:8001",
            id="host-schema-port",
        ),
        pytest.param({"host": "api.example.test"}, "https://api.example.test", id="bare-host-https"),
        pytest.param(
            {"host": "api.example.test", "schema": "db"}, "https://api.example.test", id="odd-schema"
        ),
        pytest.param(
            {"host": "127.0.0.1/prefix/", "port": 8001},
            "https://127.0.0.1:8001/prefix",
            id="bare-host-path-port",
        ),
        pytest.param({"host": " api.example.test/ "}, "https://api.example.test", id="whitespace"),
        pytest.param({"host": "https://h.test", "port": 443}, "https://h.test", id="https-own-port"),
        pytest.param({"host": "http://h.test/p", "port": 80}, "http://h.test/p", id="http-own-port"),
        pytest.param({"host": "http://h.test", "port": 443}, "http://h.test:443", id="https-port-on-http"),
        pytest.param(
            {"host": "https://h.test:8001", "port": 8001}, "https://h.test:8001", id="url-and-port-agree"
        ),
        pytest.param({"host": "h.test", "port": 0}, "https://h.test", id="port-zero-is-none"),
    ],
)
def test_base_url_from_connection(fields, expected):
    assert base_url_from_connection(_conn(**fields)) == expected


def test_base_url_default_scheme_can_be_http():
    assert base_url_from_connection(_conn(host="localhost"), default_scheme="http") == "http://localhost"


@pytest.mark.parametrize("host", [None, "", "   "])
def test_base_url_without_host_is_a_clear_error(host):
    with pytest.raises(ValueError, match="Connection 'svc' has no host: set it to the service's base URL"):
        base_url_from_connection(_conn(host=host))


def test_hook_base_url_without_host_is_a_clear_error(monkeypatch):
    set_connection(monkeypatch, host=None)
    hook = ExampleHook(CONN_ID)
    with pytest.raises(ValueError, match="'test_api' has no host"):
        hook.request("GET", "/x")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        ("true", True),
        ("True", True),
        (" yes ", True),
        ("on", True),
        ("1", True),
        (1, True),
        ("false", False),
        ("FALSE", False),
        ("no", False),
        ("off", False),
        ("0", False),
        (0, False),
    ],
)
def test_coerce_bool(value, expected):
    assert coerce_bool(value, default=not expected) is expected


@pytest.mark.parametrize("default", [True, False])
def test_coerce_bool_blank_gives_the_default(default):
    assert coerce_bool(None, default=default) is default
    assert coerce_bool("", default=default) is default


def test_coerce_bool_refuses_other_values():
    with pytest.raises(ValueError, match="not a boolean: 'maybe'"):
        coerce_bool("maybe", default=True)
