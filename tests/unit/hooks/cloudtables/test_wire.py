"""CloudTables wire details that need no server: endpoints, script tags, values, conditions, error bodies."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from airflow_provider_cloud.exceptions import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    RateLimitError,
    UnexpectedResponseError,
)
from airflow_provider_cloud.hooks.cloudtables.wire import (
    SCRIPT_STYLES,
    access_form,
    answer_part,
    body_error,
    body_failed,
    client_pairs,
    endpoint_from_connection,
    error_messages,
    form_pairs,
    form_value,
    key_header,
    normalize_conditions,
    request_parts,
    response_data,
    role_list,
    script_tag,
)


def endpoint(host: str, port: int | None = None, **extras: Any):
    return endpoint_from_connection(host, port=port, schema=None, extras=extras, conn_id="c")


@pytest.mark.parametrize(
    ("host", "extras", "base", "hosted"),
    [
        ("acme.cloudtables.io", {}, "https://acme.cloudtables.io", True),
        ("https://ACME.CloudTables.io/", {}, "https://ACME.CloudTables.io", True),
        ("tables.example.com", {}, "https://tables.example.com", False),
        ("cloudtables.io", {}, "https://cloudtables.io", False),  # not a sub-domain
        ("tables.example.com", {"ssl": "false"}, "http://tables.example.com", False),
        ("http://10.0.0.5/apps/ct", {}, "http://10.0.0.5/apps/ct", False),
        (
            "acme.tables.example.com",
            {"domain": "tables.example.com"},
            "https://acme.tables.example.com",
            True,
        ),
        ("acme.cloudtables.io", {"self_hosted": True}, "https://acme.cloudtables.io", False),
        ("http://127.0.0.1:8123", {"self_hosted": "false"}, "http://127.0.0.1:8123", True),
        # what an untouched 3.3.2 form stores: ssl on and self_hosted auto; a host with a scheme keeps it
        ("http://127.0.0.1:8123", {"ssl": True, "self_hosted": "auto"}, "http://127.0.0.1:8123", False),
        ("acme.cloudtables.io", {"ssl": True, "self_hosted": "auto"}, "https://acme.cloudtables.io", True),
        ("tables.example.com", {"ssl": None, "self_hosted": None}, "https://tables.example.com", False),
        ("tables.example.com", {"self_hosted": "hosted"}, "https://tables.example.com", True),
        ("acme.cloudtables.io", {"self_hosted": "self-hosted"}, "https://acme.cloudtables.io", False),
    ],
)
def test_endpoint_from_the_connection(host, extras, base, hosted):
    found = endpoint(host, **extras)
    assert found.base == base
    assert found.hosted is hosted
    assert found.api_path("dataset", "a b") == ("" if hosted else "/io") + "/api/1/dataset/a%20b"


def test_endpoint_port_and_bad_settings():
    assert endpoint("tables.example.com", port=8443).base == "https://tables.example.com:8443"
    assert endpoint("tables.example.com:9000", port=8443).base == "https://tables.example.com:9000"
    assert endpoint("acme.cloudtables.io", port=443).base == "https://acme.cloudtables.io"
    with pytest.raises(
        ValueError, match="Connection 'c': extra 'self_hosted' must be one of auto, self-hosted"
    ):
        endpoint("tables.example.com", self_hosted="sometimes")
    with pytest.raises(ValueError, match="no host"):
        endpoint(" ")
    with pytest.raises(ValueError, match="'ssl' extra"):
        endpoint("https://acme.cloudtables.io", ssl=False)
    with pytest.raises(ValueError, match="http or https"):
        endpoint("ftp://acme.cloudtables.io")


@pytest.mark.parametrize("style", SCRIPT_STYLES)
def test_script_tags_hosted_and_self_hosted(style):
    hosted = script_tag(endpoint("acme.cloudtables.io"), "ds-1", "tok", style)
    assert (
        hosted
        == f'<script src="https://acme.cloudtables.io/loader/ds-1/table/{style}" data-token="tok"></script>'
    )
    own = script_tag(endpoint("tables.example.com"), "ds-1", 'a"b<', style)
    assert (
        own
        == f'<script src="https://tables.example.com/io/loader/ds-1/table/{style}" data-token="a&quot;b&lt;"></script>'
    )


def test_script_tag_refuses_unknown_styles():
    with pytest.raises(ValueError, match="d, auto, bs, bs4, dt, zf, ju, se, no"):
        script_tag(endpoint("acme.cloudtables.io"), "ds-1", "tok", "bootstrap")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (True, "true"),
        (False, "false"),
        (5, "5"),
        (5.0, "5"),
        (2.5, "2.5"),
        ("x", "x"),
        (dt.date(2024, 5, 1), "2024-05-01"),
        ([1, 2], "[1,2]"),
    ],
)
def test_form_values(value, text):
    assert form_value(value) == text


def test_form_value_refuses_what_cannot_be_sent():
    with pytest.raises(ValueError, match="finite"):
        form_value(float("nan"))
    with pytest.raises(ValueError, match="bytes"):
        form_value(b"x")


def test_conditions_in_every_accepted_form():
    one = {"name": "Open", "value": True}
    assert normalize_conditions(one) == [one]
    assert normalize_conditions([one, {"id": "dp-2", "value": 3, "op": ">"}])[1]["op"] == ">"
    assert normalize_conditions('{"name": "Open", "value": true}') == [one]
    assert normalize_conditions({"Open": True, "dp-4": "x"}) == [one, {"id": "dp-4", "value": "x"}]
    assert normalize_conditions(None) == []
    with pytest.raises(ValueError, match="op"):
        normalize_conditions([{"name": "Open", "value": 1, "op": "like"}])
    with pytest.raises(ValueError, match="needs an id or a name"):
        normalize_conditions([{"value": 1}])


def test_failed_bodies_and_their_messages():
    assert not body_failed({"data": [], "success": True})
    assert body_failed({"success": False})
    assert body_failed({"data": {}, "fieldErrors": [{"name": "dp-1", "status": "bad"}]})
    assert not body_failed({"error": ""})
    body = {
        "error": "no",
        "errors": [{"msg": "m", "name": "roles"}],
        "fieldErrors": [{"name": "dp-1", "status": "s"}],
    }
    assert error_messages(body, {"dp-1": "Name"}) == ["no", "roles: m", "Name (dp-1): s"]
    assert error_messages({"success": False}, {}) == ["the service answered success: false"]


def test_the_key_goes_in_its_own_header():
    assert key_header(" k-1 ") == {"key": "k-1"}
    assert key_header(None) == key_header("  ") == {}


def test_client_pairs_ride_in_the_query_and_conditions_where_the_method_keeps_them():
    client = client_pairs({"clientId": "u1", "clientName": "", "roles": "x"})
    assert client == [("clientId", "u1")]
    conditions = [{"id": "dp-1", "value": 1}]
    sent = '[{"id":"dp-1","value":1}]'
    for method in ("GET", "DELETE"):
        query, body = request_parts(method, client=client, form=[], conditions=conditions)
        assert (query, body) == ([("clientId", "u1"), ("conditions", sent)], [])
    for method in ("POST", "PUT"):
        query, body = request_parts(method, client=client, form=[("dp-1", "x")], conditions=conditions)
        assert (query, body) == ([("clientId", "u1")], [("dp-1", "x"), ("conditions", sent)])
    assert request_parts("GET", client=[], form=[], conditions=[]) == ([], [])


def test_form_pairs_send_one_pair_per_linked_row_and_an_empty_list_to_clear():
    fields = {"dp-1": 2.0, "l-3": [4, 5], "l-6": []}
    assert form_pairs(fields) == [("dp-1", "2"), ("l-3", "4"), ("l-3", "5"), ("l-6", "[]")]


def test_roles_and_the_access_form():
    assert role_list("Viewer, Auditor") == role_list('["Viewer", "Auditor"]') == ["Viewer", "Auditor"]
    assert role_list(None) == []
    with pytest.raises(ValueError, match="role names"):
        role_list([1])  # type: ignore[list-item]
    form = access_form(
        roles=["a", "b"], duration="60", client_id="u1", client_name=None, client_meta={"x": 1}
    )
    assert form == [
        ("roles", "a"),
        ("roles", "b"),
        ("duration", "60"),
        ("clientId", "u1"),
        ("clientMeta", '{"x": 1}'),
    ]
    with pytest.raises(ValueError, match="0 or more"):
        access_form(roles=[], duration=-1, client_id=None, client_name=None, client_meta=None)


@pytest.mark.parametrize(
    ("body", "cls"),
    [
        ({"error": "Invalid API key"}, AuthenticationError),
        ({"error": "Rate limit reached"}, RateLimitError),
        ({"error": "Data set x does not exist"}, NotFoundError),
        ({"error": "Data set x does not exist", "fieldErrors": [{"name": "dp-1"}]}, BadRequestError),
        ({"success": False}, BadRequestError),
    ],
)
def test_a_failure_in_a_body_gets_a_class_from_its_words(body, cls):
    errors = error_messages(body, {})
    error = body_error(body, errors, where="GET /api/1/datasets", status_code=200, request_id="r1")
    assert type(error) is cls
    assert (error.service, error.message) == ("CloudTables", f"GET /api/1/datasets failed: {errors[0]}")
    assert (error.status_code, error.request_id, error.errors, error.retryable) == (200, "r1", errors, False)


def test_answer_parts_name_what_is_missing():
    assert answer_part({"token": "t"}, "token", str, "no token") == "t"
    for payload in ({"token": ""}, {"token": 3}, [], None):
        with pytest.raises(UnexpectedResponseError, match="no token"):
            answer_part(payload, "token", str, "no token")
    assert response_data({"data": {"id": 1}}) == {"id": 1}
    with pytest.raises(UnexpectedResponseError, match="no 'data' row"):
        response_data({"data": []})
