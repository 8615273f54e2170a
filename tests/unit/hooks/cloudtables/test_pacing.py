"""The CloudTables request pacer and the progress ETA that follows it."""

from __future__ import annotations

import logging
import random
import threading

import pytest

from airflow_provider_cloud.hooks.cloudtables.pacing import PacedProgress, RequestPacer, progress_logger


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_the_pacer_waits_for_the_oldest_request_to_leave_the_window():
    clock = FakeClock()
    pacer = RequestPacer(3, 10.0, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        with pacer.slot():
            clock.now += 1.0  # each request takes a second
    assert clock.sleeps == []
    with pacer.slot():
        pass
    assert clock.sleeps == [pytest.approx(8.0)]  # the first ended at 101; free again at 111 (now 103)
    assert pacer.waited == pytest.approx(8.0)
    assert pacer.mean_request_seconds == pytest.approx(0.75)


def test_the_pacer_schedule_gives_the_time_left():
    clock = FakeClock()
    pacer = RequestPacer(500, 900.0, clock=clock, sleep=clock.sleep)
    assert pacer.seconds_for(500) == 0.0  # a full window is free
    assert pacer.seconds_for(501) == pytest.approx(900.0)
    assert pacer.seconds_for(1500) == pytest.approx(1800.0)
    with pytest.raises(ValueError, match="at least 1"):
        RequestPacer(0, 1.0)


def test_paced_progress_shows_the_paced_eta_not_the_average_rate():
    clock = FakeClock()
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger = logging.getLogger("test.cloudtables.progress")
    logger.addHandler(Collect())
    logger.setLevel(logging.INFO)
    pacer = RequestPacer(500, 900.0, clock=clock, sleep=clock.sleep)
    progress = PacedProgress(logger, estimate=pacer.seconds_for, total=1000, every_seconds=0, clock=clock)
    for _ in range(500):  # a burst: the first window's 500 requests in 50 s
        with pacer.slot():
            clock.now += 0.1
    progress.update(500)
    assert progress.eta() == pytest.approx(
        900.0
    )  # the next 500 wait for the window, not 50 s at the burst rate
    assert lines[-1].startswith("500 of 1,000 rows done (50.0%)")
    assert lines[-1].endswith("ETA 15m00s")


class VirtualClock:
    """
    Time shared by threads that moves only when every one of them sleeps: then to the earliest wake-up.

    So many threads can run the pacer on one clock the test decides, with no real waiting and no timing.
    """

    def __init__(self, threads: int) -> None:
        self.now = 0.0
        self._active = threads
        self._wakes: list[float] = []
        self._changed = threading.Condition()

    def __call__(self) -> float:
        with self._changed:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._changed:
            wake = self.now + max(seconds, 0.0)
            self._wakes.append(wake)
            self._advance()
            while self.now < wake:
                self._changed.wait()
            self._wakes.remove(wake)

    def leave(self) -> None:
        with self._changed:
            self._active -= 1
            self._advance()

    def _advance(self) -> None:
        # only when every thread sleeps and none is about to wake
        if self._wakes and len(self._wakes) == self._active and min(self._wakes) > self.now:
            self.now = min(self._wakes)
            self._changed.notify_all()


def test_many_threads_never_have_more_than_the_limit_in_any_window_of_time():
    limit, window, threads, each = 7, 10.0, 16, 20
    clock = VirtualClock(threads)
    pacer = RequestPacer(limit, window, clock=clock, sleep=clock.sleep)
    spans: list[tuple[float, float]] = []
    durations = random.Random(5)
    plans = [[durations.uniform(0.05, 3.0) for _ in range(each)] for _ in range(threads)]

    def work(plan: list[float]) -> None:
        try:
            for seconds in plan:
                with pacer.slot():
                    started = clock()
                    clock.sleep(seconds)  # the request, from sending to its answer
                    spans.append((started, clock()))
        finally:
            clock.leave()

    workers = [threading.Thread(target=work, args=(plan,)) for plan in plans]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert len(spans) == threads * each
    # the service counts a request when it arrives, somewhere between its start and its end: in any window
    # (t - window, t], at most `limit` requests may have started by t and ended after t - window
    busiest = max(sum(1 for start, end in spans if start <= t and end > t - window) for t, _ in spans)
    assert busiest == limit  # reached, never passed


def test_the_eta_of_a_window_counts_the_requests_in_flight_together():
    clock = FakeClock()
    pacer = RequestPacer(500, 900.0, clock=clock, sleep=clock.sleep)
    for _ in range(10):
        with pacer.slot():
            clock.now += 2.0  # two seconds a request: slower than the pace
    logger = logging.getLogger("test.cloudtables.eta")
    one = progress_logger(logger, pacer, 100, what="rows", every_seconds=30)
    four = progress_logger(logger, pacer, 100, what="rows", every_seconds=30, window=4)
    assert one.eta() == pytest.approx(200.0)  # 100 requests one after another
    assert four.eta() == pytest.approx(50.0)  # four at a time
