"""HTTP core: secrets masked in Airflow's logs and scrubbed from every error text."""

from __future__ import annotations

import pytest
from airflow.sdk.log import redact

from airflow_provider_cloud.exceptions import ApiConnectionError, AuthenticationError, CloudApiError
from airflow_provider_cloud.hooks.core import secrets as core_secrets
from tests.fake_transport import Reply, connection_refused
from tests.unit.hooks.core.core_support import TOKEN, set_connection

# -- secrets -------------------------------------------------------------------------------------


def test_the_connection_password_is_registered_with_the_masker(make_hook, monkeypatch):
    masked: list[str] = []
    monkeypatch.setattr(core_secrets, "mask_secret", masked.append)
    hook, _ = make_hook()
    assert TOKEN in masked
    assert hook.scrub(f"Authorization: Bearer {TOKEN}") == "Authorization: Bearer ***"
    assert redact(f"token {TOKEN}") == "token ***"


def test_a_registered_minted_token_is_masked_in_airflow_logs(make_hook):
    hook, _ = make_hook()
    minted = "minted-embed-token-0123456789"
    hook.register_secret(minted)
    hook.register_secret(None)
    hook.register_secret("")
    assert redact(f"got {minted}") == "got ***"
    assert hook.scrub(f"got {minted} and {TOKEN}") == "got *** and ***"


def test_a_secret_echoed_in_an_error_body_is_hidden(make_hook):
    body = {
        "ok": False,
        "error": f"Invalid token: {TOKEN}",
        "errors": [f"Invalid token: {TOKEN}"],
        "status": 401,
    }
    hook, _ = make_hook(Reply(401, json=body))
    with pytest.raises(AuthenticationError) as info:
        hook.request("GET", "/-/actor.json")
    assert TOKEN not in str(info.value)
    assert TOKEN not in repr(info.value)
    assert TOKEN not in " ".join(info.value.errors)
    assert "Invalid token: ***" in str(info.value)


def test_a_secret_in_the_url_of_a_transport_error_is_hidden(make_hook, logged):
    hook, _ = make_hook(connection_refused, connection_refused, retry_limit=1)
    with pytest.raises(ApiConnectionError) as info:
        hook.request("GET", f"/db.json?_auth={TOKEN}")
    assert "Connection refused" in str(info.value)
    assert TOKEN not in str(info.value)
    assert len(logged()) == 1
    assert "Connection refused" in logged()[0][1]
    assert TOKEN not in logged()[0][1]


def test_a_token_with_a_trailing_newline_does_not_leak_through_requests(make_hook, monkeypatch):
    # requests rejects the header and quotes it (newline escaped) in its own error message.
    token = "pasted-token-with-newline"
    set_connection(monkeypatch, password=token + "\n")
    hook, fake = make_hook()
    with pytest.raises(CloudApiError) as info:
        hook.request("GET", "/x")
    assert type(info.value) is CloudApiError
    assert str(info.value).startswith("test: GET /x: the request failed: Invalid leading whitespace")
    assert token not in str(info.value)
    assert info.value.retryable is False
    assert fake.sent == []
    assert redact(f"header value: 'Bearer {token}\\n'") == "header value: 'Bearer ***\\n'"


@pytest.mark.parametrize("password", ["x", "ab", "abcd"])
def test_a_secret_shorter_than_airflows_minimum_is_not_scrubbed_from_every_word(
    make_hook, monkeypatch, password
):
    set_connection(monkeypatch, password=password)
    hook, _ = make_hook()
    assert hook.connection.password == password
    text = "Max retries exceeded with url: /abcd/x"
    assert hook.scrub(text) == text  # "Ma*** retries e***ceeded" would hide nothing and garble everything


def test_a_secret_of_the_minimum_length_is_scrubbed(make_hook, monkeypatch):
    set_connection(monkeypatch, password="abcde")
    hook, _ = make_hook()
    assert hook.connection.password == "abcde"
    assert hook.scrub("token abcde!") == "token ***!"
