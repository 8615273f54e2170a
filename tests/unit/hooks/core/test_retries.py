"""HTTP core: what is retried, how long it waits, and the log line per retry (fake transport)."""

from __future__ import annotations

import contextlib
import email.utils
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import tenacity

from airflow_provider_cloud.exceptions import (
    ApiConnectionError,
    ApiResponseError,
    ApiTimeoutError,
    NotFoundError,
    ServerError,
)
from airflow_provider_cloud.hooks.core import RetryPolicy
from tests.fake_transport import (
    FakeTransport,
    Reply,
    body_cut_short,
    connect_timeout,
    connection_dropped,
    connection_refused,
    read_timeout,
)
from tests.unit.hooks.core.core_support import (
    CONN_ID,
    DATASETTE_400,
    HOST,
    TOKEN,
    ExampleHook,
    ok,
    set_connection,
)

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


class SlottedHook(ExampleHook):
    """A hook whose attempts run inside a slot that records entering and leaving (as pacing does)."""

    def __init__(self, conn_id: str) -> None:
        super().__init__(conn_id)
        self.slots: list[str] = []

    def attempt_slot(self) -> contextlib.AbstractContextManager[None]:
        @contextlib.contextmanager
        def slot() -> Iterator[None]:
            self.slots.append("enter")
            try:
                yield
            finally:
                self.slots.append("leave")

        return slot()


def test_every_attempt_runs_inside_the_attempt_slot(sleeps):
    hook = SlottedHook(CONN_ID)
    hook._sleep = sleeps.append
    fake = FakeTransport(Reply(503), connection_refused, ok()).mount(hook.session)
    assert hook.request_json("GET", "/x") == {"ok": True}
    assert len(fake.sent) == 3
    assert hook.slots == ["enter", "leave"] * 3  # retries reach the service too, so each is in a slot
    assert len(sleeps) == 2  # the waits between attempts are outside the slots
