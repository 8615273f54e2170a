"""
Writes and deletions with a window of rows in flight, against the fake data set: what ends stored, the counts,
the order kept within a key, and lost answers checked while other rows are in flight.

Some tests make requests in flight meet in a chosen order (the fake data set's ``before``/``after``): every
wait has a timeout, so a writer that never lets the two requests meet only makes the test slower, not wrong.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from typing import Any

import pytest
import requests

from airflow_provider_cloud.exceptions import RowDataError
from tests.fake_transport import Reply, connection_dropped
from tests.unit.hooks.cloudtables.fake_service import DATASET_ID, Answer, FakeDataset, fake_hook

MEET = 0.5  # seconds a request waits, at most, for the one it is made to meet


def code_of(request: requests.PreparedRequest) -> str | None:
    return FakeDataset.form(request).get("dp-1")


def stored(dataset: FakeDataset) -> Counter[tuple[Any, Any]]:
    return Counter((row["dp-1"], row["dp-2"]) for row in dataset.rows)


def sequential(rows: list[dict[str, Any]], there: dict[str, int]) -> tuple[dict[str, int], Counter[str]]:
    """What one row after another leaves by key (upsert), and its counts."""
    final, counts = dict(there), Counter[str]()
    for row in rows:
        if row["Code"] not in final:
            counts["inserted"] += 1
        elif final[row["Code"]] == row["Count"]:
            counts["unchanged"] += 1
        else:
            counts["updated"] += 1
        final[row["Code"]] = row["Count"]
    return final, counts


def jitter(seed: int) -> Any:
    """An ``after`` that keeps each answer back a little, at random, so rows in flight finish out of order."""
    draws = random.Random(seed)
    lock = threading.Lock()

    def after(request: requests.PreparedRequest, number: int, answer: Answer) -> None:
        with lock:
            pause = draws.uniform(0, 0.004)
        time.sleep(pause)

    return after


@pytest.mark.parametrize("window", [1, 2, 4, 8])
def test_a_repeated_key_keeps_its_last_value_under_every_window(monkeypatch, window):
    draws = random.Random(window)
    there = {f"K{n}": n for n in range(0, 40, 2)}  # half the keys exist already
    rows = [{"Code": f"K{draws.randrange(40)}", "Count": draws.randrange(3)} for _ in range(300)]
    dataset = FakeDataset([{"dp-1": code, "dp-2": str(count)} for code, count in there.items()])
    dataset.after = jitter(window)
    hook, _ = fake_hook(monkeypatch, dataset, window=window)
    result = hook.write_rows(DATASET_ID, rows, key="Code")
    final, counts = sequential(rows, there)
    assert {row["dp-1"]: row["dp-2"] for row in dataset.rows} == final
    assert len(dataset.rows) == len(final)  # no key stored twice
    assert (result.inserted, result.updated, result.unchanged) == (
        counts["inserted"],
        counts["updated"],
        counts["unchanged"],
    )
    assert result.rows == len(rows)


def test_an_insert_in_flight_is_never_taken_for_a_lost_equal_one(monkeypatch):
    # Two equal rows without a key: the first insert fails before it is stored. Were the second in flight
    # (stored, not yet answered) when the first's check reads, the check would take its row for the first's:
    # one row for two inserts. The answers are made to meet that way if the writer lets them.
    dataset = FakeDataset(fail_before={1})
    second_stored, read_since = threading.Event(), threading.Event()

    def after(request: requests.PreparedRequest, number: int, answer: Answer) -> None:
        if request.method == "POST" and number == 1:
            second_stored.wait(MEET)
        elif request.method == "POST" and number == 2:
            second_stored.set()
            read_since.wait(MEET)
        elif request.method == "GET" and second_stored.is_set():
            read_since.set()

    dataset.after = after
    hook, _ = fake_hook(monkeypatch, dataset, window=4)
    rows = [{"Code": "A", "Count": 1}, {"Code": "A", "Count": 1}]
    result = hook.write_rows(DATASET_ID, rows, mode="insert")
    assert result.inserted == 2
    assert stored(dataset) == Counter({("A", 1): 2})
    assert (hook.counts.reconciled, hook.counts.resent) == (0, 1)


def test_a_check_read_while_rows_are_in_flight_keeps_what_their_answers_said(monkeypatch):
    # K2's insert is stored, its answer lost: its check reads the data set while K1's update and K3's insert
    # are in flight, and both are answered before the read's answer comes. The read's K1 is older than what
    # the update's answer said, and it has no K3: taken as it is, the later rows of K1 and K3 would see K1
    # unchanged (leaving 2) and K3 missing (stored twice).
    dataset = FakeDataset([{"dp-1": "K1", "dp-2": "1"}])
    k2_sent, k2_lost, read_taken = threading.Event(), threading.Event(), threading.Event()
    answered = {"K1": threading.Event(), "K3": threading.Event()}

    def code(request: requests.PreparedRequest) -> str | None:
        return "K1" if request.method == "PUT" and request.path_url.endswith("/1") else code_of(request)

    def before(request: requests.PreparedRequest) -> None:
        if request.method == "POST" and code(request) == "K2":
            k2_sent.set()
        elif code(request) in answered and not answered[str(code(request))].is_set():
            read_taken.wait(MEET)  # K1's update and K3's insert act after the check's read

    def after(request: requests.PreparedRequest, number: int, answer: Answer) -> Answer | None:
        code_ = code(request)
        if request.method == "POST" and code_ == "K2" and not k2_lost.is_set():
            k2_lost.set()
            return connection_dropped(request)  # stored, the answer lost
        if code_ in answered:
            answered[str(code_)].set()
        elif request.method == "GET" and k2_sent.is_set() and not read_taken.is_set():
            read_taken.set()
            for event in answered.values():
                event.wait(MEET)
            time.sleep(0.05)  # their answers reach the writer before this read's
        return None

    dataset.before, dataset.after = before, after
    hook, _ = fake_hook(monkeypatch, dataset, window=4)
    rows = [
        {"Code": "K1", "Count": 2},
        {"Code": "K3", "Count": 3},
        {"Code": "K2", "Count": 5},
        {"Code": "K2", "Count": 6},  # waits for K2, so for its check
        {"Code": "K1", "Count": 1},
        {"Code": "K3", "Count": 4},
    ]
    result = hook.write_rows(DATASET_ID, rows, key="Code")
    assert sorted(stored(dataset)) == [("K1", 1), ("K2", 6), ("K3", 4)]
    assert (result.inserted, result.updated, result.unchanged) == (2, 4, 0)
    assert hook.counts.reconciled == 1


@pytest.mark.parametrize(("mode", "key"), [("upsert", "Code"), ("insert", None)])
def test_a_window_under_many_lost_answers_ends_equal_on_its_first_try(monkeypatch, mode, key):
    codes = [f"R{n:04d}" for n in range(300)]
    if key is None:
        codes[10:40] = ["SAME"] * 30  # equal rows without a key: never two of them in flight at once
    rows = [{"Code": code, "Count": n % 4} for n, code in enumerate(codes)]
    if key is None:
        rows[10:40] = [{"Code": "SAME", "Count": 1}] * 30
    lost = set(range(3, 420, 7))
    dataset = FakeDataset(lose_after=lost, fail_before={n + 1 for n in lost if n % 2})
    dataset.after = jitter(3)
    hook, _ = fake_hook(monkeypatch, dataset, window=8)
    result = hook.write_rows(DATASET_ID, rows, mode=mode, key=key)
    assert result.inserted == 300
    assert stored(dataset) == Counter((row["Code"], row["Count"]) for row in rows)
    assert hook.counts.reconciled > 20
    assert hook.counts.resent > 10


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_updates_and_deletions_in_a_window(monkeypatch):
    dataset = FakeDataset([{"dp-1": f"R{n:03d}", "dp-2": str(n)} for n in range(120)])
    dataset.after = jitter(7)
    hook, fake = fake_hook(monkeypatch, dataset, window=6)
    logger, lines = logging.getLogger("test.cloudtables.window"), Lines()
    logger.addHandler(lines)
    logger.setLevel(logging.INFO)
    monkeypatch.setattr(hook, "_logger", lambda: logger)
    hook.progress_every = 0
    changed = [{"Code": f"R{n:03d}", "Count": n + (1 if n % 3 else 0)} for n in range(120)]
    result = hook.write_rows(DATASET_ID, changed, key="Code")
    assert (result.inserted, result.updated, result.unchanged) == (0, 80, 40)
    assert {row["dp-1"]: row["dp-2"] for row in dataset.rows} == {r["Code"]: r["Count"] for r in changed}
    done = [line.split(" rows done")[0] for line in lines.lines if " rows done" in line]
    assert done == [f"{n} of 120" for n in range(1, 121)]  # one line a row, in order
    assert lines.lines[-1].startswith("Finished: 120 rows")
    assert fake.methods.count("PUT") == 80

    gone_first = [row["id"] for row in dataset.rows if row["dp-2"] % 5 == 0][:4]
    real_handler = dataset.handler

    def someone_else_deletes_first(request: requests.PreparedRequest) -> Answer:
        if request.method == "DELETE" and int(request.path_url.rsplit("/", 1)[1]) in gone_first:
            return Reply(404, json={"success": False, "error": "no such row"})
        return real_handler(request)

    fake.handler = someone_else_deletes_first
    matching = [row for row in dataset.rows if row["dp-2"] % 5 == 0]
    deleted = hook.delete_rows(DATASET_ID, where={"Count__in": sorted({r["dp-2"] for r in matching})})
    assert deleted == len(matching) - len(gone_first)
    assert not [row for row in dataset.rows if row["dp-2"] % 5 == 0 and row["id"] not in gone_first]
    assert fake.methods.count("DELETE") == len(matching)


def test_the_first_failure_stops_new_sends(monkeypatch):
    window = 4
    rows = [{"Code": f"R{n}", "Count": n} for n in range(1, 61)]
    field_error = {"error": "Validation failed", "fieldErrors": [{"name": "dp-2", "status": "Too large"}]}
    dataset = FakeDataset(refuse={5: Reply(400, json=field_error)})
    arrived_after: list[str] = []
    refused = threading.Event()

    def after(request: requests.PreparedRequest, number: int, answer: Answer) -> None:
        if refused.is_set():
            arrived_after.append(str(code_of(request)))
        if number == 5:
            refused.set()

    dataset.after = after
    hook, _ = fake_hook(monkeypatch, dataset, window=window)
    with pytest.raises(RowDataError) as caught:
        hook.write_rows(DATASET_ID, rows, key="Code")
    refused_code = next(row["Code"] for row in rows if row["Code"] not in {r["dp-1"] for r in dataset.rows})
    assert caught.value.line == int(refused_code[1:])  # the refused row's own line
    assert caught.value.column == "Count"
    assert len(arrived_after) <= window  # the rows in flight then, at most: nothing new after
    assert len(dataset.rows) < len(rows) - 40
