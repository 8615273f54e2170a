"""Reading CloudTables rows by name with a fake fetch: lazy, filtered, projected and sorted on this side."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pytest

from airflow_provider_cloud.hooks.cloudtables.reads import select_rows
from airflow_provider_cloud.hooks.cloudtables.schema import DatasetSchema
from tests.unit.hooks.cloudtables.support import airports

STORED = [
    {"id": 1, "dv": 0, "dp-1": "Edinburgh", "dp-2": 1},
    {"id": 2, "dv": 0, "dp-1": "Aberdeen", "dp-2": 2},
    {"id": 3, "dv": 3, "dp-1": "Glasgow", "dp-2": None},
    {"id": 4, "dv": 0, "dp-1": "Barra", "dp-2": 2},
]


class Source:
    """Counts the schema loads and row fetches a read makes."""

    def __init__(self) -> None:
        self.loads = 0
        self.fetched: list[str] = []

    def load(self) -> DatasetSchema:
        self.loads += 1
        return airports()

    def fetch(self, schema: DatasetSchema) -> Iterable[Mapping[str, Any]]:
        self.fetched.append(schema.dataset_id)
        return STORED


def test_nothing_is_fetched_until_the_first_row_is_asked_for():
    source = Source()
    rows = select_rows(source.load, source.fetch, where=None, columns=None, order_by=None)
    assert (source.loads, source.fetched) == (0, [])
    assert next(rows)["Name"] == "Edinburgh"
    assert (source.loads, source.fetched) == (1, [airports().dataset_id])


def test_filters_projection_and_sort_by_name_with_nulls_last():
    source = Source()
    rows = select_rows(
        source.load,
        source.fetch,
        where={"Runways__gte": 1},
        columns=["id", "Name"],
        order_by=["-Runways", "Name"],
    )
    assert list(rows) == [
        {"id": 2, "Name": "Aberdeen"},
        {"id": 4, "Name": "Barra"},
        {"id": 1, "Name": "Edinburgh"},
    ]
    ascending = select_rows(source.load, source.fetch, where=None, columns="Name", order_by="dp-2")
    assert [row["Name"] for row in ascending] == ["Edinburgh", "Aberdeen", "Barra", "Glasgow"]


def test_bad_arguments_raise_at_the_call_and_unknown_names_at_the_first_row():
    source = Source()
    with pytest.raises(ValueError, match="order_by"):
        select_rows(source.load, source.fetch, where=None, columns=None, order_by=["-"])
    with pytest.raises(ValueError, match="needs a value to compare with"):
        select_rows(source.load, source.fetch, where={"Name__gt": None}, columns=None, order_by=None)
    assert source.loads == 0
    rows = select_rows(source.load, source.fetch, where={"Nme": "x"}, columns=None, order_by=None)
    with pytest.raises(ValueError, match="no column 'Nme'"):
        next(rows)
