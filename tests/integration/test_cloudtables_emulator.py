"""The CloudTables emulator against `requests`, the official Python client, and Node-shaped requests."""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import CloudTablesApi  # type: ignore[import-untyped]
import pytest
import requests

from airflow_provider_cloud.testing.cloudtables import LOADER_STYLES, CloudTablesEmulator

pytestmark = pytest.mark.integration

ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


@dataclass(frozen=True)
class World:
    airports: str
    flights: str
    name: str
    runways: str
    open: str
    opened: str
    label: str
    code: str
    seats: str
    departure: str


@pytest.fixture
def ct() -> Iterator[CloudTablesEmulator]:
    with CloudTablesEmulator() as emulator:
        yield emulator


@pytest.fixture
def world(ct: CloudTablesEmulator) -> World:
    airports = ct.add_dataset(
        "Airports",
        [
            {"name": "Name", "type": "text", "description": "Airport name"},
            ("Runways", "number"),
            ("Open", "boolean"),
            ("Opened", "date"),
        ],
        computed=[{"name": "Label", "compute": lambda v: f"{v['Name']} ({v['Runways']})"}],
        description="Airports we fly from",
    )
    ct.seed_rows(
        airports,
        [
            {"Name": "Edinburgh", "Runways": 1, "Open": True, "Opened": "1916-01-01"},
            {"Name": "Aberdeen", "Runways": "2", "Open": "true"},
            {"dp-1": "Glasgow", "dp-2": 3, "dp-3": False},
        ],
    )
    flights = ct.add_dataset(
        "Flights", [("Code", "text"), ("Seats", "number")], links=[("Departure", airports)]
    )
    return World(
        airports=airports,
        flights=flights,
        name=ct.datapoint_id(airports, "Name"),
        runways=ct.datapoint_id(airports, "Runways"),
        open=ct.datapoint_id(airports, "Open"),
        opened=ct.datapoint_id(airports, "Opened"),
        label=ct.computed_id(airports, "Label"),
        code=ct.datapoint_id(flights, "Code"),
        seats=ct.datapoint_id(flights, "Seats"),
        departure=ct.link_id(flights, "Departure"),
    )


@pytest.fixture
def pristine_python_client() -> Iterator[None]:
    """Protect CloudTablesApi's shared module-level default_options (its mutation gotcha)."""
    saved = copy.deepcopy(CloudTablesApi.default_options)
    yield
    CloudTablesApi.default_options.clear()
    CloudTablesApi.default_options.update(saved)


def api(ct: CloudTablesEmulator, path: str, *, io: bool = False) -> str:
    return f"{ct.api_url(self_hosted=io)}{path}"


def get(ct: CloudTablesEmulator, path: str, **params: Any) -> requests.Response:
    return requests.get(api(ct, path), params={"key": ct.api_key, **params}, timeout=5)


def ids(response: requests.Response) -> list[int]:
    assert response.status_code == 200, response.text
    return [row["id"] for row in response.json()["data"]]


def counters(ct: CloudTablesEmulator, dataset_id: str) -> dict[str, Any]:
    return next(entry for entry in ct.datasets() if entry["id"] == dataset_id)


# ----------------------------------------------------------------------------------- node request shapes


def _js_encode(text: str) -> str:
    return quote(text, safe="-_.!~*'()")


def qs_stringify(obj: dict[str, Any] | list[Any] | None, prefix: str = "") -> str:
    """Port of npm qs-stringify 1.2.1, the encoder cloudtables-api 1.2.0 uses (brackets, empty pairs)."""
    pairs = []
    items = obj.items() if isinstance(obj, dict) else enumerate(obj or [])
    for key, value in items:
        name = prefix + _js_encode(f"[{_js_encode(str(key))}]") if prefix else _js_encode(str(key))
        if value is None or isinstance(value, dict | list):
            pairs.append(qs_stringify(value, name))
        else:
            text = ("true" if value else "false") if isinstance(value, bool) else str(value)
            pairs.append(f"{name}={_js_encode(text)}")
    return "&".join(pairs)


def node_request(
    ct: CloudTablesEmulator,
    method: str,
    path: str,
    data: dict[str, Any] | None = None,
    *,
    roles: list[str] | None = None,
    conditions: list[dict[str, Any]] | None = None,
) -> requests.Response:
    """Send what cloudtables-api 1.2.0 sends: query on GET/DELETE, form body on POST/PUT, self-hosted /io."""
    payload = dict(data or {})
    payload["key"] = ct.api_key
    if roles:
        payload["roles"] = roles
    if conditions:
        payload["conditions"] = conditions
    encoded = qs_stringify(payload)
    url = f"{ct.url}/io/api/1{path}"
    if method in ("GET", "DELETE"):
        return requests.request(method, f"{url}?{encoded}", timeout=5)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    return requests.request(method, url, data=encoded, headers=headers, timeout=5)


def test_qs_stringify_port_matches_the_documented_wire_format() -> None:
    encoded = qs_stringify(
        {"key": "K", "roles": ["a"], "conditions": [{"id": "dp-1", "value": 2}], "l-28": []}
    )
    assert encoded == "key=K&roles%5B0%5D=a&conditions%5B0%5D%5Bid%5D=dp-1&conditions%5B0%5D%5Bvalue%5D=2&"


# ----------------------------------------------------------------------------------- lifecycle


def test_context_manager_serves_on_loopback_then_stops() -> None:
    with CloudTablesEmulator(api_key="secret-key") as ct:
        assert ct.running
        assert ct.host == "127.0.0.1"
        assert ct.port > 0
        assert ct.url == f"http://127.0.0.1:{ct.port}"
        assert ct.api_key == "secret-key"
        response = requests.get(f"{ct.url}/api/1/datasets", params={"key": "secret-key"}, timeout=5)
        assert response.json() == {"datasets": [], "success": True}
        url = ct.url
    assert not ct.running
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/api/1/datasets", timeout=2)


def test_start_stop_restart_keeps_state_and_key() -> None:
    ct = CloudTablesEmulator()
    with pytest.raises(RuntimeError, match="no port"):
        _ = ct.url
    ct.start()
    try:
        with pytest.raises(RuntimeError, match="already running"):
            ct.start()
        dataset = ct.add_dataset("Kept", [("Name", "text")])
        key = ct.api_key
        ct.stop()
        ct.stop()  # a second stop does nothing
        ct.start()
        assert ct.api_key == key
        assert [entry["id"] for entry in get(ct, "/datasets").json()["datasets"]] == [dataset]
    finally:
        ct.stop()


def test_random_api_keys_differ() -> None:
    first, second = CloudTablesEmulator(), CloudTablesEmulator()
    assert len(first.api_key) == 24
    assert first.api_key != second.api_key


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "::1", "example.com"])
def test_binds_loopback_ipv4_only(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        CloudTablesEmulator(host=host)


# ----------------------------------------------------------------------------------- paths and the key


@pytest.mark.parametrize("io", [False, True], ids=["hosted", "self-hosted"])
def test_both_path_forms_serve_the_api(ct: CloudTablesEmulator, world: World, io: bool) -> None:
    response = requests.get(
        api(ct, f"/dataset/{world.airports}", io=io), params={"key": ct.api_key}, timeout=5
    )
    assert ids(response) == [1, 2, 3]
    assert ct.requests_seen[-1].path == ("/io" if io else "") + f"/api/1/dataset/{world.airports}"


def test_hosted_form_ignores_the_subdomain_host_header(ct: CloudTablesEmulator, world: World) -> None:
    response = requests.get(
        api(ct, "/datasets"), params={"key": ct.api_key}, headers={"Host": "acme.cloudtables.io"}, timeout=5
    )
    assert response.status_code == 200
    assert ct.requests_seen[-1].headers["Host"] == "acme.cloudtables.io"


@pytest.mark.parametrize(
    ("method", "where"),
    [
        ("GET", "header"),
        ("GET", "query"),
        ("GET", "form"),
        ("GET", "json"),
        ("DELETE", "header"),
        ("DELETE", "query"),
        ("DELETE", "form"),
        ("POST", "form"),
        ("PUT", "query"),
    ],
)
def test_key_accepted_from_header_query_and_body(
    ct: CloudTablesEmulator, world: World, method: str, where: str
) -> None:
    path = {"GET": f"/dataset/{world.airports}/1", "DELETE": f"/dataset/{world.airports}/2"}.get(
        method, f"/dataset/{world.airports}" if method == "POST" else f"/dataset/{world.airports}/1"
    )
    kwargs: dict[str, Any] = {"timeout": 5}
    if where == "header":
        kwargs["headers"] = {"key": ct.api_key}
    elif where == "query":
        kwargs["params"] = {"key": ct.api_key}
    elif where == "form":
        kwargs["data"] = {"key": ct.api_key}
    else:
        kwargs["json"] = {"key": ct.api_key}
    response = requests.request(method, api(ct, path), **kwargs)
    assert response.status_code == 200, response.text
    assert "error" not in response.json()


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/datasets", {"error": "Invalid API key"}),
        ("GET", "/dataset/{ds}", {"error": "Invalid API key"}),
        ("POST", "/access", {"errors": [{"msg": "Invalid API key", "name": "key"}]}),
        ("DELETE", "/dataset/{ds}/1", {"success": False, "error": "Invalid API key"}),
    ],
)
def test_wrong_key_is_401_in_the_endpoint_shape(
    ct: CloudTablesEmulator, world: World, method: str, path: str, expected: dict[str, Any]
) -> None:
    url = api(ct, path.format(ds=world.airports))
    response = requests.request(method, url, data={"key": "not-the-key"}, timeout=5)
    assert response.status_code == 401
    assert response.json() == expected
    assert len(ct.rows(world.airports)) == 3


def test_missing_key_is_401(ct: CloudTablesEmulator) -> None:
    response = requests.get(api(ct, "/datasets"), timeout=5)
    assert response.status_code == 401
    assert response.json() == {"error": "API key required"}


# ----------------------------------------------------------------------------------- POST /access


def test_access_mints_a_32_character_token_and_records_its_attributes(ct: CloudTablesEmulator) -> None:
    response = requests.post(
        api(ct, "/access"),
        data={
            "key": ct.api_key,
            "clientId": "user-7",
            "clientName": "Ada",
            "clientMeta": "team=ops",
            "duration": "600",
            "roles": ["editor", "viewer"],
            "conditions": json.dumps([{"id": "dp-1", "value": "x"}]),
        },
        timeout=5,
    )
    body = response.json()
    assert response.status_code == 200
    assert body["success"] is True
    assert re.fullmatch(r"[A-Za-z0-9]{32}", body["token"])
    (token,) = ct.tokens
    assert token.token == body["token"]
    assert token.roles == ("editor", "viewer")
    assert token.conditions == ({"id": "dp-1", "value": "x", "op": "=", "set": True},)
    assert (token.duration, token.client_id, token.client_name, token.client_meta) == (
        600,
        "user-7",
        "Ada",
        "team=ops",
    )
    assert ISO_MS.match(token.created_at)


def test_access_defaults_duration_to_twenty_minutes(ct: CloudTablesEmulator) -> None:
    first = requests.post(api(ct, "/access"), data={"key": ct.api_key}, timeout=5).json()["token"]
    second = requests.post(api(ct, "/access"), headers={"key": ct.api_key}, timeout=5).json()["token"]
    assert first != second
    assert [token.duration for token in ct.tokens] == [1200, 1200]
    assert ct.tokens[0].roles == ()


@pytest.mark.parametrize(
    ("fields", "name", "message"),
    [
        ({"duration": "ten"}, "duration", "duration must be a whole number"),
        ({"conditions": "[{"}, "conditions", "not valid JSON"),
        ({"conditions": '{"id": "c-1", "value": 1}'}, "conditions", "computed values (c-) and links (l-)"),
        ({"conditions": '{"id": "l-3", "value": 1}'}, "conditions", "computed values (c-) and links (l-)"),
        ({"conditions": '{"value": 1}'}, "conditions", "needs an id or a name"),
        ({"conditions": '{"id": "dp-1"}'}, "conditions", "needs a value"),
        ({"conditions": '{"id": "dp-1", "value": 1, "op": "~"}'}, "conditions", "unknown condition op"),
        ({"conditions": '{"id": "dp-1", "value": 1, "op": ">"}'}, "conditions", "needs a setValue"),
        ({"roles": '["a", 3]'}, "roles", "role names"),
    ],
)
def test_bad_access_request_answers_the_errors_shape(
    ct: CloudTablesEmulator, fields: dict[str, str], name: str, message: str
) -> None:
    response = requests.post(api(ct, "/access"), data={"key": ct.api_key, **fields}, timeout=5)
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["name"] == name
    assert message in error["msg"]
    assert ct.tokens == []


@pytest.mark.parametrize(
    "encoded",
    [
        "roles=editor&roles=viewer",
        "roles%5B0%5D=editor&roles%5B1%5D=viewer",
        "roles[0]=editor&roles[1]=viewer",
        "roles=%5B%22editor%22%2C%22viewer%22%5D",
        "role=editor&roles=viewer",
    ],
    ids=["repeated", "bracket-encoded", "bracket-raw", "json", "role-and-roles"],
)
def test_roles_in_every_encoding(ct: CloudTablesEmulator, encoded: str) -> None:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    body = f"key={ct.api_key}&{encoded}"
    assert requests.post(api(ct, "/access"), data=body, headers=headers, timeout=5).status_code == 200
    assert ct.tokens[-1].roles == ("editor", "viewer")


@pytest.mark.parametrize(
    "encoded",
    [
        "conditions=" + quote('[{"id":"dp-1","value":"2"},{"name":"Open","value":"true","set":false}]'),
        (
            "conditions%5B0%5D%5Bid%5D=dp-1&conditions%5B0%5D%5Bvalue%5D=2"
            "&conditions%5B1%5D%5Bname%5D=Open&conditions%5B1%5D%5Bvalue%5D=true&conditions%5B1%5D%5Bset%5D=false"
        ),
        "conditions="
        + quote('{"id":"dp-1","value":"2"}')
        + "&conditions="
        + quote('{"name":"Open","value":"true","set":false}'),
    ],
    ids=["json-array", "bracket-indexed", "repeated-json-objects"],
)
def test_conditions_in_every_encoding(ct: CloudTablesEmulator, encoded: str) -> None:
    response = requests.post(
        api(ct, "/access"),
        data=f"key={ct.api_key}&{encoded}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=5,
    )
    assert response.status_code == 200, response.text
    assert ct.tokens[-1].conditions == (
        {"id": "dp-1", "value": "2", "op": "=", "set": True},
        {"name": "Open", "value": "true", "op": "=", "set": False},
    )


def test_single_condition_object_and_json_body(ct: CloudTablesEmulator) -> None:
    single = {
        "key": ct.api_key,
        "conditions": json.dumps({"name": "Runways", "value": 2, "op": ">", "setValue": 3}),
    }
    assert requests.post(api(ct, "/access"), data=single, timeout=5).status_code == 200
    as_json = {"key": ct.api_key, "roles": ["r"], "conditions": [{"id": "dp-2", "value": 5}], "duration": 60}
    assert requests.post(api(ct, "/access"), json=as_json, timeout=5).status_code == 200
    first, second = ct.tokens
    assert first.conditions == ({"name": "Runways", "value": 2, "op": ">", "set": True, "setValue": 3},)
    assert (second.roles, second.conditions, second.duration) == (
        ("r",),
        ({"id": "dp-2", "value": 5, "op": "=", "set": True},),
        60,
    )


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


# ----------------------------------------------------------------------------------- rate limit


def test_rate_limit_answers_429_with_retry_after_per_key() -> None:
    with CloudTablesEmulator(rate_limit=3, rate_window=60) as ct:
        for _ in range(3):
            assert get(ct, "/datasets").status_code == 200
        limited = get(ct, "/datasets")
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert limited.json() == {"error": "Rate limit exceeded: 3 requests per 60 seconds"}
        access = requests.post(api(ct, "/access"), data={"key": ct.api_key}, timeout=5)
        assert access.status_code == 429
        assert access.json()["errors"][0]["name"] == "key"
        other_key = requests.get(api(ct, "/datasets"), params={"key": "someone-else"}, timeout=5)
        assert other_key.status_code == 401  # another key has its own allowance


def test_rate_limit_slots_free_up_after_the_window() -> None:
    with CloudTablesEmulator(rate_limit=2, rate_window=0.3) as ct:
        assert [get(ct, "/datasets").status_code for _ in range(3)] == [200, 200, 429]
        time.sleep(0.35)
        assert get(ct, "/datasets").status_code == 200


def test_rate_limit_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="rate_limit"):
        CloudTablesEmulator(rate_limit=0)
    with pytest.raises(ValueError, match="rate_window"):
        CloudTablesEmulator(rate_window=0)


# ----------------------------------------------------------------------------------- fault knobs


def test_fail_next_fails_that_many_requests_then_recovers(ct: CloudTablesEmulator, world: World) -> None:
    ct.fail_next(2, 503, retry_after=7)
    assert ct.pending_failures == 2
    url = api(ct, f"/dataset/{world.airports}/1")
    first = requests.delete(url, params={"key": ct.api_key}, timeout=5)
    second = get(ct, "/datasets")
    assert (first.status_code, second.status_code) == (503, 503)
    assert first.headers["Retry-After"] == "7"
    assert first.json() == {"success": False, "error": "Emulated failure (HTTP 503)"}
    assert second.json() == {"error": "Emulated failure (HTTP 503)"}
    assert len(ct.rows(world.airports)) == 3  # the failed delete did nothing
    assert get(ct, "/datasets").status_code == 200
    assert ct.pending_failures == 0


def test_fail_next_with_custom_bodies(ct: CloudTablesEmulator) -> None:
    ct.fail_next(1, 502, body="<html>Bad Gateway</html>")
    ct.fail_next(1, 400, body={"error": "custom", "fieldErrors": []})
    html = get(ct, "/datasets")
    assert (html.status_code, html.text, html.headers["Content-Type"]) == (
        502,
        "<html>Bad Gateway</html>",
        "text/plain; charset=utf-8",
    )
    custom = get(ct, "/datasets")
    assert (custom.status_code, custom.json()) == (400, {"error": "custom", "fieldErrors": []})
    assert "Retry-After" not in custom.headers


def test_fail_next_spares_the_loader(ct: CloudTablesEmulator, world: World) -> None:
    ct.fail_next(1)
    assert requests.get(ct.loader_url(world.airports), timeout=5).status_code == 200
    assert get(ct, "/datasets").status_code == 500


def test_latency_delays_every_response(ct: CloudTablesEmulator) -> None:
    ct.latency = 0.2
    assert ct.latency == 0.2
    started = time.monotonic()
    assert get(ct, "/datasets").status_code == 200
    assert time.monotonic() - started >= 0.2
    ct.set_latency(0)
    assert ct.latency == 0
    with pytest.raises(ValueError, match="latency"):
        ct.set_latency(-1)


def test_requests_seen_records_recent_requests_bounded() -> None:
    with CloudTablesEmulator(request_log_size=3) as ct:
        requests.post(
            api(ct, "/access", io=True),
            params={"clientId": "u1"},
            data={"key": ct.api_key, "roles": ["a", "b"]},
            headers={"X-Test": "yes"},
            timeout=5,
        )
        seen = ct.requests_seen[-1]
        assert (seen.method, seen.path, seen.status) == ("POST", "/io/api/1/access", 200)
        assert seen.query == {"clientId": ["u1"]}
        assert seen.form == {"key": [ct.api_key], "roles": ["a", "b"]}
        assert seen.headers["X-Test"] == "yes"
        assert seen.json is None
        for _ in range(4):
            get(ct, "/datasets")
        assert [request.path for request in ct.requests_seen] == ["/api/1/datasets"] * 3
        ct.clear_requests_seen()
        assert ct.requests_seen == []


def test_reset_drops_state_but_keeps_the_key(ct: CloudTablesEmulator, world: World) -> None:
    key = ct.api_key
    requests.post(api(ct, "/access"), data={"key": key}, timeout=5)
    ct.fail_next(5)
    ct.latency = 0.01
    ct.reset()
    assert (ct.api_key, ct.tokens, ct.datasets(), ct.pending_failures, ct.latency) == (key, [], [], 0, 0)
    assert ct.requests_seen == []
    fresh = ct.add_dataset("Fresh", [("Name", "text")])
    assert ct.datapoint_id(fresh, "Name") == "dp-1"  # numbering starts again
    assert get(ct, "/datasets").json()["datasets"][0]["id"] == fresh


def test_reset_clears_rate_limit_history() -> None:
    with CloudTablesEmulator(rate_limit=1, rate_window=60) as ct:
        assert [get(ct, "/datasets").status_code for _ in range(2)] == [200, 429]
        ct.reset()
        assert get(ct, "/datasets").status_code == 200


# ----------------------------------------------------------------------------------- loader and routing


@pytest.mark.parametrize("style", LOADER_STYLES)
@pytest.mark.parametrize("io", [False, True], ids=["hosted", "self-hosted"])
def test_loader_serves_javascript(ct: CloudTablesEmulator, world: World, style: str, io: bool) -> None:
    response = requests.get(ct.loader_url(world.airports, style, self_hosted=io), timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/javascript"
    assert json.dumps(world.airports) in response.text
    assert "data-token" in response.text


@pytest.mark.parametrize(("dataset", "style"), [("missing", "d"), (None, "bootstrap9")])
def test_loader_404s_unknown_dataset_or_style(
    ct: CloudTablesEmulator, world: World, dataset: str | None, style: str
) -> None:
    response = requests.get(ct.loader_url(dataset or world.airports, style), timeout=5)
    assert response.status_code == 404
    assert "error" in response.json()


def test_unknown_urls_and_methods(ct: CloudTablesEmulator, world: World) -> None:
    nowhere = requests.get(f"{ct.url}/api/2/datasets", timeout=5)
    assert (nowhere.status_code, "error" in nowhere.json()) == (404, True)
    unknown = get(ct, "/tables")
    assert unknown.status_code == 404
    wrong = requests.put(api(ct, "/datasets"), data={"key": ct.api_key}, timeout=5)
    assert (wrong.status_code, wrong.headers["Allow"]) == (405, "GET")
    patch = requests.patch(api(ct, f"/dataset/{world.airports}/1"), data={"key": ct.api_key}, timeout=5)
    assert (patch.status_code, patch.headers["Allow"]) == (405, "GET, PUT, DELETE")


def test_bad_bodies(ct: CloudTablesEmulator, world: World) -> None:
    url = api(ct, f"/dataset/{world.airports}")
    broken = requests.post(
        url, data="{", headers={"Content-Type": "application/json", "key": ct.api_key}, timeout=5
    )
    assert (broken.status_code, broken.json()) == (400, {"error": "The request body is not valid JSON"})
    listed = requests.post(url, json=[1], headers={"key": ct.api_key}, timeout=5)
    assert listed.status_code == 400
    other = requests.post(url, data=b"x", headers={"Content-Type": "text/csv", "key": ct.api_key}, timeout=5)
    assert other.status_code == 415


def test_chunked_form_body(ct: CloudTablesEmulator, world: World) -> None:
    def chunks() -> Iterator[bytes]:
        yield f"key={ct.api_key}&".encode()
        yield f"{world.name}=Chunked".encode()

    response = requests.post(
        api(ct, f"/dataset/{world.airports}"),
        data=chunks(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=5,
    )
    assert response.json()["data"]["dp-1"] == "Chunked"


def test_concurrent_inserts_get_unique_ids(ct: CloudTablesEmulator, world: World) -> None:
    results: list[int] = []
    lock = threading.Lock()

    def insert(worker: int) -> None:
        with requests.Session() as session:
            for n in range(10):
                data = {"key": ct.api_key, world.code: f"W{worker}-{n}"}
                row_id = session.post(api(ct, f"/dataset/{world.flights}"), data=data, timeout=10).json()[
                    "data"
                ]["id"]
                with lock:
                    results.append(row_id)

    threads = [threading.Thread(target=insert, args=(worker,)) for worker in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == list(range(1, 61))
    assert counters(ct, world.flights)["insertCount"] == 60


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


# ----------------------------------------------------------------------------------- the official Python client


def python_api(ct: CloudTablesEmulator, **options: Any) -> CloudTablesApi.CloudTablesApi:
    return CloudTablesApi.CloudTablesApi(ct.api_key, options=ct.python_client_options(**options))


@pytest.mark.usefixtures("pristine_python_client")
def test_python_client_full_round_trip(ct: CloudTablesEmulator, world: World) -> None:
    client = python_api(ct, clientId="u1", clientName="User One", roles=["r1", "r2"], duration=600)
    assert [entry["name"] for entry in client.datasets()["datasets"]] == ["Airports", "Flights"]
    assert client.dataset(world.flights).schema()["links"][0]["target"] == {"id": world.airports}
    created = client.dataset(world.flights).insert(
        {world.code: "BA3", world.seats: 150, world.departure: [1, 3]}
    )
    row_id = created["data"]["id"]
    assert [linked["id"] for linked in created["data"][world.departure]] == [1, 3]
    assert created["data"][world.seats] == 150
    assert [row["id"] for row in client.dataset(world.flights).data()["data"]] == [row_id]
    updated = client.dataset(world.flights).row(row_id).update({world.seats: 151})
    assert (updated["data"]["dv"], updated["data"][world.code], updated["data"][world.seats]) == (
        1,
        "BA3",
        151,
    )
    assert client.dataset(world.flights).row(row_id).data()["data"]["dv"] == 1
    assert client.dataset(world.flights).row(row_id).delete() == {"success": True}
    token = client.token()
    assert token["success"] is True
    assert len(token["token"]) == 32
    assert (ct.tokens[0].roles, ct.tokens[0].client_id, ct.tokens[0].client_name, ct.tokens[0].duration) == (
        ("r1", "r2"),
        "u1",
        "User One",
        600,
    )
    # the wire shape: key in a form body even on GET, options in the query string, self-hosted /io form
    get_seen = next(seen for seen in ct.requests_seen if seen.method == "GET")
    assert get_seen.path == "/io/api/1/datasets"
    assert get_seen.form == {"key": [ct.api_key]}
    assert get_seen.query["roles"] == ["r1", "r2"]
    assert get_seen.query["domain"] == [f"127.0.0.1:{ct.port}"]
    assert get_seen.query["ssl"] == ["False"]
    delete_seen = next(seen for seen in ct.requests_seen if seen.method == "DELETE")
    assert delete_seen.form == {"key": [ct.api_key]}


@pytest.mark.usefixtures("pristine_python_client")
def test_python_client_conditions_filter_and_set(ct: CloudTablesEmulator, world: World) -> None:
    client = python_api(ct)
    client.condition(
        [{"id": world.open, "value": True}, {"name": "Runways", "value": 2, "op": ">=", "set": False}]
    )
    assert [row["id"] for row in client.dataset(world.airports).data()["data"]] == [2]
    created = client.dataset(world.airports).insert({world.name: "Wick", world.runways: 2, world.open: False})
    assert created["data"][world.open] is True  # the condition's value wins on insert
    assert client.dataset(world.airports).row(3).data() == {
        "error": f"Row 3 does not exist in data set {world.airports}"
    }
    client.token()
    assert ct.tokens[0].conditions[1] == {"name": "Runways", "value": 2, "op": ">=", "set": False}


@pytest.mark.usefixtures("pristine_python_client")
def test_python_client_single_role_wrong_key_and_script_tag(ct: CloudTablesEmulator, world: World) -> None:
    client = python_api(ct, role="viewer")
    client.token()
    assert ct.tokens[0].roles == ("viewer",)
    wrong = CloudTablesApi.CloudTablesApi("wrong", options=ct.python_client_options())
    assert wrong.datasets() == {"error": "Invalid API key"}
    assert wrong.token() == {"errors": [{"msg": "Invalid API key", "name": "key"}]}
    tag = client.dataset(world.airports).script_tag("TOKEN", "bs4")
    src = re.search(r'src="([^"]+)"', tag)
    assert src is not None
    assert src.group(1) == ct.loader_url(world.airports, "bs4", self_hosted=True)
    assert requests.get(src.group(1), timeout=5).status_code == 200


@pytest.mark.usefixtures("pristine_python_client")
def test_python_client_default_options_gotcha_is_contained(ct: CloudTablesEmulator, world: World) -> None:
    client = python_api(ct)
    client.condition({"id": world.runways, "value": 1})
    assert CloudTablesApi.default_options["conditions"] is None  # a fresh options dict kept the leak out
    fresh = python_api(ct)
    assert len(fresh.dataset(world.airports).data()["data"]) == 3


# ----------------------------------------------------------------------------------- Node-shaped requests


def test_node_get_and_delete_put_everything_in_a_bracketed_query(
    ct: CloudTablesEmulator, world: World
) -> None:
    conditions = [{"id": world.runways, "value": 2, "op": "<=", "set": False}]
    response = node_request(ct, "GET", f"/dataset/{world.airports}", roles=["r1"], conditions=conditions)
    assert ids(response) == [1, 2]
    seen = ct.requests_seen[-1]
    assert seen.form == {}
    assert seen.body == b""
    assert seen.query["roles[0]"] == ["r1"]
    assert seen.query["conditions[0][op]"] == ["<="]
    deleted = node_request(ct, "DELETE", f"/dataset/{world.airports}/2", roles=["r1"], conditions=conditions)
    assert deleted.json() == {"success": True}
    hidden = node_request(ct, "DELETE", f"/dataset/{world.airports}/3", conditions=conditions)
    assert hidden.json()["success"] is False
    assert [row["id"] for row in ct.rows(world.airports)] == [1, 3]
    assert node_request(ct, "GET", "/datasets").json()["success"] is True
    assert node_request(ct, "GET", f"/dataset/{world.airports}/schema").json()["name"] == "Airports"
    assert node_request(ct, "GET", f"/dataset/{world.airports}/data").json()["columns"][0]["id"] == "dp-1"
    assert node_request(ct, "GET", f"/dataset/{world.airports}/1").json()["data"]["id"] == 1


def test_node_token_sends_client_fields_in_the_form_body(ct: CloudTablesEmulator) -> None:
    data = {"clientId": 42, "clientName": "Node User", "clientMeta": {"plan": "pro"}, "duration": 90}
    response = node_request(
        ct, "POST", "/access", data, roles=["editor"], conditions=[{"name": "Owner", "value": 42}]
    )
    assert response.json()["success"] is True
    (token,) = ct.tokens
    assert (token.client_id, token.client_name, token.client_meta, token.duration) == (
        "42",
        "Node User",
        {"plan": "pro"},
        90,
    )
    assert token.roles == ("editor",)
    assert token.conditions == ({"name": "Owner", "value": "42", "op": "=", "set": True},)
    seen = ct.requests_seen[-1]
    assert seen.query == {}
    assert seen.form["clientMeta[plan]"] == ["pro"]


def test_node_insert_and_update_send_form_bodies(ct: CloudTablesEmulator, world: World) -> None:
    created = node_request(
        ct,
        "POST",
        f"/dataset/{world.flights}",
        {world.code: "LH9", world.seats: 90, world.departure: [2, 3]},
        conditions=[{"id": world.seats, "value": 100, "op": ">", "set": False}],
    )
    assert created.status_code == 200, created.text
    row = created.json()["data"]
    assert (row[world.code], row[world.seats], [r["id"] for r in row[world.departure]]) == ("LH9", 90, [2, 3])
    assert ct.requests_seen[-1].form[f"{world.departure}[1]"] == ["3"]
    updated = node_request(ct, "PUT", f"/dataset/{world.flights}/{row['id']}", {world.seats: 120})
    assert (updated.json()["data"]["dv"], updated.json()["data"][world.seats]) == (1, 120)
    # qs-stringify turns an empty array into nothing, so Node cannot clear links this way
    kept = node_request(ct, "PUT", f"/dataset/{world.flights}/{row['id']}", {world.departure: []})
    assert [r["id"] for r in kept.json()["data"][world.departure]] == [2, 3]


def test_percent_encoded_dataset_ids_and_key_precedence(ct: CloudTablesEmulator) -> None:
    odd = ct.add_dataset("Odd", [("Name", "text")], dataset_id="my set")
    ct.seed_rows(odd, [{"Name": "a"}])
    assert ids(get(ct, "/dataset/my%20set")) == [1]
    assert requests.get(ct.loader_url("my%20set"), timeout=5).status_code == 200
    # the header wins over the body, the body over the query
    header_wins = requests.get(
        api(ct, "/datasets"),
        headers={"key": ct.api_key},
        params={"key": "bad"},
        data={"key": "bad"},
        timeout=5,
    )
    assert header_wins.status_code == 200
    body_wins = requests.get(api(ct, "/datasets"), params={"key": "bad"}, data={"key": ct.api_key}, timeout=5)
    assert body_wins.status_code == 200
    query_loses = requests.get(
        api(ct, "/datasets"), params={"key": ct.api_key}, data={"key": "bad"}, timeout=5
    )
    assert query_loses.status_code == 401
    wrong_method = requests.get(api(ct, "/access"), params={"key": ct.api_key}, timeout=5)
    assert (wrong_method.status_code, wrong_method.json()["errors"][0]["name"]) == (405, "method")
