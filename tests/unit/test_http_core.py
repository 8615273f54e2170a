"""Unit tests of the HTTP core (CloudApiHook) over the fake transport: no network, no sleeping."""

from __future__ import annotations

import email.utils
import json
import math
import pickle
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
import structlog
import tenacity
from airflow.sdk import Connection
from airflow.sdk.log import redact

from airflow_provider_cloud import __version__
from airflow_provider_cloud.exceptions import (
    ApiConnectionError,
    ApiResponseError,
    ApiTimeoutError,
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
from airflow_provider_cloud.hooks.core import (
    CloudApiHook,
    RetryPolicy,
    Timeouts,
    base_url_from_connection,
    coerce_bool,
    parse_retry_after,
    secrets as core_secrets,
)
from tests.fake_transport import (
    FakeTransport,
    Reply,
    body_cut_short,
    connect_timeout,
    connection_dropped,
    connection_refused,
    read_timeout,
)

CONN_ID = "test_api"
HOST = "https://api.example.test"
TOKEN = "s3cr3t-token-value"
DATASETTE_400 = {"ok": False, "error": "a; b", "errors": ["a", "b"], "status": 400}


class ExampleHook(CloudApiHook):
    """The smallest service hook: Bearer token from the connection password."""

    service_name = "test"

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.connection.password}"}


def set_connection(monkeypatch: pytest.MonkeyPatch, *, extra: Any = None, **fields: Any) -> None:
    """Define connection ``test_api`` as an ``AIRFLOW_CONN_TEST_API`` JSON variable."""
    conn = {"conn_type": "http", "host": HOST, "password": TOKEN, **fields}
    if extra is not None:
        conn["extra"] = extra
    monkeypatch.setenv("AIRFLOW_CONN_TEST_API", json.dumps(conn))


@pytest.fixture(autouse=True)
def _default_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    set_connection(monkeypatch)
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_hook(sleeps: list[float]):
    """Build a hook whose session answers from a FakeTransport and whose sleeps are recorded."""
    hooks: list[ExampleHook] = []

    def make(*answers: Any, handler: Any = None, **hook_kwargs: Any) -> tuple[ExampleHook, FakeTransport]:
        hook = ExampleHook(CONN_ID, **hook_kwargs)
        hook._sleep = sleeps.append
        fake = FakeTransport(*answers, handler=handler).mount(hook.session)
        hooks.append(hook)
        return hook, fake

    yield make
    for hook in hooks:
        hook.close()


@pytest.fixture
def logged():
    """Capture the hook's (structlog) log calls; ``logged()`` gives ``(level, formatted message)`` pairs."""
    formatter = structlog.stdlib.PositionalArgumentsFormatter()
    with structlog.testing.capture_logs(processors=[formatter]) as entries:
        yield lambda: [(entry["log_level"], entry["event"]) for entry in entries]


def ok(body: Any = None) -> Reply:
    return Reply(200, json={"ok": True} if body is None else body)


# -- session, headers, timeouts, TLS -------------------------------------------------------------


def test_one_session_per_hook_reused_across_calls(make_hook):
    hook, fake = make_hook(ok(), ok())
    session = hook.get_conn()
    hook.request_json("GET", "/a.json")
    hook.request_json("GET", "/b.json")
    assert hook.session is session
    assert hook.get_conn() is session
    assert len(fake.sent) == 2
    other, _ = make_hook()
    assert other.session is not session


def test_close_closes_the_session_and_a_new_one_is_built_after(make_hook):
    hook, fake = make_hook()
    session = hook.session
    hook.close()
    assert fake.closed
    assert hook.session is not session
    hook.close()
    hook.close()  # closing twice is harmless


def test_context_manager_closes_the_session(make_hook):
    hook, fake = make_hook(ok())
    with hook as entered:
        assert entered is hook
        hook.request_json("GET", "/x")
    assert fake.closed


def test_requests_carry_user_agent_auth_and_accept_headers(make_hook):
    hook, fake = make_hook(ok())
    assert hook.request_json("POST", "/db/t/-/insert", json_body={"rows": [{"id": 1}]}) == {"ok": True}
    sent = fake.sent[0]
    assert sent.headers["User-Agent"].startswith(f"airflow-provider-cloud/{__version__} ")
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["Accept"] == "application/json"
    assert sent.method == "POST"
    assert sent.url == f"{HOST}/db/t/-/insert"
    assert sent.json() == {"rows": [{"id": 1}]}


def test_paths_are_joined_to_the_base_url_and_absolute_urls_kept(make_hook, monkeypatch):
    set_connection(monkeypatch, host="https://api.example.test/base/")
    hook, fake = make_hook(ok(), ok())
    hook.request("GET", "db.json", params={"_size": 5})
    hook.request("GET", "https://other.example.test/next?_next=abc")
    assert fake.sent[0].url == "https://api.example.test/base/db.json?_size=5"
    assert fake.sent[1].url == "https://other.example.test/next?_next=abc"


@pytest.mark.parametrize(
    ("extra", "hook_timeout", "expected"),
    [
        pytest.param(None, None, (10.0, 60.0), id="defaults"),
        pytest.param({"timeout": 5}, None, (10.0, 5.0), id="extra-read"),
        pytest.param({"timeout": "7", "connect_timeout": "3"}, None, (3.0, 7.0), id="extra-strings"),
        pytest.param({"extra__http__timeout": 9}, None, (10.0, 9.0), id="legacy-extra-prefix"),
        pytest.param({"timeout": 5, "connect_timeout": 3}, 2.5, (3.0, 2.5), id="hook-read-wins"),
        pytest.param({"timeout": 5}, (1, 2), (1.0, 2.0), id="hook-pair-wins"),
    ],
)
def test_timeouts_reach_the_adapter(make_hook, monkeypatch, extra, hook_timeout, expected):
    set_connection(monkeypatch, extra=extra)
    hook, fake = make_hook(ok(), timeout=hook_timeout)
    hook.request("GET", "/x")
    assert fake.sent[0].timeout == expected
    assert hook.timeouts == Timeouts(*expected)


def test_a_per_request_timeout_wins(make_hook):
    hook, fake = make_hook(ok())
    hook.request("GET", "/x", timeout=Timeouts(connect=1, read=300))
    assert fake.sent[0].timeout == (1, 300)


def test_a_non_numeric_timeout_extra_is_a_clear_error(make_hook, monkeypatch):
    set_connection(monkeypatch, extra={"timeout": "soon"})
    hook, _ = make_hook()
    with pytest.raises(ValueError, match="extra 'timeout' must be a number, got 'soon'"):
        _ = hook.timeouts


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        pytest.param(None, True, id="default-on"),
        pytest.param({"verify": False}, False, id="json-bool-false"),
        pytest.param({"verify": "false"}, False, id="uri-string-false"),
        pytest.param({"verify": "False"}, False, id="uri-string-False"),
        pytest.param({"verify": "true"}, True, id="uri-string-true"),
        pytest.param({"verify_ssl": False}, False, id="verify_ssl-alias"),
        pytest.param({"verify": "/etc/ssl/corp-ca.pem"}, "/etc/ssl/corp-ca.pem", id="ca-bundle-path"),
    ],
)
def test_tls_verification_reaches_the_adapter(make_hook, monkeypatch, extra, expected):
    set_connection(monkeypatch, extra=extra)
    hook, fake = make_hook(ok())
    hook.request("GET", "/x")
    assert fake.sent[0].verify == expected


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        pytest.param({"verify": False}, False, id="off"),
        pytest.param({"verify": "/etc/ssl/corp-ca.pem"}, "/etc/ssl/corp-ca.pem", id="ca-path"),
    ],
)
def test_connection_tls_setting_wins_over_requests_ca_bundle_env(make_hook, monkeypatch, extra, expected):
    # requests replaces a *session's* verify with REQUESTS_CA_BUNDLE unless verify is given per request.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/env-bundle.pem")
    set_connection(monkeypatch, extra=extra)
    hook, fake = make_hook(ok())
    hook.request("GET", "/x")
    assert fake.sent[0].verify == expected


def test_default_verification_still_uses_the_requests_ca_bundle_env(make_hook, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/env-bundle.pem")
    hook, fake = make_hook(ok())
    hook.request("GET", "/x")
    assert fake.sent[0].verify == "/etc/ssl/env-bundle.pem"


def test_proxies_from_the_environment_are_used(make_hook, monkeypatch):
    for name in ("NO_PROXY", "no_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp.test:3128")
    hook, fake = make_hook(ok())
    hook.request("GET", "/x")
    assert fake.sent[0].proxies.get("https") == "http://proxy.corp.test:3128"


def test_no_proxy_hosts_bypass_the_proxy(make_hook, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp.test:3128")
    monkeypatch.setenv("NO_PROXY", "api.example.test")
    hook, fake = make_hook(ok())
    hook.request("GET", "/x")
    assert "https" not in fake.sent[0].proxies


def test_the_environment_is_read_once_per_host_not_per_request(make_hook, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/first.pem")
    hook, fake = make_hook(ok(), ok(), ok())
    hook.request("GET", "/x")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/second.pem")
    hook.request("GET", "/y")
    hook.request("GET", "https://other.example.test/z")
    assert [sent.verify for sent in fake.sent] == [
        "/etc/ssl/first.pem",
        "/etc/ssl/first.pem",
        "/etc/ssl/second.pem",
    ]
    assert hook.session.trust_env is False  # requests itself would scan os.environ on every request


def test_tls_verification_from_a_uri_connection(make_hook, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_TEST_API", f"http://:{TOKEN}@api.example.test:8443/https?verify=false&timeout=7"
    )
    hook, fake = make_hook(ok())
    hook.request("GET", "/x")
    assert fake.sent[0].url == "https://api.example.test:8443/x"
    assert fake.sent[0].verify is False
    assert fake.sent[0].timeout == (10.0, 7.0)


def test_an_unreadable_verify_extra_is_a_clear_error(make_hook, monkeypatch):
    set_connection(monkeypatch, extra={"verify": 2})
    with pytest.raises(ValueError, match="extra 'verify' must be true, false or a path"):
        make_hook()


@pytest.mark.asyncio
async def test_async_create_resolves_the_connection_for_triggers(monkeypatch):
    set_connection(monkeypatch, extra={"timeout": 3})
    hook = await ExampleHook.async_create(CONN_ID, retry_limit=1)
    fake = FakeTransport(ok()).mount(hook.session)
    assert hook.request_json("GET", "/x") == {"ok": True}
    assert fake.sent[0].timeout == (10.0, 3.0)
    assert fake.sent[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert hook.retry_policy.limit == 1
    assert hook.scrub(TOKEN) == "***"
    hook.close()


# -- retries -------------------------------------------------------------------------------------


def test_connection_refused_is_retried_even_for_post(make_hook, sleeps):
    hook, fake = make_hook(connection_refused, connection_refused, ok())
    assert hook.request_json("POST", "/db/t/-/insert", json_body={"rows": []}) == {"ok": True}
    assert fake.methods == ["POST", "POST", "POST"]
    assert len(sleeps) == 2


@pytest.mark.parametrize(
    ("method", "attempts"), [pytest.param("POST", 1, id="post-not-retried"), pytest.param("GET", 2, id="get")]
)
def test_a_connection_dropped_mid_request_is_retried_only_when_safe(make_hook, method, attempts):
    hook, fake = make_hook(connection_dropped, ok())
    if attempts == 1:
        with pytest.raises(ApiConnectionError) as info:
            hook.request(method, "/x")
        assert info.value.retryable is False
    else:
        hook.request(method, "/x")
    assert len(fake.sent) == attempts


@pytest.mark.parametrize(
    ("method", "attempts"), [pytest.param("POST", 1, id="post-not-retried"), pytest.param("GET", 2, id="get")]
)
def test_a_body_cut_short_is_a_connection_error_retried_only_when_safe(make_hook, method, attempts):
    hook, fake = make_hook(body_cut_short, ok())
    if attempts == 1:
        with pytest.raises(ApiConnectionError) as info:
            hook.request(method, "/x")
        assert info.value.retryable is False
        assert "IncompleteRead" in str(info.value)
    else:
        assert hook.request_json(method, "/x") == {"ok": True}
    assert len(fake.sent) == attempts


def test_read_timeout_is_retried_for_get(make_hook, sleeps):
    hook, fake = make_hook(read_timeout, ok())
    assert hook.request_json("GET", "/x") == {"ok": True}
    assert fake.methods == ["GET", "GET"]
    assert len(sleeps) == 1


def test_read_timeout_is_not_retried_for_post(make_hook, sleeps):
    hook, fake = make_hook(read_timeout, ok())
    with pytest.raises(ApiTimeoutError) as info:
        hook.request("POST", "/db/t/-/insert", json_body={"rows": []})
    assert info.value.retryable is False
    assert "no answer within 60 s" in str(info.value)
    assert len(fake.sent) == 1
    assert sleeps == []


def test_read_timeout_is_retried_for_idempotent_post(make_hook):
    hook, fake = make_hook(read_timeout, ok())
    hook.request("POST", "/db/t/-/upsert", json_body={"rows": []}, idempotent=True)
    assert len(fake.sent) == 2


def test_connect_timeout_is_retried_for_post(make_hook, sleeps):
    hook, fake = make_hook(connect_timeout, ok())
    hook.request("POST", "/db/t/-/insert", json_body={"rows": []})
    assert fake.methods == ["POST", "POST"]
    assert len(sleeps) == 1


def test_429_is_retried_and_retry_after_seconds_honoured(make_hook, sleeps):
    hook, fake = make_hook(Reply(429, headers={"Retry-After": "7"}), ok())
    assert hook.request_json("POST", "/x", json_body={}) == {"ok": True}
    assert len(fake.sent) == 2
    assert sleeps == [7.0]


def test_retry_after_as_an_http_date_is_honoured(make_hook, sleeps):
    when = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    hook, _ = make_hook(Reply(429, headers={"Retry-After": when}), ok())
    hook.request("GET", "/x")
    assert len(sleeps) == 1
    assert 18.0 <= sleeps[0] <= 22.0


def test_retry_after_on_503_is_honoured(make_hook, sleeps):
    hook, _ = make_hook(Reply(503, headers={"Retry-After": "2"}), ok())
    hook.request("POST", "/x")
    assert sleeps == [2.0]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [pytest.param(None, 60.0, id="default-cap"), pytest.param({"retry_after_max": "5"}, 5.0, id="extra-cap")],
)
def test_a_long_retry_after_is_capped(make_hook, monkeypatch, sleeps, extra, expected):
    set_connection(monkeypatch, extra=extra)
    hook, _ = make_hook(Reply(429, headers={"Retry-After": "3600"}), ok())
    hook.request("GET", "/x")
    assert sleeps == [expected]


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_errors_are_retried_for_post(make_hook, status):
    hook, fake = make_hook(Reply(status), ok())
    assert hook.request_json("POST", "/x", json_body={}) == {"ok": True}
    assert fake.methods == ["POST", "POST"]


def test_500_is_retried_for_get(make_hook):
    hook, fake = make_hook(Reply(500), ok())
    hook.request("GET", "/x")
    assert len(fake.sent) == 2


def test_500_is_not_retried_for_post(make_hook, sleeps):
    hook, fake = make_hook(Reply(500), ok())
    with pytest.raises(ServerError) as info:
        hook.request("POST", "/x", json_body={})
    assert info.value.retryable is False
    assert len(fake.sent) == 1
    assert sleeps == []


def test_500_is_retried_for_post_marked_idempotent(make_hook):
    hook, fake = make_hook(Reply(500), ok())
    hook.request("POST", "/db/t/-/upsert", json_body={}, idempotent=True)
    assert fake.methods == ["POST", "POST"]


def test_500_is_not_retried_for_get_marked_not_idempotent(make_hook):
    hook, fake = make_hook(Reply(500), ok())
    with pytest.raises(ServerError):
        hook.request("GET", "/x", idempotent=False)
    assert len(fake.sent) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 413])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_client_errors_are_never_retried(make_hook, sleeps, status, method):
    hook, fake = make_hook(Reply(status, json=DATASETTE_400 | {"status": status}), ok())
    with pytest.raises(ApiResponseError) as info:
        hook.request(method, "/x")
    assert info.value.status_code == status
    assert info.value.retryable is False
    assert len(fake.sent) == 1
    assert sleeps == []


def test_all_attempts_fail_then_the_typed_error_is_raised(make_hook, sleeps):
    hook, fake = make_hook(handler=lambda request: Reply(503, json={"error": "overloaded"}), retry_limit=3)
    with pytest.raises(ServerError) as info:
        hook.request("GET", "/x")
    assert not isinstance(info.value, tenacity.RetryError)
    assert info.value.status_code == 503
    assert info.value.errors == ["overloaded"]
    assert len(fake.sent) == 4
    assert len(sleeps) == 3


def test_connection_failures_exhaust_retries_into_api_connection_error(make_hook):
    hook, fake = make_hook(handler=connection_refused, retry_limit=2)
    with pytest.raises(ApiConnectionError) as info:
        hook.request("POST", "/x")
    assert type(info.value) is ApiConnectionError
    assert info.value.retryable is True
    assert info.value.status_code is None
    assert "could not reach test" in str(info.value)
    assert len(fake.sent) == 3


def test_error_responses_are_closed(make_hook):
    hook, fake = make_hook(Reply(503), Reply(404, json={"error": "nope"}))
    with pytest.raises(NotFoundError):
        hook.request("GET", "/x")
    assert [r.raw.closed for r in fake.responses] == [True, True]


def test_backoff_grows_exponentially_up_to_the_cap():
    policy = RetryPolicy(backoff_base=0.5, backoff_max=30.0)
    assert [policy.backoff(n, rng=lambda: 0.0) for n in range(1, 9)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    assert [policy.backoff(n, rng=lambda: 0.5) for n in range(1, 6)] == [0.75, 1.5, 3, 6, 12]
    assert policy.backoff(6, rng=lambda: 0.99) == 30.0  # jitter never passes the cap


@pytest.mark.parametrize("retry_number", range(1, 10))
def test_backoff_jitter_stays_within_bounds(retry_number):
    policy = RetryPolicy(backoff_base=0.5, backoff_max=30.0)
    step = min(30.0, 0.5 * 2 ** (retry_number - 1))
    waits = {policy.backoff(retry_number) for _ in range(50)}
    assert all(step <= w <= min(30.0, 2 * step) for w in waits)
    if 2 * step <= 30.0:
        assert len(waits) > 1  # jitter actually varies


def test_waits_between_retries_follow_the_backoff(make_hook, sleeps):
    hook, _ = make_hook(handler=lambda request: Reply(502), retry_limit=5)
    with pytest.raises(ServerError):
        hook.request("GET", "/x")
    assert len(sleeps) == 5
    for number, wait in enumerate(sleeps, start=1):
        step = 0.5 * 2 ** (number - 1)
        assert step <= wait <= 2 * step


@pytest.mark.parametrize("limit", [2, "2"])
def test_retry_limit_from_the_connection_extra(make_hook, monkeypatch, limit):
    set_connection(monkeypatch, extra={"retry_limit": limit})
    hook, fake = make_hook(handler=lambda request: Reply(503))
    with pytest.raises(ServerError):
        hook.request("GET", "/x")
    assert len(fake.sent) == 3


def test_retry_limit_argument_wins_over_the_extra(make_hook, monkeypatch):
    set_connection(monkeypatch, extra={"retry_limit": 4})
    hook, fake = make_hook(handler=lambda request: Reply(503), retry_limit=1)
    with pytest.raises(ServerError):
        hook.request("GET", "/x")
    assert len(fake.sent) == 2


def test_retry_limit_zero_makes_one_attempt(make_hook, sleeps):
    hook, fake = make_hook(handler=connection_refused, retry_limit=0)
    with pytest.raises(ApiConnectionError):
        hook.request("GET", "/x")
    assert len(fake.sent) == 1
    assert sleeps == []


def test_a_retry_policy_argument_is_used_and_retry_limit_still_wins(make_hook, sleeps):
    policy = RetryPolicy(limit=1, backoff_base=2.0, backoff_max=2.0)
    hook, fake = make_hook(handler=lambda request: Reply(503), retry_policy=policy)
    with pytest.raises(ServerError):
        hook.request("GET", "/x")
    assert len(fake.sent) == 2
    assert sleeps == [2.0]
    hook, fake = make_hook(handler=lambda request: Reply(503), retry_policy=policy, retry_limit=3)
    with pytest.raises(ServerError):
        hook.request("GET", "/x")
    assert len(fake.sent) == 4


def test_a_negative_retry_limit_is_refused(make_hook):
    hook, _ = make_hook(retry_limit=-1)
    with pytest.raises(ValueError, match="retry_limit must be 0 or more"):
        hook.request("GET", "/x")


def test_each_retry_logs_one_warning_naming_method_and_path(make_hook, logged):
    echo = {"error": f"upstream said Bearer {TOKEN} is busy"}
    hook, _ = make_hook(
        Reply(503, json=echo), connection_refused, Reply(429, headers={"Retry-After": "1"}), ok()
    )
    hook.request("POST", f"{HOST}/db/table/-/insert?token={TOKEN}", json_body={"rows": []})
    warnings = [text for level, text in logged() if level == "warning"]
    assert len(warnings) == 3
    for number, text in enumerate(warnings, start=1):
        assert text.startswith("POST /db/table/-/insert: ")
        assert f"retry {number} of 5" in text
        assert TOKEN not in text
    assert "upstream said Bearer *** is busy (HTTP 503)" in warnings[0]
    assert "Connection refused" in warnings[1]
    assert warnings[2].endswith("(HTTP 429); retry 3 of 5 in 1.0 s")


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
