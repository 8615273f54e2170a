"""
Writes with several batches in flight (``BatchWriter(window=N)``): the last value of a key wins whatever the
window, the first failure stops new sends and names its batch's lines, the row limit is learned by any thread,
and an insert whose answer is lost in a window is checked and counted once.
"""

from __future__ import annotations

import json
import random
import threading
import time
from typing import Any

import pytest

from airflow_provider_cloud.exceptions import BadRequestError, ServerError
from airflow_provider_cloud.hooks.datasette import DatasetteHook
from airflow_provider_cloud.hooks.datasette.batches import BatchPlanner
from airflow_provider_cloud.hooks.datasette.sender import BatchWriter
from tests.unit.hooks.datasette.fake_server import FakeDatasette

WINDOWS = [1, 2, 4, 8, 16]


class SlowTable:
    """A table behind a ``post`` that takes a seeded random while per batch, so batches finish out of order."""

    def __init__(self, seed: int, limit: int | None = None) -> None:
        self.rows: dict[Any, dict[str, Any]] = {}
        self.limit = limit
        self.lock = threading.Lock()
        self.random = random.Random(seed)
        self.in_flight = 0
        self.most_in_flight = 0
        self.posted: list[list[int]] = []

    def post(self, method: str, path: str, *, data: Any, headers: Any, idempotent: bool, **_: Any) -> Any:
        rows = json.loads(b"".join(data))["rows"]
        with self.lock:
            pause = self.random.uniform(0, 0.004)
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            time.sleep(pause)
            with self.lock:
                self.posted.append([row["id"] for row in rows])
                if self.limit is not None and len(rows) > self.limit:
                    too_many = f"Too many rows, maximum allowed is {self.limit}"
                    raise BadRequestError(too_many, service="Datasette", status_code=400, errors=[too_many])
                for row in rows:
                    self.rows[row["id"]] = row
            return {"ok": True}
        finally:
            with self.lock:
                self.in_flight -= 1


def write(writer: BatchWriter, rows: list[dict[str, Any]], max_rows: int) -> None:
    planner = BatchPlanner(max_rows=max_rows, max_bytes=1_000_000, key=["id"])
    with writer:
        for index, row in enumerate(rows, start=1):
            for batch in planner.add(row, index):
                writer.submit(batch)
                if writer.learned_max_rows is not None:
                    planner.max_rows = min(planner.max_rows, writer.learned_max_rows)
        for batch in planner.drain():
            writer.submit(batch)


@pytest.mark.parametrize("window", WINDOWS)
def test_a_key_repeated_across_batches_keeps_its_last_value_under_every_window(window):
    rows = [{"id": n % 37, "version": n} for n in range(2_000)]  # each key in about every other batch
    table = SlowTable(seed=window)

    writer = BatchWriter(table.post, "/data/t/-/upsert", "upsert", alter=False, window=window, keys=["id"])
    write(writer, rows, max_rows=20)

    last = {row["id"]: row["version"] for row in rows}
    assert {key: row["version"] for key, row in table.rows.items()} == last
    assert (writer.rows, writer.batches) == (2_000, 100)
    assert table.most_in_flight <= window


@pytest.mark.parametrize("window", [2, 8])
def test_batches_of_different_keys_go_side_by_side(window):
    table = SlowTable(seed=1)
    writer = BatchWriter(table.post, "/data/t/-/upsert", "upsert", alter=False, window=window, keys=["id"])
    write(writer, [{"id": n} for n in range(400)], max_rows=10)

    assert len(table.rows) == 400
    assert 1 < table.most_in_flight <= window


def test_the_first_failure_stops_new_sends_and_names_its_batch():
    sent: list[int] = []
    lock = threading.Lock()

    def post(method: str, path: str, *, data: Any, **_: Any) -> Any:
        rows = json.loads(b"".join(data))["rows"]
        with lock:
            sent.append(rows[0]["id"])
        time.sleep(0.002)
        if rows[0]["id"] == 201:
            raise ServerError("boom", service="Datasette", status_code=500, errors=["boom"])
        return {"ok": True}

    writer = BatchWriter(post, "/data/t/-/upsert", "upsert", alter=False, window=4, keys=["id"])
    with pytest.raises(ServerError) as caught:
        write(writer, [{"id": n} for n in range(1, 5_001)], max_rows=100)

    assert "in the batch of rows at lines 201-300" in caught.value.errors
    assert len(sent) <= 3 + 2 * 4  # of 50 batches: none once its failure was seen
    assert writer.rows == 100 * (len(sent) - 1)
    later = [f"lines {first}-{first + 99}" for first in sorted(sent) if first > 201]
    if later:
        assert caught.value.errors[-1] == (
            f"batches sent after it, already in flight when it failed, were written: {', '.join(later)}"
        )


@pytest.mark.parametrize("window", [2, 8])
def test_the_row_limit_a_refusal_teaches_is_learned_by_every_thread(window):
    table = SlowTable(seed=3, limit=30)
    writer = BatchWriter(table.post, "/data/t/-/insert", "insert", alter=False, window=window, keys=["id"])
    write(writer, [{"id": n} for n in range(1, 1_001)], max_rows=100)

    assert writer.learned_max_rows == 30
    assert sorted(table.rows) == list(range(1, 1_001))
    assert writer.rows == 1_000
    # At most a window's refusals: only the batches already in flight when the limit was learned are over it.
    # (Counted, not placed: posts are recorded as they finish, so a refused straggler may be recorded after
    # pieces that other threads sent later; a test of its place failed now and then.)
    assert sum(len(ids) > 30 for ids in table.posted) <= window


@pytest.fixture
def hook(served_hook: DatasetteHook) -> DatasetteHook:
    return served_hook


@pytest.mark.parametrize("how", ["after", "before"])
def test_inserts_whose_answers_are_lost_in_a_window_are_each_stored_once(hook, server: FakeDatasette, how):
    server.execute("create table t (id integer primary key, name text)")
    for _ in range(3):
        server.lose("POST", "/t/-/insert", how)
    rows = [{"id": n, "name": f"n{n}"} for n in range(1, 1_001)]

    result = hook.write_rows("t", rows, mode="insert", window=4)

    assert result.rows == 1_000
    assert server.table("t") == rows  # each row once: a lost insert was found stored, or sent again
    assert hook.counts.reconciled + hook.counts.resent == 3
