"""CloudTables names and ids without a server: columns, rows both ways, link values, data sets, conditions."""

from __future__ import annotations

import pytest

from airflow_provider_cloud.exceptions import NotFoundError, RowDataError
from airflow_provider_cloud.hooks.cloudtables.schema import (
    DatasetSchema,
    conditions_for,
    find_dataset,
    link_ids,
)
from tests.unit.hooks.cloudtables.support import AIRPORTS_ID, airports, flights


def test_link_values():
    assert link_ids([{"id": 2, "Name": "x"}, 3, "4"]) == [2, 3, 4]
    assert link_ids('[{"id": 7}]') == [7]
    assert link_ids("1, 2") == [1, 2]
    assert link_ids(None) == link_ids("") == link_ids([]) == []
    with pytest.raises(RowDataError, match="row ids"):
        link_ids([1.5])


def test_names_and_ids_both_ways():
    schema = airports()
    assert schema.keys == ["id", "dv", "color", "Name", "Runways", "dp-3", "Label"]
    assert schema.column("Runways").id == schema.column("dp-2").id == "dp-2"
    assert schema.column_types() == {
        "id": "meta",
        "dv": "meta",
        "color": "meta",
        "Name": "text",
        "Runways": "number",
        "dp-3": "text",
        "Label": "computed",
    }
    assert schema.row_out({"id": 4, "dv": 1, "dp-1": "Perth", "c-1": "Perth (1)", "dp-99": "?"}) == {
        "id": 4,
        "dv": 1,
        "color": None,
        "Name": "Perth",
        "Label": "Perth (1)",
        "dp-99": "?",
    }
    assert flights().row_out({"id": 1, "l-1": [{"id": 2, "dp-1": "Aberdeen"}]})["Departure"] == [
        {"id": 2, "Name": "Aberdeen"}
    ]


def test_rows_in_refuse_computed_and_unknown_columns():
    schema = airports()
    assert schema.fields_in({"id": 9, "Name": "Perth", "dp-2": 1}) == {"dp-1": "Perth", "dp-2": 1}
    with pytest.raises(RowDataError, match="read-only"):
        schema.fields_in({"Label": "x"}, line=3)
    with pytest.raises(RowDataError, match="no such column"):
        schema.fields_in({"Nme": "x"})


def test_data_sets_by_id_or_by_one_name():
    listed = [{"id": "a1", "name": "Airports"}, {"id": "b2", "name": "Twice"}, {"id": "c3", "name": "Twice"}]
    assert find_dataset("a1", listed) == "a1"
    assert find_dataset("Airports", listed) == "a1"
    with pytest.raises(ValueError, match="2 data sets are named 'Twice'"):
        find_dataset("Twice", listed)
    with pytest.raises(NotFoundError, match="the data sets: 'Airports', 'Twice', 'Twice'"):
        find_dataset("Ships", listed)
    assert DatasetSchema.is_id(AIRPORTS_ID)
    assert not DatasetSchema.is_id("Airports")


def test_conditions_name_data_points_by_id():
    schema = airports()
    assert conditions_for({"Name": "Perth"}, schema) == [{"id": "dp-1", "value": "Perth"}]
    assert conditions_for([{"id": "dp-2", "value": 1, "op": ">"}], None) == [
        {"id": "dp-2", "value": 1, "op": ">"}
    ]
    with pytest.raises(ValueError, match="data points only"):
        conditions_for({"Label": "x"}, schema)
    with pytest.raises(ValueError, match="no column 'Nme'"):
        conditions_for({"Nme": "x"}, schema)
