"""The core's window of requests in flight: bounded, ordered results, waits where told, stops at the first failure."""

from __future__ import annotations

import threading
import time

import pytest

from airflow_provider_cloud.hooks.core.window import MAX_WINDOW, Window, check_window
from tests.unit.hooks.core.core_support import CONN_ID, ExampleHook, set_connection


class Gauge:
    """Counts calls running at once, and the most seen."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0

    def call(self, value: int, pause: float = 0.01) -> int:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        time.sleep(pause)
        with self.lock:
            self.now -= 1
        return value


def test_a_window_of_one_runs_each_call_at_once_on_the_callers_thread():
    threads: list[str] = []
    with Window[int](1) as window:
        for n in range(3):
            window.submit(lambda n=n: threads.append(threading.current_thread().name) or n)
        assert list(window.results()) == [0, 1, 2]
    assert set(threads) == {threading.current_thread().name}


@pytest.mark.parametrize("size", [2, 3, 8])
def test_no_more_than_the_window_runs_at_once_and_results_come_in_order(size):
    gauge = Gauge()
    with Window[int](size) as window:
        for n in range(20):
            window.submit(gauge.call, n, 0.005 * (n % 3))  # calls finish out of order
        assert list(window.results()) == list(range(20))
    assert gauge.most == size


def test_a_call_waits_for_the_calls_it_must_follow():
    order: list[str] = []
    with Window[None](4) as window:
        first = window.submit(lambda: (time.sleep(0.05), order.append("first"))[1])
        window.submit(lambda: order.append("second"), after=[first])
    assert order == ["first", "second"]


def test_the_first_failure_stops_new_calls_and_is_raised():
    started: list[int] = []

    def call(n: int) -> int:
        started.append(n)
        if n == 2:
            raise ValueError("batch 2 refused")
        time.sleep(0.02)
        return n

    def submit_all() -> None:
        with Window[int](2) as window:
            for n in range(50):
                window.submit(call, n)

    with pytest.raises(ValueError, match="batch 2 refused"):
        submit_all()
    assert len(started) < 50  # nothing new starts once a call failed
    assert 2 in started


def test_a_failure_is_raised_by_close_when_nothing_more_is_submitted():
    def submit_one() -> None:
        with Window[int](3) as window:
            window.submit(lambda: {}["missing"])

    with pytest.raises(KeyError):
        submit_one()


@pytest.mark.parametrize("bad", [0, -1, MAX_WINDOW + 1, True, 2.5, "many", None])
def test_a_window_size_must_be_a_whole_number_within_bounds(bad):
    with pytest.raises(ValueError, match="window"):
        check_window(bad)


def test_check_window_takes_text_from_a_uri_connection():
    assert check_window("4") == 4


def test_the_hook_window_comes_from_the_argument_the_extra_or_the_default(monkeypatch):
    assert ExampleHook(CONN_ID).window == 1
    assert ExampleHook(CONN_ID, window=6).window == 6
    set_connection(monkeypatch, extra={"window": "5"})
    hook = ExampleHook(CONN_ID)
    assert hook.window == 5
    adapter = hook.session.get_adapter("https://api.example.test/x")
    assert adapter._pool_maxsize == 5  # type: ignore[attr-defined]  # one connection per request in flight
    assert adapter._pool_block is True  # type: ignore[attr-defined]
    set_connection(monkeypatch, extra={"window": "lots"})
    with pytest.raises(ValueError, match="extra 'window'"):
        ExampleHook(CONN_ID).window
