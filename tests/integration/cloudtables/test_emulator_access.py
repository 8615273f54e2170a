"""The CloudTables emulator's ``POST /access``: tokens, roles and conditions in every encoding."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest
import requests

from airflow_provider_cloud.testing.cloudtables import CloudTablesEmulator
from tests.integration.cloudtables.emulator_support import (
    ISO_MS,
    api,
)

pytestmark = pytest.mark.integration


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
