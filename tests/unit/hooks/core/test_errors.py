"""HTTP core: failures mapped to typed errors, and JSON bodies decoded (fake transport)."""

from __future__ import annotations

import math
import pickle
from typing import Any

import pytest
import requests

from airflow_provider_cloud.exceptions import (
    ApiResponseError,
    AuthenticationError,
    BadRequestError,
    CloudApiError,
    ConflictError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    TokenExpiredError,
    UnexpectedResponseError,
)
from tests.fake_transport import FakeTransport, Reply
from tests.unit.hooks.core.core_support import CONN_ID, DATASETTE_400, TOKEN, ExampleHook, ok

# -- error mapping -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (413, PayloadTooLargeError),
        (422, BadRequestError),
        (429, RateLimitError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (418, ApiResponseError),
    ],
)
def test_each_status_maps_to_its_error_class(make_hook, status, error_class):
    body = {"ok": False, "error": "went wrong", "errors": ["went wrong"], "status": status}
    hook, _ = make_hook(Reply(status, json=body), retry_limit=0)
    with pytest.raises(CloudApiError) as info:
        hook.request("GET", "/db/t.json")
    error = info.value
    assert type(error) is error_class
    assert error.status_code == status
    assert error.service == "test"
    assert error.errors == ["went wrong"]
    assert error.retryable is (status in (429, 500, 502, 503))  # GET is safe to repeat
    assert str(error) == f"test: GET /db/t.json failed: went wrong (HTTP {status})"


def test_401_with_an_expired_token_is_token_expired_error(make_hook):
    body = {"ok": False, "error": "Token has expired", "errors": ["Token has expired"], "status": 401}
    hook, fake = make_hook(
        Reply(401, json=body, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    )
    with pytest.raises(TokenExpiredError) as info:
        hook.request("GET", "/-/actor.json")
    assert isinstance(info.value, AuthenticationError)
    assert info.value.status_code == 401
    assert info.value.retryable is False
    assert len(fake.sent) == 1


def test_429_carries_retry_after(make_hook):
    hook, _ = make_hook(Reply(429, json={"error": "slow down"}, headers={"Retry-After": "7"}), retry_limit=0)
    with pytest.raises(RateLimitError) as info:
        hook.request("GET", "/x")
    assert info.value.retry_after == 7.0
    assert info.value.retryable is True


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        pytest.param(Reply(400, json=DATASETTE_400), ["a", "b"], id="datasette"),
        pytest.param(
            Reply(400, json={"errors": [{"msg": "Unknown data point", "name": "dp-9"}]}),
            ["dp-9: Unknown data point"],
            id="cloudtables-errors",
        ),
        pytest.param(Reply(400, json={"error": "x"}), ["x"], id="cloudtables-error"),
        pytest.param(
            Reply(
                400,
                json={"status_code": 400, "error_code": "bad_request", "message": "Bad name", "id": "kl-1"},
            ),
            ["Bad name"],
            id="kloudless",
        ),
        pytest.param(
            Reply(
                400,
                body="<html><body><h1>400 Bad Request</h1></body></html>",
                headers={"Content-Type": "text/html"},
            ),
            ["<html><body><h1>400 Bad Request</h1></body></html>"],
            id="html",
        ),
        pytest.param(Reply(400), [], id="empty"),
        pytest.param(Reply(400, json=["odd", "list"]), [], id="json-list"),
    ],
)
def test_error_messages_are_read_from_each_body_shape(make_hook, body, errors):
    hook, _ = make_hook(body)
    with pytest.raises(BadRequestError) as info:
        hook.request("POST", "/x")
    assert info.value.errors == errors
    assert info.value.status_code == 400
    text = str(info.value)
    assert text.startswith("test: POST /x failed")
    assert "(HTTP 400)" in text
    assert all(e in text for e in errors)


def test_a_long_html_error_body_is_cut_short(make_hook):
    hook, _ = make_hook(Reply(502, body="<p>" + "x" * 5000 + "</p>"), retry_limit=0)
    with pytest.raises(ServerError) as info:
        hook.request("GET", "/x")
    assert len(info.value.errors[0]) == 300
    assert len(str(info.value)) < 400


def test_request_id_comes_from_the_response_header(make_hook):
    hook, _ = make_hook(Reply(400, json=DATASETTE_400, headers={"X-Request-Id": "req-42"}))
    with pytest.raises(BadRequestError) as info:
        hook.request("GET", "/db/t.json")
    assert info.value.request_id == "req-42"
    assert str(info.value) == "test: GET /db/t.json failed: a (HTTP 400): b [request id req-42]"


def test_a_mapped_error_survives_pickling(make_hook):
    reply = Reply(429, json=DATASETTE_400, headers={"Retry-After": "3", "X-Request-Id": "r1"})
    hook, _ = make_hook(reply, retry_limit=0)
    with pytest.raises(RateLimitError) as info:
        hook.request("GET", "/x")
    clone = pickle.loads(pickle.dumps(info.value))
    assert type(clone) is RateLimitError
    assert (clone.status_code, clone.errors, clone.request_id, clone.retry_after, clone.retryable) == (
        429,
        ["a", "b"],
        "r1",
        3.0,
        True,
    )
    assert str(clone) == str(info.value)


def test_no_raw_response_leaks_through_an_error(make_hook):
    hook, _ = make_hook(Reply(404, json={"error": "missing"}))
    with pytest.raises(NotFoundError) as info:
        hook.request("GET", "/x")
    assert not any(isinstance(v, requests.Response) for v in vars(info.value).values())
    assert info.value.__cause__ is None


# -- JSON bodies ---------------------------------------------------------------------------------


def test_request_json_returns_the_decoded_body_or_none_when_empty(make_hook):
    hook, _ = make_hook(ok({"rows": [1, 2]}), Reply(204))
    assert hook.request_json("GET", "/x") == {"rows": [1, 2]}
    assert hook.request_json("DELETE", "/x") is None


@pytest.mark.parametrize(
    ("body", "headers", "expected"),
    [
        pytest.param(
            b'{"n":12345678901234567890123,"x":-0.0}',
            {},
            {"n": 12345678901234567890123, "x": -0.0},
            id="big-int",
        ),
        pytest.param(
            b'{"v":[NaN,Infinity]}', {}, "nan-inf", id="nan-and-infinity-as-the-json-module-reads-them"
        ),
        pytest.param(
            '{"t":"café"}'.encode("latin-1"),
            {"Content-Type": "application/json; charset=ISO-8859-1"},
            {"t": "café"},
            id="declared-latin-1",
        ),
    ],
)
def test_json_bodies_decode_as_the_json_module_decodes_them(make_hook, body, headers, expected):
    hook, _ = make_hook(Reply(200, body=body, headers={"Content-Type": "application/json", **headers}))
    decoded = hook.request_json("GET", "/x")
    if expected == "nan-inf":
        assert math.isnan(decoded["v"][0])
        assert decoded["v"][1] == math.inf
    else:
        assert decoded == expected
        assert repr(decoded) == repr(expected)  # -0.0 stays -0.0


def test_a_2xx_body_that_is_not_json_is_unexpected(make_hook):
    page = f"<html>login page for {TOKEN}</html>"
    hook, fake = make_hook(Reply(200, body=page, headers={"Content-Type": "text/html"}))
    with pytest.raises(UnexpectedResponseError) as info:
        hook.request_json("GET", "/db.json")
    assert info.value.status_code == 200
    assert info.value.retryable is False
    assert "GET /db.json: the response is not JSON" in str(info.value)
    assert TOKEN not in str(info.value)
    assert info.value.errors == ["<html>login page for ***</html>"]
    assert fake.responses[0].raw.closed


def test_streamed_responses_can_be_read_in_chunks(make_hook):
    hook, fake = make_hook(Reply(200, body=b"a,b\n1,2\n"))
    response = hook.request("GET", "/t.csv", stream=True)
    assert fake.sent[0].stream is True
    assert b"".join(response.iter_content(3)) == b"a,b\n1,2\n"
    response.close()


class StrictHook(ExampleHook):
    """A hook whose API reports some failures in 2xx bodies (``{"ok": false}``)."""

    def check_body(self, payload: Any, response: Any, where: str) -> None:
        if isinstance(payload, dict) and payload.get("ok") is False:
            raise BadRequestError(f"{where} failed: {payload.get('error')}", service=self.service_name)


def test_a_failure_in_a_2xx_body_is_raised_by_check_body_and_not_retried(sleeps):
    hook = StrictHook(CONN_ID)
    hook._sleep = sleeps.append
    fake = FakeTransport(Reply(200, json={"ok": False, "error": "no such row"})).mount(hook.session)
    with pytest.raises(BadRequestError, match="GET /x failed: no such row"):
        hook.request_json("GET", "/x")
    assert len(fake.sent) == 1
    assert sleeps == []
    FakeTransport(ok()).mount(hook.session)
    assert hook.request_json("GET", "/x") == {"ok": True}
