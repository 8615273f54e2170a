"""The switch interval is lowered while pipelines run and put back when the last one ends."""

from __future__ import annotations

import sys
import threading

import pytest

from airflow_provider_cloud.hooks.core.prefetch import prefetched
from airflow_provider_cloud.hooks.core.switching import SWITCH_INTERVAL, quick_thread_switching


@pytest.fixture(autouse=True)
def default_interval():
    saved = sys.getswitchinterval()
    sys.setswitchinterval(0.005)
    yield
    sys.setswitchinterval(saved)


def test_lowered_inside_and_restored_after():
    with quick_thread_switching():
        assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL)
    assert sys.getswitchinterval() == pytest.approx(0.005)


def test_nested_and_overlapping_uses_restore_once_the_last_ends():
    first = quick_thread_switching()
    second = quick_thread_switching()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL)  # the second still runs
    second.__exit__(None, None, None)
    assert sys.getswitchinterval() == pytest.approx(0.005)


def test_concurrent_threads_leave_the_interval_as_it_was():
    start = threading.Barrier(8)

    def work() -> None:
        start.wait()
        for _ in range(200):
            with quick_thread_switching():
                assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sys.getswitchinterval() == pytest.approx(0.005)


def test_a_value_changed_meanwhile_is_not_overwritten():
    with quick_thread_switching():
        sys.setswitchinterval(0.002)
    assert sys.getswitchinterval() == pytest.approx(0.002)


def test_a_lower_interval_is_left_alone():
    sys.setswitchinterval(0.0001)
    with quick_thread_switching():
        assert sys.getswitchinterval() == pytest.approx(0.0001)
    assert sys.getswitchinterval() == pytest.approx(0.0001)


def test_read_ahead_lowers_it_while_reading_and_restores_it_when_closed_early():
    pages = iter([[1, 2], [3, 4], [5, 6]])
    reader = prefetched(pages)
    assert next(reader) == 1
    assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL)
    reader.close()
    assert sys.getswitchinterval() == pytest.approx(0.005)


def test_batch_writer_lowers_it_while_sending_and_restores_it_on_close():
    from airflow_provider_cloud.hooks.datasette.batches import BatchPlanner
    from airflow_provider_cloud.hooks.datasette.sender import BatchWriter

    seen: list[float] = []

    class Hook:
        def request_json(self, *args: object, **kwargs: object) -> dict[str, bool]:
            seen.append(sys.getswitchinterval())
            return {"ok": True}

    planner = BatchPlanner(max_rows=2, max_bytes=10_000)
    with BatchWriter(Hook().request_json, "/db/t/-/insert", "insert", alter=False) as writer:
        for index in range(1, 6):
            for batch in planner.add({"id": index}, index):
                writer.submit(batch)
        for batch in planner.drain():
            writer.submit(batch)
    assert writer.rows == 5
    assert seen == [pytest.approx(SWITCH_INTERVAL)] * 3
    assert sys.getswitchinterval() == pytest.approx(0.005)
