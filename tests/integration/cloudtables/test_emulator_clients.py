"""The CloudTables emulator against the official Python client and Node-shaped requests (qs-stringify)."""

from __future__ import annotations

import re
from typing import Any

import CloudTablesApi  # type: ignore[import-untyped]
import pytest
import requests

from airflow_provider_cloud.testing.cloudtables import CloudTablesEmulator
from tests.integration.cloudtables.emulator_support import (
    World,
    api,
    get,
    ids,
    node_request,
    qs_stringify,
)

pytestmark = pytest.mark.integration


# ----------------------------------------------------------------------------------- the qs-stringify port


def test_qs_stringify_port_matches_the_documented_wire_format() -> None:
    encoded = qs_stringify(
        {"key": "K", "roles": ["a"], "conditions": [{"id": "dp-1", "value": 2}], "l-28": []}
    )
    assert encoded == "key=K&roles%5B0%5D=a&conditions%5B0%5D%5Bid%5D=dp-1&conditions%5B0%5D%5Bvalue%5D=2&"


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
