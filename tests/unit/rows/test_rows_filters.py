from __future__ import annotations

import datetime
from typing import Any

import pytest

from airflow_provider_cloud.rows import OPS, Filter, matches_all, parse_filters

ROWS: dict[str, dict[str, Any]] = {
    "ann": {
        "name": "Ann",
        "age": 31,
        "score": 2.5,
        "active": True,
        "city": "Boston",
        "zip": "02134",
        "born": datetime.date(1993, 4, 1),
    },
    "bob": {
        "name": "Bob",
        "age": 45,
        "score": None,
        "active": False,
        "city": "Bonn",
        "zip": "53111",
        "born": datetime.date(1979, 1, 9),
    },
    "cy": {"name": "Cy", "age": None, "score": 7.0, "active": None, "city": None, "zip": None, "born": None},
}


def matching(where) -> list[str]:
    filters = parse_filters(where)
    return [key for key, row in ROWS.items() if matches_all(row, filters)]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ({"name": "Ann"}, ["ann"]),
        ({"name__exact": "Bob"}, ["bob"]),
        ({"age": 31}, ["ann"]),
        ({"age": "31"}, ["ann"]),
        ({"score": 7}, ["cy"]),
        ({"active": "true"}, ["ann"]),
        ({"active": 0}, ["bob"]),
        ({"age": None}, ["cy"]),
        ({"age__not": 31}, ["bob"]),
        ({"age__not": None}, ["ann", "bob"]),
        ({"name__not": "Zed"}, ["ann", "bob", "cy"]),
        ({"age__lt": 45}, ["ann"]),
        ({"age__lte": 45}, ["ann", "bob"]),
        ({"age__gt": "31"}, ["bob"]),
        ({"age__gte": 31.0}, ["ann", "bob"]),
        ({"score__lt": 5}, ["ann"]),
        ({"name__gt": "B"}, ["bob", "cy"]),
        ({"born__lt": "1990-01-01"}, ["bob"]),
        ({"born__gte": datetime.date(1993, 4, 1)}, ["ann"]),
        ({"zip__gt": 10000}, ["bob"]),
        ({"name__lt": 5}, []),
        ({"name__in": ["Ann", "Cy"]}, ["ann", "cy"]),
        ({"name__in": "Ann, Bob"}, ["ann", "bob"]),
        ({"age__in": "31,99"}, ["ann"]),
        ({"age__in": '[45, "31"]'}, ["ann", "bob"]),
        ({"age__in": []}, []),
        ({"age__notin": [31]}, ["bob"]),
        ({"age__notin": ""}, ["ann", "bob"]),
        ({"name__notin": ("Ann",)}, ["bob", "cy"]),
        ({"age__isnull": True}, ["cy"]),
        ({"age__isnull": "1"}, ["cy"]),
        ({"age__isnull": "true"}, ["cy"]),
        ({"age__isnull": False}, ["ann", "bob"]),
        ({"age__isnull": "false"}, ["ann", "bob"]),
        ({"city__contains": "o"}, ["ann", "bob"]),
        ({"city__contains": "O"}, []),
        ({"city__contains": "ost"}, ["ann"]),
        ({"age__contains": "3"}, []),
        ({"city__startswith": "Bo"}, ["ann", "bob"]),
        ({"city__startswith": "bo"}, []),
        ({"zip__startswith": 0}, ["ann"]),
        ({"missing": None}, ["ann", "bob", "cy"]),
        ({"missing__isnull": False}, []),
        ({"city__startswith": "Bo", "age__gt": 40}, ["bob"]),
        ({}, ["ann", "bob", "cy"]),
        (None, ["ann", "bob", "cy"]),
    ],
)
def test_filter_semantics(where, expected):
    assert matching(where) == expected


def test_every_operator_is_covered_above():
    covered = {"exact", "not", "lt", "lte", "gt", "gte", "in", "notin", "isnull", "contains", "startswith"}
    assert set(OPS) == covered


@pytest.mark.parametrize(
    ("key", "column", "op"),
    [
        ("age", "age", "exact"),
        ("age__gt", "age", "gt"),
        ("a__b", "a__b", "exact"),
        ("a__b__lt", "a__b", "lt"),
        ("created__at__notin", "created__at", "notin"),
        ("x__exact", "x", "exact"),
    ],
)
def test_keys_split_at_the_last_known_operator(key, column, op):
    [condition] = parse_filters({key: [1] if op == "notin" else 1})
    assert (condition.column, condition.op) == (column, op)


def test_filter_key_round_trips():
    assert Filter("age", "gt", 3).key == "age__gt"
    assert Filter("age", "exact", 3).key == "age"


@pytest.mark.parametrize(
    ("where", "error", "message"),
    [
        ({"__lt": 1}, ValueError, r"filter '__lt' has no column name before '__lt'"),
        ({"": 1}, ValueError, "non-empty column names"),
        ({"age__isnull": "maybe"}, ValueError, r"filter 'age__isnull' needs true or false, not 'maybe'"),
        ({"age__in": 5}, ValueError, r"filter 'age__in' needs a list, tuple or set"),
        ({"age__in": "[1,"}, ValueError, "is not a JSON array"),
        ({"age__lt": None}, ValueError, "needs a value to compare with"),
        ({"name__contains": None}, ValueError, r"filter 'name__contains' needs text"),
        (["age"], TypeError, "where must be a mapping"),
    ],
)
def test_parse_errors(where, error, message):
    with pytest.raises(error, match=message):
        parse_filters(where)


def test_unknown_operator_is_reported_when_columns_are_known():
    with pytest.raises(ValueError, match="no column 'age__le'") as caught:
        parse_filters({"age__le": 3}, columns=["age", "name"])
    message = str(caught.value)
    assert "no column 'age__le' (the columns are 'age', 'name')" in message
    assert (
        "'le' is not an operator (the operators are exact, not, lt, lte, gt, gte, in, notin, isnull, contains, startswith)"
        in message
    )


def test_unknown_operator_without_columns_is_a_column_name():
    [condition] = parse_filters({"age__le": 3})
    assert (condition.column, condition.op) == ("age__le", "exact")


def test_filter_validates_operator_directly():
    with pytest.raises(ValueError, match="unknown filter operator 'like'; the operators are exact, not"):
        Filter("name", "like", "A%")
    with pytest.raises(ValueError, match="non-empty column name"):
        Filter("", "exact", 1)


def test_aware_and_naive_datetimes_do_not_match_instead_of_failing():
    row = {"at": datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)}
    assert not Filter("at", "lt", datetime.datetime(2025, 1, 1)).matches(row)
    assert Filter("at", "lt", "2025-01-01T00:00:00+00:00").matches(row)
