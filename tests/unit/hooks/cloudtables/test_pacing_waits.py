"""Long pacing waits handed to the caller (``PaceWait``), the send times that outlive a process, the shared budget."""

from __future__ import annotations

import logging

import pytest

from airflow_provider_cloud.hooks.cloudtables.budget import PacedUse, describe_pool, key_fingerprint
from airflow_provider_cloud.hooks.cloudtables.pacing import RequestPacer
from airflow_provider_cloud.hooks.core import CLOCK_MARGIN, NoPacing, PaceWait, clean_stamps
from tests.unit.hooks.cloudtables.test_pacing import FakeClock

WALL = 1_800_000_000.0  # wall-clock seconds at the fake clock's 100


def pacer_at(clock: FakeClock, limit: int = 3, window: float = 10.0) -> RequestPacer:
    return RequestPacer(limit, window, clock=clock, sleep=clock.sleep, wall=lambda: WALL + clock.now - 100.0)


def fill(pacer: RequestPacer, clock: FakeClock, count: int) -> None:
    for _ in range(count):
        with pacer.slot():
            clock.now += 1.0


def test_a_wait_longer_than_the_threshold_raises_with_the_moment_the_next_request_may_go():
    clock = FakeClock()
    pacer = pacer_at(clock)
    fill(pacer, clock, 3)  # ends at 101, 102, 103: the first leaves the window at 111
    pacer.wait_over = 5.0
    with pytest.raises(PaceWait) as caught:
        pacer.acquire()
    assert caught.value.seconds == pytest.approx(8.0)
    assert caught.value.not_before == pytest.approx(WALL + 11.0)
    assert caught.value.rows_done is None
    assert "3 requests per 10 s" in str(caught.value)
    assert clock.sleeps == []  # nothing slept, no slot taken
    pacer.wait_over = 8.5  # a shorter wait than the threshold is slept as before
    assert pacer.acquire() == pytest.approx(8.0)


def test_the_send_times_go_out_as_wall_clock_and_count_again_in_another_process():
    clock = FakeClock()
    first = pacer_at(clock)
    fill(first, clock, 3)
    stamps = first.stamps()
    assert stamps == [pytest.approx(WALL + 1), pytest.approx(WALL + 2), pytest.approx(WALL + 3)]

    other = FakeClock()
    other.now = 5_000.0  # another process: another monotonic clock, the same wall clock
    second = RequestPacer(
        3, 10.0, clock=other, sleep=other.sleep, wall=lambda: WALL + 3.0 + other.now - 5_000.0
    )
    assert second.merge(stamps) == 3
    assert second.merge(stamps) == 0  # the same send times again are the same requests
    assert second.merge(second.stamps()) == 0  # its own, saved and loaded back
    with second.slot():
        pass
    # The first left the window at wall 11, taken CLOCK_MARGIN later: 8 s from wall 3, plus the margin.
    assert other.sleeps == [pytest.approx(8.0 + CLOCK_MARGIN)]


def test_send_times_older_than_the_window_are_dropped_and_bad_ledgers_are_named():
    clock = FakeClock()
    pacer = pacer_at(clock)
    assert pacer.merge([WALL - 60.0, WALL - 9.5, WALL - 1.0], margin=0.0) == 2
    assert clean_stamps(None, where="x") == []
    assert clean_stamps([3, 1.5], where="x") == [1.5, 3.0]
    with pytest.raises(ValueError, match="Variable v: expected a list of send times"):
        clean_stamps({"a": 1}, where="Variable v")


class ListLedger:
    def __init__(self, stamps: list[float]) -> None:
        self.stamps = stamps
        self.saves: list[list[float]] = []

    def load(self) -> list[float]:
        return list(self.stamps)

    def save(self, stamps: list[float]) -> None:
        self.saves.append(stamps)


def test_a_paced_block_loads_the_ledger_once_saves_it_on_the_way_out_and_forgets_the_threshold():
    clock = FakeClock()
    pacer = pacer_at(clock)
    ledger = ListLedger([WALL - 2.0])
    use = PacedUse(pacer, None, logging.getLogger("test"))

    def a_paced_import() -> None:
        with use.block(ledger) as handle:
            handle.wait_over = 1.0
            with use.block(ListLedger([WALL - 1.0])):  # nested (a write inside the import): no second load
                fill(pacer, clock, 2)
            assert ledger.saves == []
            pacer.acquire()

    with pytest.raises(PaceWait):
        a_paced_import()
    assert pacer.wait_over is None
    assert len(ledger.saves) == 1
    assert len(ledger.saves[0]) == 3  # the one loaded and the two sent


def test_a_shared_ledger_wins_over_the_callers_and_no_pacer_means_no_waits():
    clock = FakeClock()
    shared, given = ListLedger([]), ListLedger([])
    with PacedUse(pacer_at(clock), shared, logging.getLogger("test")).block(given):
        pass
    assert (len(shared.saves), len(given.saves)) == (1, 0)
    with PacedUse(None, shared, logging.getLogger("test")).block(given) as handle:
        assert isinstance(handle, NoPacing)


def test_the_key_is_named_by_a_fingerprint_and_the_pool_extra_is_checked():
    fingerprint = key_fingerprint("https://acme.cloudtables.io", "s3cr3t-api-key")
    assert len(fingerprint) == 16
    assert "s3cr3t" not in fingerprint
    assert fingerprint != key_fingerprint("https://other.cloudtables.io", "s3cr3t-api-key")
    assert describe_pool("") is None
    assert describe_pool("ct_budget") == "ct_budget"
    with pytest.raises(ValueError, match="rate_budget_pool extra must be a pool name"):
        describe_pool(3)


def test_the_window_is_all_free_once_the_last_send_has_left_it_as_a_loader_sees_it():
    clock = FakeClock()
    pacer = pacer_at(clock)
    assert pacer.free_at() == pytest.approx(WALL)  # nothing sent: free now
    fill(pacer, clock, 2)  # ends at 101 and 102 (wall + 1, wall + 2); now 102
    assert pacer.free_at() == pytest.approx(WALL + 2 + 10 + CLOCK_MARGIN)
    pacer.merge(
        [WALL + 1.5], margin=CLOCK_MARGIN
    )  # loaded ones count from their own time, not twice the margin
    assert pacer.free_at() == pytest.approx(WALL + 2 + 10 + CLOCK_MARGIN)
