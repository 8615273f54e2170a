"""CloudTablesHook against the CloudTables emulator over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import structlog
from airflow.sdk.log import redact

from airflow_provider_cloud.exceptions import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    RateLimitError,
    RowDataError,
)
from airflow_provider_cloud.hooks.cloudtables import SCRIPT_STYLES, CloudTablesHook
from airflow_provider_cloud.testing.cloudtables import CloudTablesEmulator

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class World:
    airports: str
    flights: str


@pytest.fixture
def world(cloudtables_emulator: CloudTablesEmulator) -> World:
    ct = cloudtables_emulator
    airports = ct.add_dataset(
        "Airports",
        [("Name", "text"), ("Runways", "number"), ("Open", "boolean"), ("Opened", "date")],
        computed=[{"name": "Label", "compute": lambda v: f"{v['Name']} ({v['Runways']})"}],
    )
    ct.seed_rows(
        airports,
        [
            {"Name": "Edinburgh", "Runways": 1, "Open": True, "Opened": "1916-01-01"},
            {"Name": "Aberdeen", "Runways": 2, "Open": True},
            {"Name": "Glasgow", "Runways": 3, "Open": False},
        ],
    )
    flights = ct.add_dataset(
        "Flights", [("Code", "text"), ("Seats", "number")], links=[("Departure", airports)]
    )
    ct.clear_requests_seen()
    return World(airports, flights)


@pytest.fixture
def hook(cloudtables_conn_id: str) -> Iterator[CloudTablesHook]:
    with CloudTablesHook(cloudtables_conn_id) as h:
        assert isinstance(h, CloudTablesHook)
        yield h


@pytest.fixture
def logged() -> Iterator[Any]:
    formatter = structlog.stdlib.PositionalArgumentsFormatter()
    with structlog.testing.capture_logs(processors=[formatter]) as entries:
        yield lambda: [(entry["log_level"], entry["event"]) for entry in entries]


def set_connection(
    monkeypatch: pytest.MonkeyPatch, ct: CloudTablesEmulator, conn_id: str, **fields: Any
) -> str:
    connection: dict[str, Any] = {"conn_type": "cloudtables", "host": ct.url, "password": ct.api_key}
    extra = {"rate_limit": 0}
    extra.update(fields.pop("extra", {}))
    connection.update(fields, extra=extra)
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(connection))
    return conn_id


def by_name(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["Name"]: row for row in rows}


# -- connection, data sets, schema -----------------------------------------------------------------


def test_test_connection_lists_data_sets_and_sends_the_key_in_a_header(hook, world, cloudtables_emulator):
    ok, message = hook.test_connection()
    assert ok, message
    assert "2 data set(s)" in message
    assert "self-hosted" in message
    (seen,) = cloudtables_emulator.requests_seen
    assert seen.path == "/io/api/1/datasets"
    assert {k.lower(): v for k, v in seen.headers.items()}["key"] == cloudtables_emulator.api_key
    assert "key" not in seen.query
    assert not seen.form
    assert seen.query == {"clientId": ["airflow-tests"], "clientName": ["Airflow tests"]}


def test_wrong_key_is_a_clear_authentication_error_without_the_key(monkeypatch, cloudtables_emulator, world):
    wrong = "not-the-key-0123456789"
    conn_id = set_connection(monkeypatch, cloudtables_emulator, "ct_wrong", password=wrong)
    hook = CloudTablesHook(conn_id)
    with pytest.raises(AuthenticationError) as caught:
        hook.list_datasets()
    assert caught.value.status_code == 401
    text = str(caught.value)
    assert "Invalid API key" in text
    assert "password of connection 'ct_wrong'" in text
    assert wrong not in text
    assert wrong not in repr(caught.value.errors)
    ok, message = hook.test_connection()
    assert not ok
    assert "Invalid API key" in message
    assert wrong not in message


def test_list_datasets_gives_ids_names_and_counters(hook, world):
    datasets = {d["name"]: d for d in hook.list_datasets()}
    assert set(datasets) == {"Airports", "Flights"}
    assert datasets["Airports"]["id"] == world.airports
    assert datasets["Airports"]["rowCount"] == 3
    assert {"insertCount", "updateCount", "deleteCount", "readCount", "lastData"} <= set(datasets["Airports"])


def test_data_sets_resolve_by_name_or_id(hook, world, cloudtables_emulator):
    assert hook.resolve_dataset(world.airports) == world.airports
    assert cloudtables_emulator.requests_seen == []  # a UUID needs no lookup
    assert hook.resolve_dataset("Flights") == world.flights
    assert hook.resolve_dataset("Flights") == world.flights
    assert len(cloudtables_emulator.requests_seen) == 1  # looked up once per hook
    with pytest.raises(NotFoundError, match=r"no data set has the id or name 'Ships'.*'Airports'"):
        hook.resolve_dataset("Ships")
    cloudtables_emulator.add_dataset("Flights", [("Code", "text")])
    with pytest.raises(ValueError, match="2 data sets are named 'Flights'"):
        CloudTablesHook(hook.conn_id).resolve_dataset("Flights")


def test_non_uuid_data_set_ids_resolve_through_the_list(hook, cloudtables_emulator):
    cloudtables_emulator.add_dataset("Plain", [("A", "text")], dataset_id="plain-id-1")
    assert hook.resolve_dataset("plain-id-1") == "plain-id-1"
    assert hook.get_columns("Plain") == ["id", "dv", "color", "A"]


def test_schema_maps_names_and_ids_and_is_cached(hook, world, cloudtables_emulator):
    schema = hook.get_schema("Airports")
    name_id = cloudtables_emulator.datapoint_id(world.airports, "Name")
    assert schema.column("Name").id == name_id
    assert schema.column(name_id).key == "Name"
    assert schema.column("Label").kind == "computed"
    assert schema.column("Runways").type == "number"
    assert schema.raw["name"] == "Airports"
    hook.get_schema(world.airports)
    schema_calls = [s for s in cloudtables_emulator.requests_seen if s.path.endswith("/schema")]
    assert len(schema_calls) == 1
    hook.get_schema("Airports", refresh=True)
    assert len([s for s in cloudtables_emulator.requests_seen if s.path.endswith("/schema")]) == 2
    with pytest.raises(ValueError, match="no column 'Nme'"):
        schema.column("Nme")


def test_get_columns_lists_row_keys_by_name(hook, world):
    assert hook.get_columns("Airports") == ["id", "dv", "color", "Name", "Runways", "Open", "Opened", "Label"]
    assert hook.get_columns("Flights") == ["id", "dv", "color", "Code", "Seats", "Departure"]


def test_describe_gives_columns_by_name_from_the_cached_schema(hook, world, cloudtables_emulator):
    info = hook.describe("Airports")
    assert info.name == "Airports"
    assert info.exists is True
    assert info.keys == ()  # the service keys rows itself
    assert dict(info.columns) == {
        "id": "meta",
        "dv": "meta",
        "color": "meta",
        "Name": "text",
        "Runways": "number",
        "Open": "boolean",
        "Opened": "date",
        "Label": "computed",
    }
    assert hook.describe("Flights").columns["Departure"] == "link"
    hook.describe(world.airports)
    hook.get_schema("Airports")

    def schema_calls() -> int:
        return len([s for s in cloudtables_emulator.requests_seen if s.path.endswith("/schema")])

    assert schema_calls() == 2  # one per data set
    hook.describe("Airports", refresh=True)
    assert schema_calls() == 3
    missing = hook.describe("Ships")
    assert (missing.name, missing.exists, dict(missing.columns), missing.keys) == ("Ships", False, {}, ())


# -- reading ---------------------------------------------------------------------------------------


def test_rows_come_back_by_name_with_links_and_computed_values(hook, world):
    rows = by_name(hook.get_rows("Airports"))
    assert rows["Edinburgh"] == {
        "id": 1,
        "dv": 0,
        "color": None,
        "Name": "Edinburgh",
        "Runways": 1,
        "Open": True,
        "Opened": "1916-01-01",
        "Label": "Edinburgh (1)",
    }
    flight = hook.insert_row("Flights", {"Code": "BA1", "Seats": 180, "Departure": [1, 3]})
    assert [linked["Name"] for linked in flight["Departure"]] == ["Edinburgh", "Glasgow"]
    assert flight["Departure"][0]["id"] == 1
    assert flight["Departure"][0]["Runways"] == 1


def test_iter_rows_filters_projects_and_sorts_on_this_side(hook, world, cloudtables_emulator):
    cloudtables_emulator.seed_rows(world.airports, [{"Name": "Dundee", "Runways": None, "Open": True}])
    rows = hook.iter_rows("Airports", where={"Open": True}, columns=["Name", "Runways"], order_by="-Runways")
    assert cloudtables_emulator.requests_seen == []  # lazy: nothing is sent before the first row
    assert list(rows) == [
        {"Name": "Aberdeen", "Runways": 2},
        {"Name": "Edinburgh", "Runways": 1},
        {"Name": "Dundee", "Runways": None},  # nulls last
    ]
    assert [r["Name"] for r in hook.iter_rows("Airports", order_by=["Open", "-Name"])] == [
        "Glasgow",
        "Edinburgh",
        "Dundee",
        "Aberdeen",
    ]
    runways_id = cloudtables_emulator.datapoint_id(world.airports, "Runways")
    got = hook.get_rows(world.airports, where={f"{runways_id}__gte": 2}, columns=["id"], page_size=1)
    assert got == [{"id": 2}, {"id": 3}]
    with pytest.raises(ValueError, match="no column 'Nope'"):
        hook.get_rows("Airports", where={"Nope": 1})
    with pytest.raises(ValueError, match="unknown filter operator|not an operator|no column"):
        hook.get_rows("Airports", where={"Name__like": "x"})


def test_get_row_and_a_missing_row(hook, world):
    assert hook.get_row("Airports", 2)["Name"] == "Aberdeen"
    with pytest.raises(NotFoundError) as caught:
        hook.get_row("Airports", 99)
    assert caught.value.status_code == 404
    assert "Row 99 does not exist" in str(caught.value)


# -- writing one row ---------------------------------------------------------------------------------


def test_insert_update_delete_one_row(hook, world, cloudtables_emulator):
    runways_id = cloudtables_emulator.datapoint_id(world.airports, "Runways")
    row = hook.insert_row("Airports", {"Name": "Inverness", runways_id: 1, "Open": False, "id": 77, "dv": 5})
    assert (row["Name"], row["Runways"], row["Open"], row["dv"]) == ("Inverness", 1, False, 0)
    assert row["id"] == 4  # id and dv in the input are not written
    updated = hook.update_row("Airports", row["id"], {"Runways": 2})
    assert (updated["Name"], updated["Runways"], updated["Open"], updated["dv"]) == ("Inverness", 2, False, 1)
    put = [s for s in cloudtables_emulator.requests_seen if s.method == "PUT"][-1]
    assert put.form == {runways_id: ["2"]}  # partial: only what changes is sent
    hook.delete_row("Airports", row["id"])
    assert [r["id"] for r in cloudtables_emulator.rows(world.airports)] == [1, 2, 3]
    with pytest.raises(NotFoundError):
        hook.delete_row("Airports", row["id"])


def test_field_errors_are_raised_naming_the_data_point(hook, world, cloudtables_emulator):
    with pytest.raises(BadRequestError) as caught:
        hook.insert_row("Airports", {"Name": "Bad", "Runways": "many", "Opened": "yesterday"})
    runways_id = cloudtables_emulator.datapoint_id(world.airports, "Runways")
    assert caught.value.status_code == 400
    assert f"Runways ({runways_id}): Value must be a number" in caught.value.errors
    assert any(e.startswith("Opened (dp-") for e in caught.value.errors)
    with pytest.raises(RowDataError, match="read-only"):
        hook.insert_row("Airports", {"Label": "x"})
    with pytest.raises(RowDataError, match="no such column"):
        hook.insert_row("Airports", {"Nme": "x"})


def test_links_are_set_and_cleared(hook, world):
    flight = hook.insert_row("Flights", {"Code": "BA2", "Departure": 2})
    assert [d["id"] for d in flight["Departure"]] == [2]
    flight = hook.update_row("Flights", flight["id"], {"Departure": "[1, 3]"})
    assert [d["id"] for d in flight["Departure"]] == [1, 3]
    flight = hook.update_row("Flights", flight["id"], {"Departure": []})
    assert flight["Departure"] == []
    with pytest.raises(RowDataError, match="row ids"):
        hook.insert_row("Flights", {"Departure": ["Edinburgh"]})


# -- write_rows and delete_rows --------------------------------------------------------------------


def counters(ct: CloudTablesEmulator, dataset_id: str) -> dict[str, Any]:
    return next(d for d in ct.datasets() if d["id"] == dataset_id)


def test_upsert_inserts_new_keys_updates_changed_rows_and_skips_equal_ones(hook, world, cloudtables_emulator):
    rows = [
        {"Name": "Edinburgh", "Runways": 1, "Open": True},  # as stored: nothing to send
        {"Name": "Aberdeen", "Runways": 4},  # changed
        {"Name": "Inverness", "Runways": 1.0, "Open": False},  # new
        {"Name": "Inverness", "Runways": 2},  # repeats the new key: updates the row just inserted
    ]
    result = hook.write_rows("Airports", rows, key="Name")
    reads = [s for s in cloudtables_emulator.requests_seen if s.method == "GET" and s.path.count("/") == 5]
    assert len(reads) == 1  # one read for the key map
    assert (result.inserted, result.updated, result.unchanged, result.requests) == (1, 2, 1, 3)
    assert result.rows == 4
    stored = by_name(hook.get_rows("Airports"))
    assert stored["Edinburgh"]["dv"] == 0
    assert (stored["Aberdeen"]["Runways"], stored["Aberdeen"]["Open"], stored["Aberdeen"]["dv"]) == (
        4,
        True,
        1,
    )
    assert (stored["Inverness"]["Runways"], stored["Inverness"]["dv"]) == (2, 1)
    again = hook.write_rows("Airports", rows[:3], key="Name")  # only Inverness differs (Runways 2 → 1)
    assert (again.rows, again.unchanged, again.updated, again.requests) == (3, 2, 1, 1)


def test_upsert_twice_changes_nothing(hook, world, cloudtables_emulator):
    rows = [
        {"Name": f"Airport {n}", "Runways": n, "Open": n % 2 == 0, "Opened": "2000-01-02"} for n in range(20)
    ]
    first = hook.write_rows("Airports", rows, key="Name")
    before = counters(cloudtables_emulator, world.airports)
    second = hook.write_rows("Airports", rows, key="Name")
    after = counters(cloudtables_emulator, world.airports)
    assert (first.inserted, second.inserted, second.updated, second.unchanged) == (20, 0, 0, 20)
    assert after["rowCount"] == before["rowCount"] == 23
    assert after["updateCount"] == before["updateCount"] == 0
    assert all(row["dv"] == 0 for row in cloudtables_emulator.rows(world.airports))


def test_write_modes_insert_ignore_replace(hook, world):
    with pytest.raises(ConflictError, match="line 2 .*'Aberdeen'.* already exists"):
        hook.write_rows("Airports", [{"Name": "Perth"}, {"Name": "Aberdeen"}], mode="insert", key="Name")
    assert "Perth" not in by_name(hook.get_rows("Airports"))  # checked before the first write
    added = hook.write_rows("Airports", [{"Name": "Perth"}, {"Name": "Perth"}], mode="insert")
    assert added.inserted == 2  # no key: every row is a new row
    ignored = hook.write_rows(
        "Airports", [{"Name": "Glasgow", "Runways": 9}, {"Name": "Oban"}], mode="ignore", key="Name"
    )
    assert (ignored.inserted, ignored.ignored) == (1, 1)
    assert by_name(hook.get_rows("Airports"))["Glasgow"]["Runways"] == 3
    replaced = hook.write_rows("Airports", [{"Name": "Edinburgh", "Runways": 2}], mode="replace", key="Name")
    assert replaced.updated == 1
    edinburgh = by_name(hook.get_rows("Airports"))["Edinburgh"]
    assert (edinburgh["Runways"], edinburgh["Open"], edinburgh["Opened"], edinburgh["dv"]) == (
        2,
        None,
        None,
        1,
    )


def test_write_by_row_id_and_input_errors(hook, world):
    result = hook.write_rows(
        "Airports", [{"id": 3, "Name": "Glasgow Intl"}, {"id": 999, "Name": "New"}], key="id"
    )
    assert (result.updated, result.inserted) == (1, 1)
    assert by_name(hook.get_rows("Airports"))["Glasgow Intl"]["id"] == 3
    with pytest.raises(ValueError, match="needs key="):
        hook.write_rows("Airports", [{"Name": "x"}])
    with pytest.raises(RowDataError, match="line 2, column 'Name': the row has no value for its key"):
        hook.write_rows("Airports", [{"Name": "ok"}, {"Runways": 1}], key="Name")
    with pytest.raises(ValueError, match="must be a data point"):
        hook.write_rows("Airports", [{"Name": "x"}], key="Label")
    assert "ok" not in by_name(hook.get_rows("Airports"))


def test_a_missing_data_set_cannot_be_created(hook, world):
    with pytest.raises(NotFoundError, match="cannot create data sets through its API"):
        hook.write_rows("Ships", [{"Name": "x"}], key="Name", create=True)
    with pytest.raises(NotFoundError, match="no data set has the id or name 'Ships'"):
        hook.write_rows("Ships", [{"Name": "x"}], key="Name")


def test_delete_rows_by_filter_with_dry_run(hook, world, cloudtables_emulator):
    assert hook.delete_rows("Airports", where={"Runways__gte": 2}, dry_run=True) == 2
    assert len(cloudtables_emulator.rows(world.airports)) == 3
    assert hook.delete_rows("Airports", where={"Runways__gte": 2}) == 2
    assert [r["id"] for r in cloudtables_emulator.rows(world.airports)] == [1]
    with pytest.raises(ValueError, match="where="):
        hook.delete_rows("Airports")
    assert hook.delete_rows("Airports", where={}) == 1


# -- conditions ----------------------------------------------------------------------------------------


def test_conditions_filter_reads_and_set_values_on_insert(hook, world, cloudtables_emulator):
    open_id = cloudtables_emulator.datapoint_id(world.airports, "Open")
    cloudtables_emulator.clear_requests_seen()
    rows = hook.get_rows("Airports", conditions={"Open": True})
    assert sorted(r["Name"] for r in rows) == ["Aberdeen", "Edinburgh"]
    read = cloudtables_emulator.requests_seen[-1]
    assert json.loads(read.query["conditions"][0]) == [{"id": open_id, "value": True}]
    assert not read.form
    row = hook.insert_row(
        "Airports", {"Name": "Wick", "Open": False}, conditions=[{"name": "Open", "value": True}]
    )
    assert row["Open"] is True  # the condition's value wins on insert
    insert = cloudtables_emulator.requests_seen[-1]
    assert json.loads(insert.form["conditions"][0]) == [{"id": open_id, "value": True}]
    assert "conditions" not in insert.query
    with pytest.raises(NotFoundError):
        hook.get_row("Airports", 3, conditions={"Open": True})  # Glasgow is closed
    with pytest.raises(ValueError, match="data points only"):
        hook.get_rows("Airports", conditions={"Label": "x"})
    with pytest.raises(ValueError, match="op"):
        hook.get_rows("Airports", conditions=[{"name": "Open", "value": 1, "op": "~"}])
    hook.get_rows("Airports")
    assert all(
        "conditions" not in s.query and "conditions" not in s.form
        for s in cloudtables_emulator.requests_seen[-1:]
    )


# -- access tokens and script tags ---------------------------------------------------------------------


def test_access_tokens_carry_roles_conditions_duration_and_client(hook, world, cloudtables_emulator):
    token = hook.create_access_token(
        "Airports", roles=["Viewer", "Editor"], conditions={"Name": "Edinburgh"}, duration=600
    )
    minted = cloudtables_emulator.tokens[-1]
    assert minted.token == token
    assert len(token) == 32
    assert minted.roles == ("Viewer", "Editor")
    assert minted.duration == 600
    assert (minted.client_id, minted.client_name) == ("airflow-tests", "Airflow tests")
    name_id = cloudtables_emulator.datapoint_id(world.airports, "Name")
    assert minted.conditions == ({"id": name_id, "value": "Edinburgh", "op": "=", "set": True},)
    seen = cloudtables_emulator.requests_seen[-1]
    assert seen.form["clientId"] == ["airflow-tests"]
    assert "clientId" not in seen.query
    assert redact(token) == "***"
    assert hook.scrub(f"t={token}") == "t=***"
    other = hook.create_access_token(client_id="u7", client_name="User Seven")
    assert other != token
    assert (cloudtables_emulator.tokens[-1].client_id, cloudtables_emulator.tokens[-1].duration) == (
        "u7",
        1200,
    )


def test_default_roles_come_from_the_connection(monkeypatch, cloudtables_emulator, world):
    conn_id = set_connection(
        monkeypatch, cloudtables_emulator, "ct_roles", extra={"roles": "Viewer, Auditor"}
    )
    CloudTablesHook(conn_id).create_access_token()
    assert cloudtables_emulator.tokens[-1].roles == ("Viewer", "Auditor")


@pytest.mark.parametrize("self_hosted", [True, False], ids=["self-hosted", "hosted"])
def test_script_tags_in_every_style_load_from_the_emulator(
    monkeypatch, cloudtables_emulator, world, self_hosted
):
    conn_id = set_connection(monkeypatch, cloudtables_emulator, "ct_tags", extra={"self_hosted": self_hosted})
    hook = CloudTablesHook(conn_id)
    token = hook.create_access_token("Airports")
    prefix = "/io" if self_hosted else ""
    for style in SCRIPT_STYLES:
        tag = hook.script_tag("Airports", token, style)
        src = f"{cloudtables_emulator.url}{prefix}/loader/{world.airports}/table/{style}"
        assert tag == f'<script src="{src}" data-token="{token}"></script>'
        assert hook.loader_url("Airports", style) == src
        loader = requests.get(src, timeout=5)
        assert loader.status_code == 200
        assert loader.headers["Content-Type"] == "application/javascript"
    api_paths = {
        s.path.split("/api/1/")[0] for s in cloudtables_emulator.requests_seen if "/api/1/" in s.path
    }
    assert api_paths == {prefix}
    with pytest.raises(ValueError, match="unknown table style 'bs5'"):
        hook.script_tag("Airports", token, "bs5")


# -- failures, retries, pacing -----------------------------------------------------------------------------


def test_failures_in_200_bodies_raise(hook, world, cloudtables_emulator):
    hook.get_schema("Airports")  # names resolved and schema cached: each fault below hits the call named
    cloudtables_emulator.clear_requests_seen()
    cloudtables_emulator.fail_next(1, 200, body={"success": False, "error": "Data set is locked"})
    with pytest.raises(BadRequestError) as caught:
        hook.delete_row("Airports", 1)
    assert caught.value.status_code == 200
    assert "Data set is locked" in str(caught.value)
    body = {"error": "Validation failed", "fieldErrors": [{"name": "dp-2", "status": "Too many"}]}
    cloudtables_emulator.fail_next(1, 200, body=body)
    with pytest.raises(BadRequestError) as caught:
        hook.insert_row("Airports", {"Name": "x"})
    assert caught.value.errors == ["Validation failed", "Runways (dp-2): Too many"]
    cloudtables_emulator.fail_next(1, 200, body={"errors": [{"msg": "Unknown role", "name": "roles"}]})
    with pytest.raises(BadRequestError, match="roles: Unknown role"):
        hook.create_access_token(roles=["Nobody"])
    cloudtables_emulator.fail_next(1, 200, body={"data": [], "error": "Data set x does not exist"})
    with pytest.raises(NotFoundError):
        hook.get_rows("Airports")
    assert hook.get_row("Airports", 1)["Name"] == "Edinburgh"  # nothing left over
    methods = [(s.method, s.path.rsplit("/", 1)[-1], s.status) for s in cloudtables_emulator.requests_seen]
    assert methods == [
        ("DELETE", "1", 200),
        ("POST", world.airports, 200),
        ("POST", "access", 200),
        ("GET", world.airports, 200),
        ("GET", "1", 200),
    ]


def test_a_429_with_retry_after_is_waited_out(hook, world, cloudtables_emulator, logged):
    cloudtables_emulator.fail_next(1, 429, retry_after=1)
    assert len(hook.list_datasets()) == 2
    assert [s.status for s in cloudtables_emulator.requests_seen] == [429, 200]
    warnings = [text for level, text in logged() if level == "warning"]
    assert len(warnings) == 1
    assert "(HTTP 429); retry 1 of 5 in 1.0 s" in warnings[0]


def test_writes_are_paced_to_the_rate_limit(monkeypatch, logged):
    limit, window = 5, 1.0
    with CloudTablesEmulator(rate_limit=limit, rate_window=window) as ct:
        dataset = ct.add_dataset("Paced", [("Code", "text")])
        extra = {"rate_limit": limit, "rate_window": window}
        conn_id = set_connection(monkeypatch, ct, "ct_paced", extra=extra)
        hook = CloudTablesHook(conn_id, progress_every=0)
        rows = [{"Code": f"c{n}"} for n in range(limit + 5)]
        result = hook.write_rows(dataset, rows, mode="insert")
        assert result.inserted == limit + 5
        statuses = [s.status for s in ct.requests_seen]
        # the schema, the rows before the first write (what tells a lost insert from an equal row), then
        # one request per row
        assert len(statuses) == limit + 7
        assert set(statuses) == {200}  # no 429 ever reached the hook
        assert len(ct.rows(dataset)) == limit + 5
        progress = [text for _, text in logged() if " rows done " in text]
        assert progress
        assert all("ETA" in text for text in progress)
        assert hook.pacer is not None
        assert hook.pacer.waited > 0


def test_without_pacing_the_same_writes_run_into_the_limit(monkeypatch):
    with CloudTablesEmulator(rate_limit=3, rate_window=60) as ct:
        dataset = ct.add_dataset("Unpaced", [("Code", "text")])
        conn_id = set_connection(monkeypatch, ct, "ct_unpaced", extra={"rate_limit": 0, "retry_limit": 0})
        with pytest.raises(RateLimitError) as caught:
            CloudTablesHook(conn_id).write_rows(dataset, [{"Code": str(n)} for n in range(5)], mode="insert")
        assert caught.value.retry_after is not None
        assert caught.value.retry_after >= 1
        assert ct.requests_seen[-1].status == 429


def test_the_api_key_never_reaches_the_logs(hook, world, cloudtables_emulator, logged):
    cloudtables_emulator.fail_next(1, 503, retry_after=0)
    hook.write_rows("Airports", [{"Name": "Edinburgh", "Runways": 5}], key="Name")
    hook.create_access_token("Airports")
    lines = logged()
    assert lines
    assert all(cloudtables_emulator.api_key not in text for _, text in lines)
