"""The async path of the HTTP core: its client (one per hook and loop, bounded, closed), and its parity with sync."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import requests

from airflow_provider_cloud.exceptions import ApiConnectionError, ApiTimeoutError, CloudApiError
from airflow_provider_cloud.hooks.core import async_http, errors
from airflow_provider_cloud.hooks.core.errors import Failure
from airflow_provider_cloud.hooks.core.policy import Timeouts
from tests.fake_transport import FakeTransport
from tests.unit.hooks.core.core_support import CONN_ID, TOKEN, ExampleHook, ok, set_connection

# -- failures: one classification for both libraries --------------------------------------------------


@pytest.mark.parametrize(
    ("sync_error", "async_error", "failure"),
    [
        (requests.ConnectTimeout("t"), httpx.ConnectTimeout("t"), Failure.CONNECT_TIMEOUT),
        (requests.ConnectTimeout("t"), httpx.PoolTimeout("t"), Failure.CONNECT_TIMEOUT),
        (requests.ReadTimeout("t"), httpx.ReadTimeout("t"), Failure.READ_TIMEOUT),
        (requests.ReadTimeout("t"), httpx.WriteTimeout("t"), Failure.READ_TIMEOUT),
        (requests.ConnectionError("Connection refused"), httpx.ConnectError("refused"), Failure.NOT_SENT),
        (requests.ConnectionError("reset by peer"), httpx.ReadError("reset"), Failure.BROKEN),
        (requests.ConnectionError("reset by peer"), httpx.RemoteProtocolError("closed"), Failure.BROKEN),
        (requests.exceptions.InvalidURL("x"), httpx.UnsupportedProtocol("x"), Failure.OTHER),
        (requests.exceptions.InvalidURL("x"), httpx.InvalidURL("x"), Failure.OTHER),
    ],
)
@pytest.mark.parametrize("safe", [True, False])
def test_a_transport_failure_is_the_same_error_on_both_paths(sync_error, async_error, failure, safe):
    assert errors.requests_failure(sync_error) is failure
    assert async_http.httpx_failure(async_error) is failure
    made = [
        errors.transport_error(
            kind,
            "detail",
            where="GET /x",
            service="test",
            timeouts=Timeouts(connect=2, read=9),
            safe=safe,
            scrub=str,
        )
        for kind in (errors.requests_failure(sync_error), async_http.httpx_failure(async_error))
    ]
    assert type(made[0]) is type(made[1])
    assert (made[0].message, made[0].retryable) == (made[1].message, made[1].retryable)
    if failure in (Failure.CONNECT_TIMEOUT, Failure.NOT_SENT):
        assert made[0].retryable  # nothing reached the server: always sent again
    elif failure is Failure.OTHER:
        assert type(made[0]) is CloudApiError
        assert not made[0].retryable
    else:
        assert made[0].retryable is safe
        assert isinstance(made[0], ApiTimeoutError if failure is Failure.READ_TIMEOUT else ApiConnectionError)


# -- the client ---------------------------------------------------------------------------------------


def recording_client(hook: ExampleHook, seen: list[httpx.Request], status: int = 200) -> None:
    """Answer the hook's async client from a handler (its headers and limits are kept)."""

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json={"ok": True}, headers={"Retry-After": "3"})

    hook.async_http().client._transport = httpx.MockTransport(handler)


@pytest.mark.asyncio
async def test_the_async_client_takes_the_connection_settings(monkeypatch):
    set_connection(monkeypatch, extra={"timeout": 7, "connect_timeout": 3, "window": 4})
    hook = await ExampleHook.async_create(CONN_ID)
    seen: list[httpx.Request] = []
    recording_client(hook, seen)

    assert await hook.arequest_json("GET", "/rows", params={"a": 1, "skip": None, "b": ["x", "y"]}) == {
        "ok": True
    }
    await hook.aclose()

    request = seen[0]
    assert request.extensions["timeout"] == {"connect": 3.0, "read": 7.0, "write": 7.0, "pool": 3.0}
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["User-Agent"].startswith("airflow-provider-cloud/")
    # The same query as the sync path sends for the same params (None dropped, lists repeated).
    sync_hook = ExampleHook(CONN_ID)
    fake = FakeTransport(ok()).mount(sync_hook.session)
    sync_hook.request_json("GET", "/rows", params={"a": 1, "skip": None, "b": ["x", "y"]})
    sync_hook.close()
    assert str(request.url) == fake.sent[0].request.url


@pytest.mark.asyncio
async def test_the_hooks_of_a_loop_share_one_bounded_client_closed_by_the_last(monkeypatch):
    set_connection(monkeypatch, extra={"window": 3})
    first_hook = await ExampleHook.async_create(CONN_ID)
    second_hook = await ExampleHook.async_create(CONN_ID)
    first, second = first_hook.async_http(), second_hook.async_http()
    assert first_hook.async_http() is first
    assert first.client is second.client
    pool = first.client._transport._pool  # type: ignore[attr-defined]
    assert pool._max_connections == async_http.LOOP_CONNECTIONS
    assert pool._max_keepalive_connections == async_http.LOOP_CONNECTIONS
    assert first._slots._value == 3  # the hook's own window of requests in flight

    await first_hook.aclose()
    assert not second.client.is_closed  # still used by the second hook
    await second_hook.aclose()
    assert second.client.is_closed
    third = await ExampleHook.async_create(CONN_ID)
    assert third.async_http().client is not first.client  # a fresh client once the last hook closed
    await third.aclose()


@pytest.mark.asyncio
async def test_a_shared_client_carries_each_hook_credentials_and_no_cookie(monkeypatch):
    set_connection(monkeypatch)
    mine = await ExampleHook.async_create(CONN_ID)
    monkeypatch.setenv(
        "AIRFLOW_CONN_OTHER_API",
        '{"conn_type": "http", "host": "https://api.example.test", "password": "other-token-value"}',
    )
    other = await ExampleHook.async_create("other_api")
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True}, headers={"Set-Cookie": "session=abc123; Path=/"})

    mine.async_http().client._transport = httpx.MockTransport(handler)
    assert other.async_http().client is mine.async_http().client
    await mine.arequest("GET", "/a")
    await other.arequest("GET", "/b")
    await mine.arequest("GET", "/c")
    await mine.aclose()
    await other.aclose()

    assert [r.headers["Authorization"] for r in seen] == [
        f"Bearer {TOKEN}",
        "Bearer other-token-value",
        f"Bearer {TOKEN}",
    ]
    assert all("Cookie" not in r.headers for r in seen)  # one hook's session never rides on another's


def test_a_client_is_not_used_from_another_event_loop(monkeypatch):
    set_connection(monkeypatch)
    hook = asyncio.run(ExampleHook.async_create(CONN_ID))

    async def make() -> None:
        hook.async_http()

    asyncio.run(make())
    with pytest.raises(RuntimeError, match="another event loop"):
        asyncio.run(make())


def test_tls_contexts_are_made_once_per_verify_value(monkeypatch):
    assert async_http.ssl_context(True) is async_http.ssl_context(True)
    assert async_http.ssl_context(False) is not async_http.ssl_context(True)
    assert async_http.ssl_context(False).check_hostname is False


@pytest.mark.asyncio
async def test_an_error_status_is_mapped_by_the_hook_points_with_retry_after(monkeypatch, sleeps):
    set_connection(monkeypatch)
    hook = await ExampleHook.async_create(CONN_ID, retry_limit=1)
    waits: list[float] = []

    async def asleep(seconds: float) -> None:
        waits.append(seconds)

    hook._asleep = asleep
    seen: list[httpx.Request] = []
    recording_client(hook, seen, status=429)
    with pytest.raises(CloudApiError) as raised:
        await hook.arequest("GET", "/rows")
    await hook.aclose()

    assert type(raised.value).__name__ == "RateLimitError"
    assert raised.value.retry_after == 3.0
    assert waits == [3.0]
    assert len(seen) == 2
    assert hook.counts.as_dict() == {"attempts": 2, "retries": 1, "reconciled": 0, "resent": 0}
