"""The shared fault queue, latency knob and request log of the emulators."""

from __future__ import annotations

import math

import pytest

from airflow_provider_cloud.testing._emulator.faults import Fault, Faults
from airflow_provider_cloud.testing._emulator.messages import RequestLog


@pytest.mark.parametrize(
    ("retry_after", "header"),
    [
        pytest.param(None, {}, id="none"),
        pytest.param(7, {"Retry-After": "7"}, id="int"),
        pytest.param(7.0, {"Retry-After": "7"}, id="whole-float"),
        pytest.param(2.5, {"Retry-After": "2.5"}, id="fraction"),
        pytest.param(
            "Wed, 21 Oct 2015 07:28:00 GMT", {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, id="date"
        ),
    ],
)
def test_fault_retry_after_header(retry_after: float | str | None, header: dict[str, str]) -> None:
    assert Fault(503, retry_after).headers() == header


def test_faults_are_answered_in_order_and_calls_add_up() -> None:
    faults = Faults()
    first, second = Fault(503, 2), Fault(429, 1, code="too_many_requests")
    faults.add(2, first)
    faults.add(1, second)
    assert faults.pending == 3
    assert [faults.take(), faults.take(), faults.take(), faults.take()] == [first, first, second, None]
    assert faults.pending == 0


def test_clear_and_reset() -> None:
    faults = Faults()
    faults.add(3, Fault(500))
    faults.clear()
    assert (faults.pending, faults.take()) == (0, None)
    faults.add(1, Fault(500))
    faults.latency = 0.25
    faults.reset()
    assert (faults.pending, faults.latency) == (0, 0.0)


@pytest.mark.parametrize(
    ("count", "status", "message"),
    [(-1, 500, "count"), (1, 99, "not an HTTP status: 99"), (1, 600, "not an HTTP status: 600")],
)
def test_add_checks_count_and_status(count: int, status: int, message: str) -> None:
    faults = Faults()
    with pytest.raises(ValueError, match=message):
        faults.add(count, Fault(status))
    assert faults.pending == 0


def test_zero_faults_and_any_http_status_are_accepted() -> None:
    faults = Faults()
    faults.add(0, Fault(500))
    faults.add(1, Fault(200, body={"success": False}))  # a failure reported in a 2xx body
    assert faults.take() == Fault(200, body={"success": False})


@pytest.mark.parametrize("seconds", [-0.1, math.inf, math.nan])
def test_latency_must_be_finite_and_not_negative(seconds: float) -> None:
    faults = Faults()
    with pytest.raises(ValueError, match="latency"):
        faults.latency = seconds
    faults.latency = 1
    assert faults.latency == 1.0
    assert isinstance(faults.latency, float)


def test_request_log_keeps_the_most_recent_entries() -> None:
    log: RequestLog[int] = RequestLog(3)
    for number in range(5):
        log.record(number)
    entries = log.entries()
    assert entries == [2, 3, 4]
    entries.append(99)  # a copy: the log is not changed through it
    assert log.entries() == [2, 3, 4]
    log.clear()
    assert log.entries() == []
    with pytest.raises(ValueError, match="at least one"):
        RequestLog(0)
