"""The CloudTables emulator's data: data sets and schemas, reading, writing, conditions, seeding."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from airflow_provider_cloud.testing.cloudtables import CloudTablesEmulator
from tests.integration.cloudtables.emulator_support import (
    ISO_MS,
    World,
    api,
    counters,
    get,
    ids,
)

pytestmark = pytest.mark.integration


# ----------------------------------------------------------------------------------- datasets and schema


def test_datasets_counters_follow_the_operations(ct: CloudTablesEmulator, world: World) -> None:
    before = counters(ct, world.airports)
    assert before == {
        "deleteCount": 0,
        "id": world.airports,
        "insertCount": 0,
        "lastData": before["lastData"],
        "name": "Airports",
        "readCount": 0,
        "rowCount": 3,
        "updateCount": 0,
    }
    assert ISO_MS.match(before["lastData"])
    key = {"key": ct.api_key}
    base = api(ct, f"/dataset/{world.airports}")
    requests.get(base, params=key, timeout=5)
    requests.get(f"{base}/1", params=key, timeout=5)
    requests.get(f"{base}/data", params=key, timeout=5)
    requests.get(f"{base}/schema", params=key, timeout=5)  # schema reads no rows
    requests.post(base, data={**key, world.name: "Inverness"}, timeout=5)
    requests.post(base, data={**key, world.name: "Dundee"}, timeout=5)
    requests.put(f"{base}/1", data={**key, world.runways: "4"}, timeout=5)
    requests.delete(f"{base}/2", data=key, timeout=5)
    requests.post(base, data={**key, world.runways: "many"}, timeout=5)  # refused: counts nothing
    listed = next(entry for entry in get(ct, "/datasets").json()["datasets"] if entry["id"] == world.airports)
    assert {
        name: listed[name] for name in ("readCount", "insertCount", "updateCount", "deleteCount", "rowCount")
    } == {
        "readCount": 3,
        "insertCount": 2,
        "updateCount": 1,
        "deleteCount": 1,
        "rowCount": 4,
    }
    assert listed["lastData"] >= before["lastData"]
    assert counters(ct, world.flights)["readCount"] == 0


def test_schema_has_the_documented_shape(ct: CloudTablesEmulator, world: World) -> None:
    airports = get(ct, f"/dataset/{world.airports}/schema").json()
    assert airports["name"] == "Airports"
    assert airports["description"] == "Airports we fly from"
    assert airports["success"] is True
    assert airports["datapoints"][0] == {
        "description": "Airport name",
        "id": "dp-1",
        "name": "Name",
        "type": "text",
    }
    assert [(p["id"], p["type"]) for p in airports["datapoints"]] == [
        ("dp-1", "text"),
        ("dp-2", "number"),
        ("dp-3", "boolean"),
        ("dp-4", "date"),
    ]
    assert airports["computed"] == [{"description": "", "id": world.label, "name": "Label"}]
    assert airports["links"] == []
    flights = get(ct, f"/dataset/{world.flights}/schema").json()
    (link,) = flights["links"]
    assert link["id"] == world.departure
    assert link["name"] == "Departure"
    assert link["target"] == {"id": world.airports}
    assert [point["id"] for point in link["datapoints"]] == ["dp-1", "dp-2", "dp-3", "dp-4"]
    assert link["computed"] == airports["computed"]
    assert link["links"] == []
    assert flights["table"][0] == {"data": world.code, "id": world.code, "link": None, "name": "Code"}
    assert {
        "data": f"{world.departure}.dp-1",
        "id": "dp-1",
        "link": world.departure,
        "name": "Name",
    } in flights["table"]


def test_self_link_schema_does_not_recurse_forever(ct: CloudTablesEmulator) -> None:
    people = ct.add_dataset(
        "People", [("Name", "text")], links=[("Manager", "people-1")], dataset_id="people-1"
    )
    ct.seed_rows(people, [{"Name": "Boss"}, {"Name": "Worker", "Manager": [1]}])
    schema = get(ct, "/dataset/people-1/schema").json()
    assert schema["links"][0]["links"] == []
    assert ct.rows(people)[1]["l-1"] == [{"id": 1, "dp-1": "Boss"}]


@pytest.mark.parametrize("suffix", ["", "/schema", "/data", "/1"])
def test_unknown_dataset_is_404(ct: CloudTablesEmulator, suffix: str) -> None:
    response = get(ct, f"/dataset/no-such-set{suffix}")
    assert response.status_code == 404
    assert response.json() == {"error": "Data set no-such-set does not exist"}


# ----------------------------------------------------------------------------------- reading rows


def test_read_all_rows_with_typed_values_and_computed(ct: CloudTablesEmulator, world: World) -> None:
    rows = get(ct, f"/dataset/{world.airports}").json()
    assert rows == {
        "data": [
            {
                "id": 1,
                "dv": 0,
                "color": None,
                "dp-1": "Edinburgh",
                "dp-2": 1,
                "dp-3": True,
                "dp-4": "1916-01-01",
                world.label: "Edinburgh (1)",
            },
            {
                "id": 2,
                "dv": 0,
                "color": None,
                "dp-1": "Aberdeen",
                "dp-2": 2,
                "dp-3": True,
                "dp-4": None,
                world.label: "Aberdeen (2)",
            },
            {
                "id": 3,
                "dv": 0,
                "color": None,
                "dp-1": "Glasgow",
                "dp-2": 3,
                "dp-3": False,
                "dp-4": None,
                world.label: "Glasgow (3)",
            },
        ]
    }
    assert ct.rows(world.airports) == rows["data"]


def test_read_one_row_and_unknown_rows(ct: CloudTablesEmulator, world: World) -> None:
    assert get(ct, f"/dataset/{world.airports}/2").json()["data"]["dp-1"] == "Aberdeen"
    for row_id in ("99", "abc", "0"):
        response = get(ct, f"/dataset/{world.airports}/{row_id}")
        assert response.status_code == 404
        assert response.json() == {"error": f"Row {row_id} does not exist in data set {world.airports}"}


def test_legacy_data_route_adds_columns(ct: CloudTablesEmulator, world: World) -> None:
    ct.seed_rows(world.flights, [{"Code": "BA1", "Departure": [1]}])
    body = get(ct, f"/dataset/{world.flights}/data").json()
    assert body["columns"] == [
        {"id": world.code, "linkTable": None, "name": "Code"},
        {"id": world.seats, "linkTable": None, "name": "Seats"},
        {"id": world.departure, "linkTable": world.airports, "name": "Departure"},
    ]
    assert body["data"] == get(ct, f"/dataset/{world.flights}").json()["data"]


# ----------------------------------------------------------------------------------- inserting and updating


def test_insert_types_form_values_and_returns_the_row(ct: CloudTablesEmulator, world: World) -> None:
    form = {
        "key": ct.api_key,
        world.name: "Inverness",
        world.runways: "2.5",
        world.open: "True",
        world.opened: "1933-05-01",
    }
    response = requests.post(api(ct, f"/dataset/{world.airports}"), data=form, timeout=5)
    assert response.status_code == 200
    assert response.json() == {
        "data": {
            "id": 4,
            "dv": 0,
            "color": None,
            "dp-1": "Inverness",
            "dp-2": 2.5,
            "dp-3": True,
            "dp-4": "1933-05-01",
            world.label: "Inverness (2.5)",
        }
    }
    assert ct.rows(world.airports)[-1] == response.json()["data"]


@pytest.mark.parametrize(
    ("raw", "stored"),
    [("7", 7), ("-3", -3), ("1e3", 1000.0), ("", None)],
)
def test_number_typing(ct: CloudTablesEmulator, world: World, raw: str, stored: Any) -> None:
    response = requests.post(
        api(ct, f"/dataset/{world.airports}"), data={"key": ct.api_key, world.runways: raw}, timeout=5
    )
    value = response.json()["data"][world.runways]
    assert value == stored
    assert type(value) is type(stored)


def test_sequence_points_are_numbered_on_insert(ct: CloudTablesEmulator) -> None:
    tickets = ct.add_dataset("Tickets", [("Number", "sequence"), ("Title", "text")])
    ct.seed_rows(tickets, [{"Title": "a"}, {"Title": "b", "Number": 10}])
    response = requests.post(api(ct, f"/dataset/{tickets}"), data={"key": ct.api_key, "dp-2": "c"}, timeout=5)
    assert [row["dp-1"] for row in ct.rows(tickets)] == [1, 10, 11]
    assert response.json()["data"]["dp-1"] == 11


@pytest.mark.parametrize(
    "encoded",
    [
        "{link}=1&{link}=3",
        "{link}%5B0%5D=1&{link}%5B1%5D=3",
        "{link}=%5B1%2C3%5D",
    ],
    ids=["repeated", "bracket", "json-string"],
)
def test_insert_links_in_every_encoding(ct: CloudTablesEmulator, world: World, encoded: str) -> None:
    body = f"key={ct.api_key}&{world.code}=BA1&" + encoded.format(link=world.departure)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    response = requests.post(api(ct, f"/dataset/{world.flights}"), data=body, headers=headers, timeout=5)
    assert response.status_code == 200, response.text
    linked = response.json()["data"][world.departure]
    assert linked == [
        {
            "id": 1,
            "dp-1": "Edinburgh",
            "dp-2": 1,
            "dp-3": True,
            "dp-4": "1916-01-01",
            world.label: "Edinburgh (1)",
        },
        {"id": 3, "dp-1": "Glasgow", "dp-2": 3, "dp-3": False, "dp-4": None, world.label: "Glasgow (3)"},
    ]


def test_links_are_cleared_with_an_empty_array_and_drop_deleted_rows(
    ct: CloudTablesEmulator, world: World
) -> None:
    (flight,) = ct.seed_rows(world.flights, [{"Code": "BA1", "Departure": [1, 2]}])
    url = api(ct, f"/dataset/{world.flights}/{flight}")
    requests.delete(api(ct, f"/dataset/{world.airports}/2"), data={"key": ct.api_key}, timeout=5)
    assert [
        row["id"] for row in get(ct, f"/dataset/{world.flights}/{flight}").json()["data"][world.departure]
    ] == [1]
    cleared = requests.put(url, data={"key": ct.api_key, world.departure: "[]"}, timeout=5).json()["data"]
    assert cleared[world.departure] == []
    assert cleared[world.code] == "BA1"


def test_update_is_partial_and_increments_dv(ct: CloudTablesEmulator, world: World) -> None:
    url = api(ct, f"/dataset/{world.airports}/1")
    first = requests.put(url, data={"key": ct.api_key, world.runways: "5"}, timeout=5)
    assert first.status_code == 200
    assert first.json()["data"] == {
        "id": 1,
        "dv": 1,
        "color": None,
        "dp-1": "Edinburgh",
        "dp-2": 5,
        "dp-3": True,
        "dp-4": "1916-01-01",
        world.label: "Edinburgh (5)",
    }
    second = requests.put(
        url, data={"key": ct.api_key, world.open: "false", world.opened: ""}, timeout=5
    ).json()["data"]
    assert (second["dv"], second["dp-2"], second["dp-3"], second["dp-4"]) == (2, 5, False, None)
    assert ct.rows(world.airports)[0] == second


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_bad_fields_answer_field_errors_and_change_nothing(
    ct: CloudTablesEmulator, world: World, method: str
) -> None:
    path = f"/dataset/{world.airports}" + ("/1" if method == "PUT" else "")
    form = {
        "key": ct.api_key,
        world.runways: "many",
        world.open: "maybe",
        world.opened: "01/02/2020",
        world.label: "x",
        "dp-999": "y",
        world.code: "belongs to Flights",
        world.name: "Renamed",
    }
    before = ct.rows(world.airports)
    response = requests.request(method, api(ct, path), data=form, timeout=5)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "One or more fields have errors"
    assert sorted(body["fieldErrors"], key=lambda e: e["name"]) == sorted(
        [
            {"name": world.runways, "status": "Value must be a number"},
            {"name": world.open, "status": "Value must be true or false"},
            {"name": world.opened, "status": "Value must be an ISO 8601 date"},
            {"name": world.label, "status": "Computed values are read only"},
            {"name": "dp-999", "status": "Unknown data point for this data set"},
            {"name": world.code, "status": "Unknown data point for this data set"},
        ],
        key=lambda e: e["name"],
    )
    assert ct.rows(world.airports) == before
    assert counters(ct, world.airports)["insertCount"] == counters(ct, world.airports)["updateCount"] == 0


def test_link_to_a_missing_row_is_a_field_error(ct: CloudTablesEmulator, world: World) -> None:
    form = {"key": ct.api_key, world.departure: ["1", "42"]}
    response = requests.post(api(ct, f"/dataset/{world.flights}"), data=form, timeout=5)
    assert response.status_code == 400
    assert response.json()["fieldErrors"] == [
        {"name": world.departure, "status": "Linked rows do not exist: 42"}
    ]


def test_insert_and_update_with_a_json_body(ct: CloudTablesEmulator, world: World) -> None:
    url = api(ct, f"/dataset/{world.flights}")
    created = requests.post(
        url, json={"key": ct.api_key, world.code: "BA2", world.seats: 180, world.departure: [2]}, timeout=5
    )
    row = created.json()["data"]
    assert (row[world.code], row[world.seats], [r["id"] for r in row[world.departure]]) == ("BA2", 180, [2])
    updated = requests.put(
        f"{url}/{row['id']}", json={"key": ct.api_key, world.seats: None}, timeout=5
    ).json()["data"]
    assert (updated[world.seats], updated["dv"]) == (None, 1)


def test_delete_removes_the_row(ct: CloudTablesEmulator, world: World) -> None:
    url = api(ct, f"/dataset/{world.airports}/3")
    assert requests.delete(url, params={"key": ct.api_key}, timeout=5).json() == {"success": True}
    assert [row["id"] for row in ct.rows(world.airports)] == [1, 2]
    again = requests.delete(url, params={"key": ct.api_key}, timeout=5)
    assert again.status_code == 404
    assert again.json() == {"success": False, "error": f"Row 3 does not exist in data set {world.airports}"}
    created = requests.post(api(ct, f"/dataset/{world.airports}"), data={"key": ct.api_key}, timeout=5)
    assert created.json()["data"]["id"] == 4  # ids are never reused


# ----------------------------------------------------------------------------------- conditions


@pytest.mark.parametrize(
    ("op", "expected"),
    [("=", [2]), ("!=", [1, 3]), ("<", [1]), ("<=", [1, 2]), (">=", [2, 3]), (">", [3])],
)
def test_conditions_filter_reads(ct: CloudTablesEmulator, world: World, op: str, expected: list[int]) -> None:
    conditions = json.dumps([{"id": world.runways, "value": "2", "op": op, "set": False}])
    assert ids(get(ct, f"/dataset/{world.airports}", conditions=conditions)) == expected


def test_conditions_by_name_and_combined(ct: CloudTablesEmulator, world: World) -> None:
    conditions = json.dumps(
        [{"name": "Open", "value": True}, {"name": "Runways", "value": 1, "op": ">", "setValue": 9}]
    )
    assert ids(get(ct, f"/dataset/{world.airports}", conditions=conditions)) == [2]
    assert ids(get(ct, f"/dataset/{world.airports}/data", conditions=conditions)) == [2]


def test_conditions_hide_rows_from_row_routes(ct: CloudTablesEmulator, world: World) -> None:
    only_closed = json.dumps({"id": world.open, "value": "false"})
    url = api(ct, f"/dataset/{world.airports}/1")
    params = {"key": ct.api_key, "conditions": only_closed}
    assert requests.get(url, params=params, timeout=5).status_code == 404
    assert requests.put(url, params=params, data={world.name: "x"}, timeout=5).status_code == 404
    assert requests.delete(url, params=params, timeout=5).json()["success"] is False
    assert ct.rows(world.airports)[0]["dp-1"] == "Edinburgh"
    visible = api(ct, f"/dataset/{world.airports}/3")
    assert requests.put(visible, params=params, data={world.name: "Prestwick"}, timeout=5).status_code == 200


def test_conditions_set_values_on_insert(ct: CloudTablesEmulator, world: World) -> None:
    conditions = [
        {"id": world.open, "value": "true"},  # set defaults to true: written
        {"name": "Name", "value": "ignored", "op": "!=", "setValue": "Forced"},  # setValue written
        {"id": world.runways, "value": 0, "op": ">", "set": False},  # not written
    ]
    body = {"key": ct.api_key, "conditions": json.dumps(conditions), world.name: "Sent", world.runways: "4"}
    row = requests.post(api(ct, f"/dataset/{world.airports}"), data=body, timeout=5).json()["data"]
    assert (row["dp-1"], row["dp-2"], row["dp-3"]) == ("Forced", 4, True)


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ({"id": "c-1", "value": 1}, "computed values (c-) and links (l-) are not supported"),
        (
            {"name": "Label", "value": 1},
            "Conditions on computed values (c-) and links (l-) are not supported",
        ),
        ({"id": "dp-77", "value": 1}, "Condition on unknown data point 'dp-77'"),
        ({"id": "dp-2", "value": "lots"}, "Condition value for dp-2 (number): Value must be a number"),
        ({"id": "dp-2", "value": 1, "op": "<"}, "needs a setValue"),
    ],
)
def test_bad_conditions_on_data_calls_are_400(
    ct: CloudTablesEmulator, world: World, condition: dict[str, Any], message: str
) -> None:
    response = get(ct, f"/dataset/{world.airports}", conditions=json.dumps(condition))
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_seed_rows_rejects_bad_input(ct: CloudTablesEmulator, world: World) -> None:
    with pytest.raises(ValueError, match="no data point or link named 'Nope'"):
        ct.seed_rows(world.airports, [{"Nope": 1}])
    with pytest.raises(ValueError, match="Value must be a number"):
        ct.seed_rows(world.airports, [{"Runways": "x"}])
    with pytest.raises(ValueError, match="already exists"):
        ct.seed_rows(world.airports, [{"id": 1}])
    with pytest.raises(ValueError, match="unknown data set"):
        ct.add_dataset("Broken", [("A", "text")], links=[("To", "missing")])
    assert ct.seed_rows(world.airports, [{"id": 10, "dv": 4, "color": "#ff0000", "Name": "Skye"}]) == [10]
    assert ct.rows(world.airports)[-1]["color"] == "#ff0000"
    assert ct.seed_rows(world.airports, [{}]) == [11]
