"""Inserts whose answer is lost are checked with one read, then counted done or sent again; never sent twice blindly."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_cloud.exceptions import ApiConnectionError, ConflictError, ServerError
from tests.unit.hooks.cloudtables.fake_service import DATASET_ID, FakeDataset, fake_hook

ROWS = [{"Code": "A", "Count": 1}, {"Code": "B", "Count": 2}, {"Code": "C", "Count": 3}]


def stored(dataset: FakeDataset) -> list[tuple[Any, ...]]:
    return [(row["id"], row["dp-1"], row["dp-2"]) for row in dataset.rows]


def test_a_keyed_insert_stored_before_its_answer_was_lost_is_done_after_one_read(monkeypatch):
    dataset = FakeDataset(lose_after={2})
    hook, fake = fake_hook(monkeypatch, dataset)
    result = hook.write_rows(DATASET_ID, ROWS, key="Code")
    assert (result.inserted, result.rows) == (3, 3)
    assert stored(dataset) == [(1, "A", 1), (2, "B", 2), (3, "C", 3)]  # B once
    # schema, rows before the first write, A, B (lost), the check, C: two requests for the lost one
    assert fake.methods == ["GET", "GET", "POST", "POST", "GET", "POST"]
    assert hook.counts.as_dict() == {"attempts": 6, "retries": 0, "reconciled": 1, "resent": 0}
    assert hook.sleeps == []  # type: ignore[attr-defined]


def test_a_keyed_insert_that_failed_before_it_was_stored_is_sent_again(monkeypatch):
    dataset = FakeDataset(fail_before={2})
    hook, fake = fake_hook(monkeypatch, dataset)
    result = hook.write_rows(DATASET_ID, ROWS, key="Code")
    assert result.inserted == 3
    assert stored(dataset) == [(1, "A", 1), (2, "B", 2), (3, "C", 3)]
    assert fake.methods == ["GET", "GET", "POST", "POST", "GET", "POST", "POST"]
    assert (hook.counts.reconciled, hook.counts.resent, hook.counts.retries) == (0, 1, 1)


def test_the_check_keeps_the_key_map_current(monkeypatch):
    # another writer adds "C" while B's answer is lost: the check's read shows it, so C becomes an update
    dataset = FakeDataset(lose_after={2}, interloper={2: {"dp-1": "C", "dp-2": "0"}})
    hook, fake = fake_hook(monkeypatch, dataset)
    result = hook.write_rows(DATASET_ID, ROWS, key="Code")
    assert (result.inserted, result.updated) == (2, 1)
    assert stored(dataset) == [(1, "A", 1), (2, "C", 3), (3, "B", 2)]
    assert fake.methods[-1] == "PUT"


def test_a_keyed_row_found_with_other_values_leaves_the_write_in_doubt(monkeypatch):
    dataset = FakeDataset(fail_before={2}, interloper={2: {"dp-1": "B", "dp-2": "99"}})
    hook, fake = fake_hook(monkeypatch, dataset)
    with pytest.raises(ConflictError) as caught:
        hook.write_rows(DATASET_ID, ROWS, key="Code")
    message = str(caught.value)
    assert "rows, line 2: the answer to the insert was lost" in message
    assert "row 2 has its key but other values in 'Count'" in message
    assert "The write is in doubt and was not sent again" in message
    assert isinstance(caught.value.__cause__, ServerError)  # what was lost
    assert fake.methods == ["GET", "GET", "POST", "POST", "GET"]  # nothing sent after the check
    assert stored(dataset) == [(1, "A", 1), (2, "B", 99)]


def test_a_keyless_insert_stored_before_its_answer_was_lost_is_told_from_equal_rows_there_before(monkeypatch):
    dataset = FakeDataset([{"dp-1": "A", "dp-2": "1"}, {"dp-1": "B", "dp-2": "2"}], lose_after={1, 3})
    hook, fake = fake_hook(monkeypatch, dataset)
    result = hook.write_rows(DATASET_ID, ROWS, mode="insert")
    assert result.inserted == 3
    assert stored(dataset) == [(1, "A", 1), (2, "B", 2), (3, "A", 1), (4, "B", 2), (5, "C", 3)]
    # schema, rows before (one read without a key too), A (lost), check, B, C (lost), check
    assert fake.methods == ["GET", "GET", "POST", "GET", "POST", "POST", "GET"]
    assert (hook.counts.reconciled, hook.counts.resent) == (2, 0)


def test_a_keyless_insert_that_failed_before_it_was_stored_is_sent_again(monkeypatch):
    dataset = FakeDataset([{"dp-1": "A", "dp-2": "1"}], fail_before={1, 3})
    hook, fake = fake_hook(monkeypatch, dataset)
    hook.write_rows(DATASET_ID, ROWS, mode="insert")
    assert stored(dataset) == [(1, "A", 1), (2, "A", 1), (3, "B", 2), (4, "C", 3)]
    assert (hook.counts.reconciled, hook.counts.resent) == (0, 2)


def test_a_keyless_row_equal_to_one_another_writer_added_meanwhile_is_taken_for_this_one(monkeypatch):
    # the documented limit without a key: an equal row created since the write began cannot be told apart
    dataset = FakeDataset(fail_before={2}, interloper={2: {"dp-1": "B", "dp-2": "2"}})
    hook, _ = fake_hook(monkeypatch, dataset)
    hook.write_rows(DATASET_ID, ROWS, mode="insert")
    assert stored(dataset) == [(1, "A", 1), (2, "B", 2), (3, "C", 3)]


def test_a_lone_insert_whose_answer_was_lost_is_in_doubt_when_an_equal_row_is_there(monkeypatch):
    dataset = FakeDataset(lose_after={1})
    hook, fake = fake_hook(monkeypatch, dataset)
    with pytest.raises(ConflictError) as caught:
        hook.insert_row(DATASET_ID, {"Code": "A", "Count": 1})
    assert "1 row(s) equal to it were there already" in str(caught.value)
    assert isinstance(caught.value.__cause__, ApiConnectionError)
    assert fake.methods == ["GET", "POST", "GET"]
    assert len(dataset.rows) == 1


def test_a_lone_insert_that_failed_before_it_was_stored_is_sent_again_when_no_row_is_equal(monkeypatch):
    dataset = FakeDataset([{"dp-1": "A", "dp-2": "1"}], fail_before={1})
    hook, fake = fake_hook(monkeypatch, dataset)
    row = hook.insert_row(DATASET_ID, {"Code": "A", "Count": 2})
    assert (row["id"], row["Code"], row["Count"]) == (2, "A", 2)
    assert fake.methods == ["GET", "POST", "GET", "POST"]


def test_a_write_under_many_lost_answers_ends_equal_on_its_first_try(monkeypatch):
    rows = [{"Code": f"R{n:04d}", "Count": n} for n in range(300)]
    lost = set(range(3, 400, 7))
    dataset = FakeDataset(lose_after=lost, fail_before={n + 1 for n in lost if n % 2})
    hook, _ = fake_hook(monkeypatch, dataset)
    result = hook.write_rows(DATASET_ID, rows, key="Code")
    assert result.inserted == 300
    assert [(row["dp-1"], row["dp-2"]) for row in dataset.rows] == [(r["Code"], r["Count"]) for r in rows]
    assert hook.counts.reconciled > 20
    assert hook.counts.resent > 10
