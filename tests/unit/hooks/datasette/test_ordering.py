"""Which batches in flight a batch waits for: those holding one of its keys, or adding one of its new columns."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

import pytest

from airflow_provider_cloud.hooks.datasette.batches import Batch
from airflow_provider_cloud.hooks.datasette.ordering import WriteOrder, key_set, key_value


def batch(*ids: Any, columns: tuple[str, ...] = ("id", "name")) -> Batch:
    return Batch(frozenset(columns), [{c: i for c in columns} for i in ids], 1)


def pending() -> Future[None]:
    return Future()


@pytest.mark.parametrize(
    ("one", "other"),
    [(7, 7.0), (7, "7"), (7, " 007 "), (1, True), (0, False), (2.5, "2.5"), ("Ab", "ab "), (1000, "1e3")],
)
def test_values_the_server_may_store_as_one_key_are_one_key(one, other):
    assert key_value(one) == key_value(other)


@pytest.mark.parametrize(("one", "other"), [(7, 8), ("a", "b"), (7, "7a"), (2.5, 2), ("x", [1])])
def test_other_values_stay_apart(one, other):
    assert key_value(one) != key_value(other)


def test_a_list_or_an_object_as_a_key_is_compared_by_its_text():
    assert key_set([{"id": [1, 2]}, {"id": {"a": 1}}], ["id"]) == {"[1, 2]", "{'a': 1}"}


def test_key_sets_of_integer_keys_are_the_values_and_of_compound_keys_tuples():
    assert key_set([{"id": 3}, {"id": 1}], ["id"]) == {1, 3}
    assert key_set([{"a": 1, "b": "X"}, {"a": "1", "b": "y"}], ["a", "b"]) == {(1, "x"), (1, "y")}


def test_a_batch_waits_for_the_batches_in_flight_that_hold_one_of_its_keys():
    order = WriteOrder(["id"], alter=False)
    first, second = pending(), pending()
    after, keys, adds = order.before(batch(1, 2, 3), None)
    assert after == []
    order.track(keys, adds, first)
    after, keys, adds = order.before(batch(4, 5), None)
    assert after == []
    order.track(keys, adds, second)

    assert order.before(batch(5, 9), None)[0] == [second]
    assert order.before(batch("3", 4), None)[0] == [first, second]
    second.set_result(None)  # done: nothing to wait for any more
    assert order.before(batch(5, 9), None)[0] == []


def test_without_a_key_batches_never_wait_for_one_another():
    order = WriteOrder([], alter=False)
    after, keys, adds = order.before(batch(1), None)
    order.track(keys, adds, pending())
    assert order.before(batch(1), None)[0] == []


def test_a_batch_bringing_a_new_column_waits_for_one_in_flight_that_may_add_it():
    order = WriteOrder(["id"], alter=True)
    known = frozenset({"id", "name"})
    adding = pending()
    after, keys, adds = order.before(batch(1, columns=("id", "name", "city")), known)
    assert adds == {"city"}
    order.track(keys, adds, adding)

    assert order.before(batch(2, columns=("id", "city")), known)[0] == [adding]
    assert order.before(batch(3, columns=("id", "name")), known)[0] == []  # needs no new column
    assert order.before(batch(4, columns=("id", "zip")), known)[0] == []  # another new column
    # Once the table is known to have it, a batch with that column no longer waits.
    assert order.before(batch(5, columns=("id", "city")), known | {"city"})[0] == []


def test_with_the_columns_unknown_every_column_may_be_new():
    order = WriteOrder(["id"], alter=True)
    after, keys, adds = order.before(batch(1), None)
    order.track(keys, adds, first := pending())
    assert order.before(batch(2), None)[0] == [first]
