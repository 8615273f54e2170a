"""
The sync and the async path of the HTTP core on the same faults, against the emulator and through the proxy.

Each test reads one events page by both paths (``get_events_page`` on the requests session,
``aget_events_page`` on the hook's httpx client) and expects the same retries, the same waits, the same typed
error and the same scrubbing: the two paths share one set of rules.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
import structlog

from airflow_provider_cloud.exceptions import (
    ApiConnectionError,
    ApiTimeoutError,
    AuthenticationError,
    BadRequestError,
    CloudApiError,
    CursorExpiredError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
)
from airflow_provider_cloud.hooks.kloudless import KloudlessHook
from airflow_provider_cloud.testing.kloudless import KloudlessEmulator
from airflow_provider_cloud.testing.proxy import Fault, FaultPlan
from tests.e2e.ports import free_port

pytestmark = pytest.mark.integration

PATHS = ["sync", "async"]
CONN_ID = "kloudless_paths"
SECRET = "kl-SECRET-tok-5d1e9a77c3"  # distinctive: scanned for in every text


@dataclass
class Outcome:
    """What one read went through: the page or the error, the waits asked for, the request counts, the logs."""

    page: dict[str, Any] | None = None
    error: CloudApiError | None = None
    waits: list[float] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    logs: list[str] = field(default_factory=list)


def connect(monkeypatch: pytest.MonkeyPatch, url: str, token: str, **extra: Any) -> str:
    conn = {"conn_type": "kloudless", "host": url, "password": token, "extra": {"account_id": "me", **extra}}
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(conn))
    return CONN_ID


def read_sync(cursor: Any, outcome: Outcome, hook_kwargs: dict[str, Any]) -> None:
    hook = KloudlessHook(CONN_ID, **hook_kwargs)
    hook._sleep = outcome.waits.append
    try:
        outcome.page = hook.get_events_page(cursor)
    except CloudApiError as exc:
        outcome.error = exc
    finally:
        hook.close()
        outcome.counts = hook.counts.as_dict()


async def read_async(cursor: Any, outcome: Outcome, hook_kwargs: dict[str, Any]) -> None:
    hook = await KloudlessHook.async_create(CONN_ID, **hook_kwargs)

    async def asleep(seconds: float) -> None:
        outcome.waits.append(seconds)

    hook._asleep = asleep
    try:
        outcome.page = await hook.aget_events_page(cursor)
    except CloudApiError as exc:
        outcome.error = exc
    finally:
        await hook.aclose()
        outcome.counts = hook.counts.as_dict()


def read(path: str, cursor: Any = 0, **hook_kwargs: Any) -> Outcome:
    """Read the events page after ``cursor`` by ``path``; waits are recorded, not slept."""
    outcome = Outcome()
    formatter = structlog.stdlib.PositionalArgumentsFormatter()
    with structlog.testing.capture_logs(processors=[formatter]) as entries:
        if path == "sync":
            read_sync(cursor, outcome, hook_kwargs)
        else:
            asyncio.run(read_async(cursor, outcome, hook_kwargs))
    outcome.logs = [str(entry["event"]) for entry in entries]
    return outcome


def shape(error: CloudApiError | None) -> dict[str, Any]:
    """What must be equal between the paths (the request id differs from request to request)."""
    assert error is not None
    return {
        "class": type(error),
        "status_code": error.status_code,
        "message": error.message,
        "errors": error.errors,
        "retryable": error.retryable,
        "retry_after": getattr(error, "retry_after", None),
        "service": error.service,
    }


@pytest.fixture
def account(kloudless_emulator: KloudlessEmulator, monkeypatch: pytest.MonkeyPatch) -> int:
    account_id = kloudless_emulator.create_account()
    token = kloudless_emulator.create_token(account_id, token=SECRET)
    connect(monkeypatch, kloudless_emulator.url, token)
    kloudless_emulator.produce_event(account_id, "add")
    return account_id


# -- retries and waits --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_429_and_503_are_retried_after_their_retry_after(path, kloudless_emulator, account):
    kloudless_emulator.rate_limit_next(1, retry_after=2)
    kloudless_emulator.fail_next(1, 503, retry_after=3)

    outcome = read(path)

    assert outcome.error is None
    assert outcome.page is not None
    assert outcome.page["count"] == 1
    assert outcome.waits == [2.0, 3.0]
    assert outcome.counts == {"attempts": 3, "retries": 2, "reconciled": 0, "resent": 0}
    assert sum("retry 1 of 5 in 2.0 s" in line for line in outcome.logs) == 1
    assert sum("retry 2 of 5 in 3.0 s" in line for line in outcome.logs) == 1


@pytest.mark.parametrize("path", PATHS)
def test_a_long_retry_after_is_capped_by_the_connection(path, kloudless_emulator, monkeypatch, account):
    connect(monkeypatch, kloudless_emulator.url, SECRET, retry_after_max=7)
    kloudless_emulator.rate_limit_next(1, retry_after=600)

    outcome = read(path)

    assert outcome.error is None
    assert outcome.waits == [7.0]


@pytest.mark.parametrize("path", PATHS)
def test_retries_stop_at_the_limit_with_the_last_error(path, kloudless_emulator, account):
    kloudless_emulator.fail_next(3, 503)

    outcome = read(path, retry_limit=2)

    assert isinstance(outcome.error, ServerError)
    assert outcome.error.status_code == 503
    assert outcome.counts["attempts"] == 3
    assert len(outcome.waits) == 2
    assert kloudless_emulator.pending_failures == 0


# -- the same typed errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_code", "expected"),
    [
        (400, "cursor_expired", CursorExpiredError),
        (400, "invalid_parameters", BadRequestError),
        (401, "invalid_token", AuthenticationError),
        (403, "permission_denied", PermissionDeniedError),
        (404, "not_found", NotFoundError),
        (429, "too_many_requests", RateLimitError),
        (500, "internal_error", ServerError),
        (503, "service_unavailable", ServerError),
    ],
)
def test_both_paths_map_an_error_status_to_the_same_typed_error(
    kloudless_emulator, account, status, error_code, expected
):
    shapes = []
    for path in PATHS:
        kloudless_emulator.fail_next(1, status, error_code=error_code)
        outcome = read(path, retry_limit=0)
        assert type(outcome.error) is expected, path
        shapes.append(shape(outcome.error))
    assert shapes[0] == shapes[1]
    assert shapes[0]["status_code"] == status
    assert shapes[0]["errors"][0].startswith(f"{error_code}: ")


def test_both_paths_read_a_real_expired_cursor_as_cursor_expired(monkeypatch):
    with KloudlessEmulator(retention_max_events=2) as emulator:
        account_id = emulator.create_account()
        connect(monkeypatch, emulator.url, emulator.create_token(account_id))
        for _ in range(5):
            emulator.produce_event(account_id, "add")
        outcomes = [read(path, cursor=1, retry_limit=0) for path in PATHS]
    assert all(isinstance(o.error, CursorExpiredError) for o in outcomes)
    assert shape(outcomes[0].error) == shape(outcomes[1].error)


def test_both_paths_map_a_refused_connection_alike(monkeypatch):
    connect(monkeypatch, f"http://127.0.0.1:{free_port()}", SECRET)
    outcomes = [read(path, retry_limit=1) for path in PATHS]
    for outcome in outcomes:
        assert type(outcome.error) is ApiConnectionError
        assert outcome.error.retryable is True  # never sent: retried even if it were a write
        assert outcome.counts["attempts"] == 2
    assert (
        outcomes[0].error.message
        == outcomes[1].error.message
        == "GET /v1/accounts/me/events: could not reach Kloudless"
    )


def test_both_paths_map_a_read_timeout_alike(kloudless_emulator, account):
    kloudless_emulator.latency = 0.6
    outcomes = [read(path, retry_limit=0, timeout=0.2) for path in PATHS]
    for outcome in outcomes:
        assert type(outcome.error) is ApiTimeoutError
        assert outcome.error.retryable is True  # a GET is safe to repeat
    assert outcomes[0].error.message == outcomes[1].error.message
    assert outcomes[0].error.message.endswith("no answer within 0.2 s")


# -- through the network-conditions proxy -----------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_proxy_faults_are_retried_by_the_same_rules(
    path, kloudless_emulator, account, network_proxy, monkeypatch
):
    proxy = network_proxy(kloudless_emulator.url, faults=FaultPlan(retry_after=4, unavailable_retry_after=5))
    connect(monkeypatch, proxy.url, SECRET)
    proxy.script(Fault.TOO_MANY_REQUESTS, Fault.UNAVAILABLE, Fault.RESET, Fault.LOST)

    outcome = read(path)

    assert outcome.error is None
    assert outcome.page is not None
    assert outcome.page["count"] == 1
    assert outcome.counts["attempts"] == 5
    assert outcome.waits[:2] == [4.0, 5.0]  # Retry-After of the 429 and of the 503
    assert proxy.pending_script == 0


# -- secrets --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_a_secret_in_an_error_body_is_scrubbed_from_errors_and_retry_logs(path, kloudless_emulator, account):
    kloudless_emulator.fail_next(2, 503, error_code=f"echo_{SECRET}")

    outcome = read(path, retry_limit=1)

    error = outcome.error
    assert isinstance(error, ServerError)
    texts: list[str] = [str(error), error.message, *error.errors, *outcome.logs]
    assert not [text for text in texts if SECRET in text]
    assert "echo_***" in str(error)
    assert any("echo_***" in line for line in outcome.logs)  # the retry's log line, scrubbed too


@pytest.mark.parametrize("path", PATHS)
def test_a_secret_in_the_url_is_scrubbed_from_a_transport_error(path, monkeypatch, kloudless_emulator):
    # The connection's password is the secret; it also appears in the host's query (a bad paste).
    connect(monkeypatch, f"http://127.0.0.1:{free_port()}", SECRET)
    outcome = read(path, cursor=SECRET, retry_limit=0)
    assert isinstance(outcome.error, ApiConnectionError)
    assert not [t for t in [str(outcome.error), *outcome.error.errors, *outcome.logs] if SECRET in t]
