from __future__ import annotations

import random

import pytest

from airflow_provider_cloud.exceptions import RowDataError
from airflow_provider_cloud.rows import RowCheck


@pytest.mark.parametrize("value", [None, ""])
def test_a_row_without_a_key_value_is_named_by_line_and_column(value):
    check = RowCheck(["id", "region"], None)
    error = check.error({"id": 7, "region": value, "name": "x"}, source="in.csv", line=12)
    assert isinstance(error, RowDataError)
    assert (error.source, error.line, error.column) == ("in.csv", 12, "region")
    assert "no value for its key" in str(error)
    assert not check.passes([{"id": 1, "region": "eu"}, {"id": 7, "region": value}])


def test_the_first_key_in_key_order_is_named():
    error = RowCheck(["a", "b"], None).error({"b": None, "a": None}, source="s", line=1)
    assert error is not None
    assert error.column == "a"


def test_an_unknown_column_is_named_with_the_columns_there_are():
    check = RowCheck([], {"id", "name"})
    error = check.error({"id": 1, "nmae": "x", "zzz": 2}, source="rows", line=3)
    assert error is not None
    assert error.column == "nmae"  # the first unknown one, in the row's order
    assert "['id', 'name']" in str(error)


def test_a_good_row_passes_and_nothing_is_checked_without_keys_or_columns():
    assert RowCheck(["id"], {"id", "name"}).error({"id": 0, "name": None}, source="s", line=1) is None
    assert RowCheck(["id"], {"id"}).passes([{"id": 0}, {"id": "0"}])
    anything = RowCheck([], None)
    assert not anything.checks_anything
    assert anything.passes([{"x": None}, {}])
    assert RowCheck(["id"], None).checks_anything
    assert RowCheck([], set()).checks_anything


@pytest.mark.parametrize("seed", range(30))
def test_a_block_passes_exactly_when_every_row_does(seed):
    rng = random.Random(seed)
    check = RowCheck(["id"], {"id", "a", "b"})
    values = [1, 0, None, "", "x"]
    rows = [
        {name: rng.choice(values) for name in rng.sample(["id", "a", "b", "c"], rng.randint(1, 4))}
        for _ in range(rng.randint(1, 8))
    ]
    by_row = all(check.error(row, source="s", line=n) is None for n, row in enumerate(rows, 1))
    assert check.passes(rows) == by_row
