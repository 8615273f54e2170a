"""Helpers of the CloudTables emulator tests: the seeded world, request shortcuts, Node-shaped requests."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests

from airflow_provider_cloud.testing.cloudtables import CloudTablesEmulator

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


def build_world(ct: CloudTablesEmulator) -> World:
    """Two linked data sets: three airports seeded (typed values, a computed label), flights empty."""
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


def api(ct: CloudTablesEmulator, path: str, *, io: bool = False) -> str:
    return f"{ct.api_url(self_hosted=io)}{path}"


def get(ct: CloudTablesEmulator, path: str, **params: Any) -> requests.Response:
    return requests.get(api(ct, path), params={"key": ct.api_key, **params}, timeout=5)


def ids(response: requests.Response) -> list[int]:
    assert response.status_code == 200, response.text
    return [row["id"] for row in response.json()["data"]]


def counters(ct: CloudTablesEmulator, dataset_id: str) -> dict[str, Any]:
    return next(entry for entry in ct.datasets() if entry["id"] == dataset_id)


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
