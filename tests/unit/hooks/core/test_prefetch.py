from __future__ import annotations

import threading
import time

import pytest

from airflow_provider_cloud.hooks.core.prefetch import prefetched


def test_items_come_in_order_across_pages():
    pages = iter([[1, 2], [], [3], [4, 5, 6]])
    assert list(prefetched(pages)) == [1, 2, 3, 4, 5, 6]


def test_a_fetch_error_is_raised_where_its_page_would_come():
    def pages():
        yield [1, 2]
        raise LookupError("page 2 failed")

    stream = prefetched(pages())
    assert [next(stream), next(stream)] == [1, 2]
    with pytest.raises(LookupError, match="page 2 failed"):
        next(stream)


def test_reads_at_most_depth_pages_ahead():
    fetched = []

    def pages():
        for n in range(10):
            fetched.append(n)
            yield [n]

    stream = prefetched(pages(), depth=1)
    assert next(stream) == 0
    deadline = time.monotonic() + 5
    while len(fetched) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    # page 0 is being consumed, page 1 waits in the queue, page 2 is fetched and blocked on the full queue
    assert len(fetched) <= 3
    stream.close()


def test_closing_early_stops_the_thread_and_closes_the_pages():
    closed = threading.Event()

    def pages():
        try:
            n = 0
            while True:
                yield [n]
                n += 1
        finally:
            closed.set()

    before = threading.active_count()
    stream = prefetched(pages(), name="test-prefetch")
    assert [next(stream), next(stream)] == [0, 1]
    stream.close()
    assert closed.wait(5)
    assert not any(t.name == "test-prefetch" for t in threading.enumerate())
    assert threading.active_count() <= before
