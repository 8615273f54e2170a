"""The Kloudless wire and connection settings, as plain functions: no hook, no network."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_cloud.exceptions import NotFoundError, UnexpectedResponseError
from airflow_provider_cloud.hooks.kloudless import oauth, wire
from airflow_provider_cloud.hooks.kloudless.settings import Settings

WHERE = "Connection 'kl'"


def settings(host_url: str | None = None, password: str | None = "tok", **extras: Any) -> Settings:
    return Settings(
        conn_id="kl", host_url=host_url, password=password, extras=extras, account_id=None, api_version=None
    )


# -- settings ------------------------------------------------------------------------------------------


def test_host_suffix_is_the_version_and_arguments_win():
    found = settings("https://kl.example/v2")
    assert (found.base_url, found.api_version) == ("https://kl.example", 2)
    assert settings(None, api_version="v3").api_version == 3
    assert settings(None).base_url == wire.DEFAULT_BASE_URL
    chosen = Settings(
        conn_id="kl", host_url=None, password="t", extras={"api_version": 3}, account_id=7, api_version=4
    )
    assert (chosen.api_version, chosen.account_id) == (4, "7")


def test_settings_are_read_on_first_use():
    app_wide = settings(password="key", auth_scheme="api-key", raw_headers="[1]")
    assert app_wide.auth_scheme == "APIKey"
    assert app_wide.base_url == wire.DEFAULT_BASE_URL  # no account needed for application URLs
    with pytest.raises(ValueError, match="numeric id of the account"):
        _ = app_wide.account_id
    with pytest.raises(ValueError, match="raw_headers"):
        app_wide.headers()


def test_headers_from_extras():
    found = settings(raw_data="false", as_user="u1", raw_headers='{"X-A": 1}')
    assert found.headers() == {
        "Authorization": "Bearer tok",
        "X-Kloudless-Raw-Data": "false",
        "X-Kloudless-As-User": "u1",
        "X-Kloudless-Raw-Headers": json.dumps({"X-A": "1"}),
    }
    assert settings(password=None).headers() == {}
    with pytest.raises(ValueError, match="raw_data"):
        settings(raw_data="maybe").headers()


def test_credential_api_key_and_client_id_name_what_is_missing():
    with pytest.raises(ValueError, match="has no password"):
        settings(password=" ").credential()
    with pytest.raises(ValueError, match="exchanging a code needs the application's API key"):
        settings().api_key("exchanging a code")
    assert settings(password="k", auth_scheme="APIKey").api_key("x") == "k"
    assert settings(app_id=" app-1 ").client_id(None, "client_id") == "app-1"
    assert settings(app_id="app-1").client_id("given", "client_id") == "given"
    with pytest.raises(ValueError, match="Give app_id="):
        settings().client_id(None, "app_id")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(lambda: wire.parse_api_version("0", WHERE), "api_version", id="version"),
        pytest.param(lambda: wire.parse_auth_scheme("Basic", WHERE), "auth_scheme", id="scheme"),
        pytest.param(
            lambda: wire.parse_account_id("../x", auth_scheme="Bearer", where=WHERE),
            "account_id",
            id="account",
        ),
        pytest.param(lambda: wire.check_page_size(True), "page_size", id="page-size"),
    ],
)
def test_bad_settings_name_the_connection_or_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# -- requests ------------------------------------------------------------------------------------------


def test_versioned_urls():
    assert wire.versioned_url("https://h", 1) == "https://h/v1"
    assert wire.versioned_url("https://h", 2, "/accounts/me/") == "https://h/v2/accounts/me/"


def test_raw_request():
    sent = wire.raw_request("get", "/about", data={"a": 1}, headers={"X-B": "2"}, raw_headers={"X-A": "1"})
    assert sent == {
        "data": '{"a": 1}',
        "headers": {
            "X-Kloudless-Raw-Method": "GET",
            "X-Kloudless-Raw-URI": "/about",
            "X-Kloudless-Raw-Headers": '{"X-A": "1", "X-B": "2"}',
            "Content-Type": "application/json",
        },
        "idempotent": True,
    }
    posted = wire.raw_request("POST", "/f", data=b"x", headers=None, raw_headers={"X-A": "1"})
    assert (posted["data"], posted["idempotent"]) == (b"x", False)
    assert "X-Kloudless-Raw-Headers" not in posted["headers"]


def test_account_object_and_its_description():
    account = wire.account_object({"id": 5, "account": "a@b.c", "service": "box"})
    assert wire.describe_account(account) == "account 5 (a@b.c, box)"
    assert wire.describe_account({"id": 6}) == "account 6 (unnamed, unknown service)"
    with pytest.raises(UnexpectedResponseError, match="not an account object"):
        wire.account_object([])


# -- error bodies ------------------------------------------------------------------------------------


def test_error_messages():
    assert wire.error_messages({"error_code": "not_found", "message": "No file."}) == ["not_found: No file."]
    assert wire.error_messages({"error": "invalid_grant", "error_description": "Used."}) == [
        "invalid_grant: Used."
    ]
    assert wire.error_messages({"message": "Only text."}) == ["Only text."]
    assert wire.error_messages({"detail": "not ours"}) is None
    assert wire.error_messages("text") is None
    assert wire.error_request_id({"id": 17}) == "17"
    assert wire.error_request_id({"id": ""}) is None


@pytest.mark.parametrize(
    ("message", "expired"),
    [
        ("cursor_expired: The cursor is too old.", True),
        ("CURSOR_EXPIRED", True),
        ("invalid_parameters: This cursor is past the retention period.", True),
        ("invalid_parameters: events retained for 7 days; cursor too old", True),
        ("invalid_parameters: page_size too large", False),
        ("invalid_parameters: retention settings", False),
    ],
)
def test_is_cursor_expired(message, expired):
    assert wire.is_cursor_expired(message) is expired


# -- object_list paging ------------------------------------------------------------------------------


def pages(*answers: Any):
    queries: list[dict[str, Any]] = []
    left = list(answers)

    def fetch(query: dict[str, Any]) -> Any:
        queries.append(query)
        answer = left.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return fetch, queries


def test_object_list_follows_next_page_and_resends_the_query():
    fetch, queries = pages(
        {"objects": [1, 2], "next_page": "p2"}, {"objects": [3], "next_page": None}, {"objects": [9]}
    )
    query = wire.first_query({"x": "y", "skip": None}, 2)
    assert list(wire.iter_object_list(fetch, query, where="GET /l")) == [1, 2, 3]
    assert queries == [{"x": "y", "page_size": 2}, {"x": "y", "page_size": 2, "page": "p2"}]


def test_object_list_counts_pages_and_ends_on_a_404_an_empty_page_or_a_repeat():
    gone = NotFoundError("no page", service="Kloudless", status_code=404)
    fetch, _ = pages({"objects": [1], "page": 1}, {"objects": [2], "page": 2}, gone)
    assert list(wire.iter_object_list(fetch, {}, where="GET /l")) == [1, 2]
    fetch, queries = pages({"objects": [1], "next_page": 4}, {"objects": [], "next_page": 5})
    assert list(wire.iter_object_list(fetch, {}, where="GET /l")) == [1]
    assert len(queries) == 2
    fetch, queries = pages({"objects": [1], "next_page": 3}, {"objects": [2], "next_page": 3})
    assert list(wire.iter_object_list(fetch, {"page": 1}, where="GET /l")) == [1, 2]
    fetch, _ = pages({"objects": [1]})
    assert list(wire.iter_object_list(fetch, {}, where="GET /l")) == [1]


def test_object_list_errors():
    fetch, _ = pages(NotFoundError("no folder", service="Kloudless", status_code=404))
    with pytest.raises(NotFoundError):
        list(wire.iter_object_list(fetch, {}, where="GET /l"))
    fetch, _ = pages({"items": []})
    with pytest.raises(UnexpectedResponseError, match="GET /l: the answer is not an object_list"):
        list(wire.iter_object_list(fetch, {}, where="GET /l"))


# -- OAuth ---------------------------------------------------------------------------------------------


def test_authorization_url_refuses_to_replace_named_parameters():
    with pytest.raises(ValueError, match=r"\['state'\]"):
        oauth.authorization_url(
            "https://h/v1/oauth", client_id="a", redirect_uri="r", scope="all", extra_params={"state": "x"}
        )


def test_states_match_only_when_both_are_there_and_equal():
    assert oauth.states_match("abc", "abc")
    assert not oauth.states_match("abc", "abd")
    assert not oauth.states_match(None, None)
    assert not oauth.states_match("", "")
    assert oauth.token_secrets({"access_token": "a", "refresh_token": "r", "scope": "s", "id_token": 1}) == [
        "a",
        "r",
    ]
