"""Bad values against the emulator: refused before any write when the type says so, else named by the field error."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_cloud.exceptions import BadRequestError, RowDataError
from airflow_provider_cloud.hooks.cloudtables import CloudTablesHook
from airflow_provider_cloud.rows import RowBlocks
from airflow_provider_cloud.testing.cloudtables import CloudTablesEmulator

pytestmark = pytest.mark.integration

SOURCE = "file:///data/airports.csv"


def sourced(rows: list[dict[str, Any]]) -> RowBlocks[dict[str, Any]]:
    """Return rows that say where they come from, as the import's row blocks do (each row's line: its position)."""
    return RowBlocks([rows], source=SOURCE)


@pytest.fixture
def airports(cloudtables_emulator: CloudTablesEmulator) -> str:
    return cloudtables_emulator.add_dataset(
        "Airports",
        [("Name", "text"), ("Runways", "number"), ("Open", "boolean"), ("Opened", "date"), ("Gate", "time")],
    )


def good_rows(count: int = 6) -> list[dict[str, Any]]:
    return [
        {"Name": f"A{n}", "Runways": n, "Open": n % 2 == 0, "Opened": f"2000-01-{n:02d}", "Gate": "08:30"}
        for n in range(1, count + 1)
    ]


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("Runways", "two", "'two' is not a number"),
        ("Open", "maybe", "'maybe' is not true or false"),
        ("Opened", "01/02/2000", "'01/02/2000' is not an ISO 8601 date"),
        ("Gate", "8.30", "'8.30' is not an ISO 8601 time"),
    ],
)
def test_a_value_the_type_refuses_fails_the_write_before_anything_is_written(
    cloudtables_conn_id, cloudtables_emulator, airports, column, value, reason
):
    ct = cloudtables_emulator
    rows = good_rows()
    rows[3][column] = value
    with pytest.raises(RowDataError) as caught:
        CloudTablesHook(cloudtables_conn_id).write_rows(airports, sourced(rows), mode="insert")
    assert (caught.value.source, caught.value.line, caught.value.column) == (SOURCE, 4, column)
    assert str(caught.value).startswith(f"{SOURCE}, line 4, column {column!r}: {reason}")
    assert ct.rows(airports) == []
    assert [entry.method for entry in ct.requests_seen if entry.method == "POST"] == []


def test_every_value_the_type_takes_the_emulator_takes_too(
    cloudtables_conn_id, cloudtables_emulator, airports
):
    rows = sourced(
        [
            {"Name": 5, "Runways": "1e3", "Open": "YES", "Opened": "2024-02-29", "Gate": "23:59:59.5"},
            {"Name": "", "Runways": "", "Open": "off", "Opened": "", "Gate": ""},
            {"Name": None, "Runways": -2.5, "Open": 1, "Opened": None, "Gate": "00:00"},
        ]
    )
    result = CloudTablesHook(cloudtables_conn_id).write_rows(airports, rows, mode="insert")
    assert result.inserted == 3


def test_a_field_error_of_the_service_names_the_source_line_and_column(
    cloudtables_conn_id, cloudtables_emulator, airports
):
    ct = cloudtables_emulator
    flights = ct.add_dataset("Flights", [("Code", "text")], links=[("Departure", airports)])
    ct.seed_rows(airports, [{"Name": "Edinburgh"}])
    rows = sourced(
        [{"Code": "F1", "Departure": 1}, {"Code": "F2", "Departure": 1}, {"Code": "F3", "Departure": 99}]
    )
    with pytest.raises(RowDataError) as caught:
        CloudTablesHook(cloudtables_conn_id).write_rows(flights, rows, mode="insert")
    error = caught.value
    assert (error.source, error.line, error.column) == (SOURCE, 3, "Departure")
    assert str(error) == (
        f"{SOURCE}, line 3, column 'Departure': CloudTables refused the value: Linked rows do not exist: 99"
    )
    assert isinstance(error.__cause__, BadRequestError)
    code = ct.datapoint_id(flights, "Code")
    assert [row[code] for row in ct.rows(flights)] == ["F1", "F2"]  # a rule only the service knows
