from __future__ import annotations

import logging

import pytest

from airflow_provider_cloud.rows import ProgressLogger, batched, format_duration


def test_batched_sizes():
    assert list(batched(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(batched(range(6), 3)) == [[0, 1, 2], [3, 4, 5]]
    assert list(batched([], 3)) == []
    assert list(batched("ab", 1)) == [["a"], ["b"]]


def test_batched_is_lazy():
    pulled = []

    def source():
        for i in range(100):
            pulled.append(i)
            yield i

    batches = batched(source(), 10)
    assert pulled == []
    assert next(batches) == list(range(10))
    assert pulled == list(range(10))


@pytest.mark.parametrize(
    ("size", "error"), [(0, ValueError), (-1, ValueError), (2.0, TypeError), (True, TypeError)]
)
def test_batched_checks_size_at_once(size, error):
    with pytest.raises(error):
        batched([1, 2], size)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


LOGGER = "airflow_provider_cloud.tests.progress"


def test_progress_logs_at_most_every_interval_with_rate_and_eta(caplog):
    clock = FakeClock()
    progress = ProgressLogger(logging.getLogger(LOGGER), total=10_000, every_seconds=10, clock=clock)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        clock.now += 5
        progress.update(500)
        assert caplog.records == []
        clock.now += 5
        progress.update(1500)
        clock.now += 1
        progress.update(100)
        clock.now += 9
        progress.update(400)
        progress.finish()
        progress.finish()
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "2,000 of 10,000 rows done (20.0%), 200 rows/s, ETA 40s",
        "2,500 of 10,000 rows done (25.0%), 125 rows/s, ETA 1m00s",
        "Finished: 2,500 rows in 20s, 125 rows/s",
    ]
    assert caplog.records[0].args == ("2,000", "10,000", "rows", 20.0, "200", "rows", "40s")


def test_progress_without_total(caplog):
    clock = FakeClock()
    progress = ProgressLogger(logging.getLogger(LOGGER), what="events", every_seconds=1, clock=clock)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        clock.now += 2
        progress.update(3)
    assert [r.getMessage() for r in caplog.records] == ["3 events done, 2 events/s"]
    assert progress.eta() is None
    assert progress.done == 3


def test_progress_without_total_uses_the_share_of_the_source_read(caplog):
    clock = FakeClock()
    shares = iter([0.25, 0.5, None])
    progress = ProgressLogger(
        logging.getLogger(LOGGER), every_seconds=10, share_done=lambda: next(shares), clock=clock
    )
    with caplog.at_level(logging.INFO, logger=LOGGER):
        clock.now += 10
        progress.update(1_000)  # a quarter in 10 s: 30 s to go
        clock.now += 10
        progress.update(1_000)  # half in 20 s: 20 s to go
        clock.now += 10
        progress.update(1_000)  # the share is unknown now: no share, no ETA
    assert [r.getMessage() for r in caplog.records] == [
        "1,000 rows done (25.0% of the source read), 100 rows/s, ETA 30s",
        "2,000 rows done (50.0% of the source read), 100 rows/s, ETA 20s",
        "3,000 rows done, 100 rows/s",
    ]


def test_a_share_out_of_range_is_clamped_and_zero_gives_no_eta():
    clock = FakeClock()
    share = [1.7]
    progress = ProgressLogger(logging.getLogger(LOGGER), share_done=lambda: share[0], clock=clock)
    clock.now += 5
    assert progress.eta() == 0.0
    share[0] = 0.0
    assert progress.eta() is None


def test_progress_eta_and_rate_edges():
    clock = FakeClock()
    progress = ProgressLogger(logging.getLogger(LOGGER), total=10, clock=clock)
    assert progress.rate() == 0.0
    assert progress.eta() is None
    progress.update(10)
    assert progress.eta() == 0.0
    clock.now += 4
    assert progress.rate() == 2.5
    assert progress.elapsed == 4


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (44.6, "45s"), (185, "3m05s"), (7620, "2h07m"), (-3, "0s")]
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_progress_argument_checks():
    with pytest.raises(ValueError, match="every_seconds"):
        ProgressLogger(logging.getLogger(LOGGER), every_seconds=-1)
    with pytest.raises(ValueError, match="total"):
        ProgressLogger(logging.getLogger(LOGGER), total=-5)


def test_a_line_map_keeps_runs_and_finds_each_rows_line():
    from airflow_provider_cloud.rows import LineMap, RowOrigin

    lines = LineMap()
    lines.add(range(2, 12))  # a block of ten rows on lines 2-11: one run
    lines.add([12, 14, 15])  # line 12, then a record on lines 14-15 after a rejected line 13
    lines.add([17])
    assert lines.count == 14
    assert [lines.line(p) for p in (1, 10, 11, 12, 13, 14)] == [2, 11, 12, 14, 15, 17]
    assert len(lines._positions) == 3  # runs: 2-12, 14-15, 17
    window = RowOrigin("file:///in.csv", lines, offset=10)
    assert (window.line(1), window.line(4)) == (12, 17)
    assert window.span(1, 3) == "lines 12-15 of file:///in.csv"
    assert RowOrigin().span(3, 3) == "line 3"
    assert RowOrigin().line(7) == 7
