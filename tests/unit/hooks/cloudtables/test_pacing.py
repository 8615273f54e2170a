"""The CloudTables request pacer and the progress ETA that follows it."""

from __future__ import annotations

import logging

import pytest

from airflow_provider_cloud.hooks.cloudtables.pacing import PacedProgress, RequestPacer


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
