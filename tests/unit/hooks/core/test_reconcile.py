"""HTTP core: a write whose answer is lost is checked, then counted done or sent again; never sent twice blindly."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_cloud.exceptions import (
    ApiConnectionError,
    ApiTimeoutError,
    BadRequestError,
    ServerError,
)
from tests.fake_transport import Reply, connection_dropped, connection_refused, read_timeout
from tests.unit.hooks.core.core_support import ok


class Check:
    """A reconcile check that answers from a script and records how often it was asked."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.asked = 0

    def __call__(self) -> Any:
        self.asked += 1
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer


@pytest.mark.parametrize("lost", [connection_dropped, read_timeout, Reply(500, json={"error": "boom"})])
def test_a_lost_answer_to_a_write_that_happened_counts_it_done_without_resending(make_hook, sleeps, lost):
    hook, fake = make_hook(lost)
    check = Check({"ok": True, "checked": True})
    assert hook.request_json("POST", "/t/-/insert", json_body={"rows": []}, reconcile=check) == {
        "ok": True,
        "checked": True,
    }
    assert [s.request.method for s in fake.sent] == ["POST"]  # sent once: it had happened
    assert check.asked == 1
    assert sleeps == []
    assert (hook.counts.reconciled, hook.counts.resent, hook.counts.attempts) == (1, 0, 1)


@pytest.mark.parametrize("lost", [connection_dropped, read_timeout, Reply(502), Reply(500)])
def test_a_lost_answer_to_a_write_that_did_not_happen_sends_it_again(make_hook, sleeps, lost):
    hook, fake = make_hook(lost, ok({"ok": True, "sent": 2}))
    check = Check(None)
    assert hook.request_json("POST", "/t/-/insert", reconcile=check) == {"ok": True, "sent": 2}
    assert [s.request.method for s in fake.sent] == ["POST", "POST"]
    assert hook.counts.retries == 1
    if isinstance(lost, Reply) and lost.status == 502:
        assert check.asked == 0  # a gateway error is retried as it stands: the service did not act
    else:
        assert check.asked == 1
        assert hook.counts.resent == 1


def test_a_refused_connection_is_retried_without_a_check(make_hook):
    hook, fake = make_hook(connection_refused, ok())
    check = Check()
    assert hook.request_json("POST", "/t/-/insert", reconcile=check) == {"ok": True}
    assert check.asked == 0  # nothing reached the server
    assert len(fake.sent) == 2


def test_a_client_error_is_never_reconciled(make_hook):
    hook, fake = make_hook(Reply(400, json={"error": "bad row"}))
    check = Check()
    with pytest.raises(BadRequestError):
        hook.request_json("POST", "/t/-/insert", reconcile=check)
    assert check.asked == 0
    assert len(fake.sent) == 1


def test_a_failed_check_leaves_the_write_in_doubt_and_does_not_resend_it(make_hook):
    hook, fake = make_hook(connection_dropped)
    check = Check(ApiTimeoutError("GET /t.json: no answer", service="test"))
    with pytest.raises(ApiConnectionError) as caught:
        hook.request_json("POST", "/t/-/insert", reconcile=check)
    assert not caught.value.retryable
    assert isinstance(caught.value.__cause__, ApiTimeoutError)
    assert len(fake.sent) == 1


def test_writes_that_keep_failing_before_happening_stop_at_the_retry_limit(make_hook):
    hook, fake = make_hook(*[Reply(500)] * 6)
    check = Check(*[None] * 6)
    with pytest.raises(ServerError):
        hook.request_json("POST", "/t/-/insert", reconcile=check)
    assert len(fake.sent) == 6  # the first attempt and five retries
    assert check.asked == 6
    assert hook.counts.as_dict() == {"attempts": 6, "retries": 5, "reconciled": 0, "resent": 6}


def test_without_a_check_a_lost_write_fails_as_before(make_hook):
    hook, fake = make_hook(connection_dropped)
    with pytest.raises(ApiConnectionError) as caught:
        hook.request_json("POST", "/t/-/insert")
    assert not caught.value.retryable
    assert len(fake.sent) == 1
