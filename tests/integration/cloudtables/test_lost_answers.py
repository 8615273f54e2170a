"""Lost answers to CloudTables inserts, against the emulator: checked with one read, then done or sent again."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

from airflow_provider_cloud.exceptions import ApiTimeoutError, ConflictError
from airflow_provider_cloud.hooks.cloudtables import CloudTablesHook
from airflow_provider_cloud.testing.cloudtables import CloudTablesEmulator
from tests.integration.cloudtables.lossy import LossyAdapter

pytestmark = pytest.mark.integration

ROWS = [{"Code": f"C{n}", "Seats": n} for n in range(1, 7)]


@pytest.fixture
def flights(cloudtables_emulator: CloudTablesEmulator) -> str:
    dataset = cloudtables_emulator.add_dataset("Flights", [("Code", "text"), ("Seats", "number")])
    cloudtables_emulator.seed_rows(dataset, [{"Code": "C1", "Seats": 1}])  # equal to the first input row
    return dataset


def lossy_hook(
    conn_id: str, emulator: CloudTablesEmulator, *, wait: bool = False, **faults: Any
) -> tuple[CloudTablesHook, LossyAdapter]:
    """A hook with one request in flight (the requests in a known order), its inserts through the adapter."""
    hook = CloudTablesHook(conn_id, window=1)
    adapter = LossyAdapter(emulator, **faults)
    adapter.mount(hook.session)
    if not wait:
        hook._sleep = lambda seconds: None  # the core's backoff before a resend: not what is measured
    return hook, adapter


def seen(emulator: CloudTablesEmulator) -> list[tuple[str, int]]:
    return [(entry.method, entry.status) for entry in emulator.requests_seen]


def stored(emulator: CloudTablesEmulator, dataset: str) -> list[tuple[Any, Any]]:
    code, seats = emulator.datapoint_id(dataset, "Code"), emulator.datapoint_id(dataset, "Seats")
    return [(row[code], row[seats]) for row in emulator.rows(dataset)]


def insert_count(emulator: CloudTablesEmulator, dataset: str) -> int:
    return int(next(d for d in emulator.datasets() if d["id"] == dataset)["insertCount"])


@pytest.mark.parametrize(("mode", "key"), [("upsert", "Code"), ("insert", None)])
def test_an_insert_stored_before_its_answer_was_lost_costs_one_read_more(
    cloudtables_conn_id, cloudtables_emulator, flights, mode, key
):
    ct = cloudtables_emulator
    ct.clear_requests_seen()
    hook, adapter = lossy_hook(cloudtables_conn_id, ct, lose_after={2, 4})
    result = hook.write_rows(flights, ROWS[1:], mode=mode, key=key)
    assert result.inserted == 5
    assert adapter.lost == 2
    assert stored(ct, flights) == [("C1", 1), *[(row["Code"], row["Seats"]) for row in ROWS[1:]]]
    assert insert_count(ct, flights) == 5  # each row stored once
    # schema, rows before, then per row one POST; a lost answer adds one GET: 2 requests for that insert
    assert seen(ct) == [("GET", 200), ("GET", 200)] + [("POST", 200)] * 2 + [("GET", 200)] + [
        ("POST", 200)
    ] * 2 + [("GET", 200), ("POST", 200)]
    assert hook.counts.as_dict() == {"attempts": 9, "retries": 0, "reconciled": 2, "resent": 0}


@pytest.mark.parametrize(("mode", "key"), [("upsert", "Code"), ("insert", None)])
def test_an_insert_that_failed_before_it_was_stored_costs_a_read_and_a_resend(
    cloudtables_conn_id, cloudtables_emulator, flights, mode, key
):
    ct = cloudtables_emulator
    ct.clear_requests_seen()
    hook, _ = lossy_hook(cloudtables_conn_id, ct, fail_before={3})
    hook.write_rows(flights, ROWS[1:], mode=mode, key=key)
    assert insert_count(ct, flights) == 5
    assert len(ct.rows(flights)) == 6
    assert seen(ct)[4:7] == [("POST", 500), ("GET", 200), ("POST", 200)]  # 3 requests for that insert
    assert (hook.counts.reconciled, hook.counts.resent, hook.counts.retries) == (0, 1, 1)


def test_a_keyless_write_tells_its_own_row_from_an_equal_one_there_before(
    cloudtables_conn_id, cloudtables_emulator, flights
):
    ct = cloudtables_emulator
    hook, _ = lossy_hook(cloudtables_conn_id, ct, lose_after={1})
    hook.write_rows(flights, ROWS[:2], mode="insert")  # C1 is there already, equal: a second C1 is wanted
    assert stored(ct, flights) == [("C1", 1), ("C1", 1), ("C2", 2)]
    assert hook.counts.reconciled == 1


def test_a_lone_insert_whose_answer_was_lost_says_it_is_in_doubt(
    cloudtables_conn_id, cloudtables_emulator, flights
):
    ct = cloudtables_emulator
    hook, _ = lossy_hook(cloudtables_conn_id, ct, lose_after={1})
    with pytest.raises(ConflictError, match="the answer to the insert was lost .* The write is in doubt"):
        hook.insert_row(flights, {"Code": "C9", "Seats": 9})
    assert insert_count(ct, flights) == 1  # not sent again


def test_the_checks_are_paced_with_the_writes(monkeypatch):
    limit = 6
    with CloudTablesEmulator(rate_limit=limit, rate_window=1.0) as ct:
        dataset = ct.add_dataset("Paced", [("Code", "text"), ("Seats", "number")])
        connection = {
            "conn_type": "cloudtables",
            "host": ct.url,
            "password": ct.api_key,
            "extra": {"rate_limit": limit, "rate_window": 1.0},
        }
        monkeypatch.setenv("AIRFLOW_CONN_CT_PACED_LOSSY", json.dumps(connection))
        hook, adapter = lossy_hook("ct_paced_lossy", ct, wait=True, lose_after={2, 5}, fail_before={7})
        hook.write_rows(dataset, ROWS * 2, mode="insert")
        statuses = [entry.status for entry in ct.requests_seen]
        assert 429 not in statuses  # the checks' reads took their slots too
        assert len(ct.rows(dataset)) == 12
        assert (adapter.lost, adapter.failed) == (2, 1)


def test_when_the_check_cannot_read_either_the_insert_is_not_sent_again(
    cloudtables_conn_id, cloudtables_emulator, flights
):
    # the emulator's latency knob, turned up as the insert leaves: its reply, and the check's, come too late
    ct = cloudtables_emulator

    class SlowFromTheInsert(HTTPAdapter):
        def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
            if request.method == "POST":
                ct.latency = 0.4
            return super().send(request, *args, **kwargs)

    hook = CloudTablesHook(cloudtables_conn_id, timeout=0.2, retry_limit=1)
    hook.session.mount("http://", SlowFromTheInsert())
    with pytest.raises(ApiTimeoutError, match=r"POST .*: no answer within 0.2 s") as caught:
        hook.write_rows(flights, ROWS[1:2], mode="insert")
    assert isinstance(caught.value.__cause__, ApiTimeoutError)  # the check's read timed out too
    ct.latency = 0
    assert insert_count(ct, flights) == 1  # stored once, never sent again
    assert len(ct.rows(flights)) == 2
    assert hook.counts.as_dict() == {"attempts": 5, "retries": 1, "reconciled": 0, "resent": 0}
