"""Resumable imports without a server: windows of rows, the checkpoint, and what a retried try skips."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from airflow_provider_cloud.hooks.rowstore import WriteResult
from airflow_provider_cloud.operators import _import_resume
from airflow_provider_cloud.operators._import_resume import (
    CHECKPOINT_KEY,
    Checkpoint,
    combined,
    why_not_resumable,
    write_in_windows,
)
from airflow_provider_cloud.operators._import_stream import Windows, skip_rows

IDENTITY = {"source": "file:///in.csv", "size": 10, "checksum": "c1", "settings": "s1"}


class Store:
    """A task state store in a dict, counting writes."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.sets = 0

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self.values[key] = value
        self.sets += 1

    def delete(self, key: str) -> None:
        self.values.pop(key, None)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def blocks_of(count: int, size: int = 7) -> list[list[int]]:
    rows = list(range(1, count + 1))
    return [rows[i : i + size] for i in range(0, count, size)]


def test_skip_rows_drops_the_first_rows_across_blocks():
    assert list(skip_rows(iter(blocks_of(20)), 0)) == blocks_of(20)
    assert [r for b in skip_rows(iter(blocks_of(20)), 9) for r in b] == list(range(10, 21))
    assert list(skip_rows(iter(blocks_of(20)), 7)) == blocks_of(20)[1:]
    assert list(skip_rows(iter(blocks_of(20)), 25)) == []


def test_windows_cut_the_rows_into_windows_of_a_size_each():
    windows = Windows(iter(blocks_of(30)))
    seen = []
    for size in (10, 4, 100):
        window = windows.next(size)
        assert window is not None
        seen.append([r for block in window for r in block])
        assert window.rows == len(seen[-1])
    assert seen == [list(range(1, 11)), list(range(11, 15)), list(range(15, 31))]
    assert windows.next(5) is None


def test_a_checkpoint_is_written_at_most_every_few_seconds_and_when_the_write_fails():
    store, clock = Store(), Clock()
    checkpoint = Checkpoint(store, IDENTITY, try_number=1, log=logging.getLogger("t"), clock=clock)
    assert checkpoint.start() == 0
    for stored in (100, 200, 300):
        clock.now += 1
        checkpoint.advance(stored)
    assert store.sets == 0  # within CHECKPOINT_EVERY_SECONDS of the start
    clock.now += _import_resume.CHECKPOINT_EVERY_SECONDS
    checkpoint.advance(400)
    assert store.values[CHECKPOINT_KEY] == {**IDENTITY, "rows_stored": 400, "try": 1}
    checkpoint.advance(500)
    checkpoint.failed()
    assert store.values[CHECKPOINT_KEY]["rows_stored"] == 500
    assert store.sets == 2
    checkpoint.failed()  # nothing new: not written again
    assert store.sets == 2


def test_the_next_try_starts_after_the_rows_known_stored_of_the_same_source(caplog):
    store = Store()
    store.set(CHECKPOINT_KEY, {**IDENTITY, "rows_stored": 1600, "try": 1})
    with caplog.at_level(logging.INFO):
        assert Checkpoint(store, IDENTITY, try_number=2, log=logging.getLogger("t")).start() == 1600
    assert "Resuming the import of file:///in.csv: 1,600 rows were stored by try 1" in caplog.text


@pytest.mark.parametrize("changed", ["size", "checksum", "settings", "source"])
def test_another_version_of_the_source_or_settings_starts_from_the_beginning(caplog, changed):
    store = Store()
    store.set(CHECKPOINT_KEY, {**IDENTITY, changed: "other", "rows_stored": 1600, "try": 1})
    with caplog.at_level(logging.INFO):
        assert Checkpoint(store, IDENTITY, try_number=2, log=logging.getLogger("t")).start() == 0
    assert (
        f"another version of the source or other settings (changed: {changed}); starting from the beginning"
        in caplog.text
    )


class Writer:
    """Stands in for a hook's write_rows: records the rows of each call, fails on a given row."""

    def __init__(self, fail_on: int | None = None, per_request: int = 10, unchanged: bool = False) -> None:
        self.calls: list[list[int]] = []
        self.fail_on = fail_on
        self.per_request = per_request
        self.unchanged = unchanged

    def __call__(self, rows: Any) -> WriteResult:
        got: list[int] = []
        for row in rows:
            if row == self.fail_on:
                self.calls.append(got)
                raise RuntimeError("server fault")
            got.append(row)
        self.calls.append(got)
        requests = -(-len(got) // self.per_request)
        return WriteResult(rows=len(got), requests=requests, unchanged=0 if self.unchanged else None)


def run(writer: Writer, store: Store, rows: int = 100, batch_size: int | None = None, try_number: int = 1):
    checkpoint = Checkpoint(store, IDENTITY, try_number=try_number, log=logging.getLogger("t"))
    return write_in_windows(
        writer, iter(blocks_of(rows)), checkpoint, keys=["id"], source="f", batch_size=batch_size
    )


def test_a_failed_write_resumes_within_one_window(monkeypatch):
    monkeypatch.setattr(_import_resume, "WINDOW_REQUESTS", 2)
    monkeypatch.setattr(_import_resume, "FIRST_WINDOW_ROWS", 15)
    store, first = Store(), Writer(fail_on=58)
    with pytest.raises(RuntimeError):
        run(first, store)
    # windows: 15 rows, then 2 requests of 10 rows (learned: 15 rows in 2 requests -> 8 a request -> 16)
    assert [len(c) for c in first.calls] == [15, 16, 16, 10]
    assert store.values[CHECKPOINT_KEY]["rows_stored"] == 47

    second = Writer()
    result, skipped = run(second, store, try_number=2)
    assert skipped == 47
    assert second.calls[0][0] == 48  # rows 48..57 of the failed window are sent again: less than a window
    assert [r for c in second.calls for r in c] == list(range(48, 101))
    assert result.rows == 53
    assert CHECKPOINT_KEY not in store.values  # cleared on success


def test_given_a_batch_size_the_windows_are_whole_batches(monkeypatch):
    monkeypatch.setattr(_import_resume, "WINDOW_REQUESTS", 3)
    writer = Writer(per_request=5)
    run(writer, Store(), rows=40, batch_size=5)
    assert [len(c) for c in writer.calls] == [15, 15, 10]


def test_a_hook_comparing_rows_with_what_it_stores_gets_the_rest_in_one_write(monkeypatch):
    monkeypatch.setattr(_import_resume, "FIRST_WINDOW_ROWS", 15)
    writer = Writer(unchanged=True, per_request=1)
    result, _ = run(writer, Store())
    assert [len(c) for c in writer.calls] == [15, 85]
    assert result.unchanged == 0


def test_combined_results_add_up():
    results = [WriteResult(rows=3, requests=1), WriteResult(rows=2, requests=1, created=True)]
    assert combined(results) == WriteResult(rows=5, requests=2, created=True)
    with_counts = [WriteResult(rows=1, requests=1, inserted=1, updated=0, unchanged=0, ignored=0)] * 2
    assert combined(with_counts).as_dict() == {
        "rows": 2,
        "requests": 2,
        "created": False,
        "inserted": 2,
        "updated": 0,
        "unchanged": 0,
        "ignored": 0,
    }


@pytest.mark.parametrize(
    ("mode", "keys", "inline", "reason"),
    [
        ("upsert", ["id"], False, None),
        ("ignore", ["id"], False, None),
        ("replace", ["a", "b"], False, None),
        (
            "insert",
            ["id"],
            False,
            "mode 'insert': only upsert, ignore, replace write rows again as they were",
        ),
        ("upsert", [], False, "the rows have no key: written again, they would be written twice"),
        ("upsert", ["id"], True, "the rows are given inline"),
    ],
)
def test_which_imports_resume(mode, keys, inline, reason):
    assert why_not_resumable(mode, keys, inline=inline) == reason
