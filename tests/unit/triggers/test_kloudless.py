"""The Kloudless events triggers: serialization, and run() against the in-thread emulator."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from airflow.sdk.module_loading import import_string

from airflow_provider_cloud.exceptions import AuthenticationError, ServerError, error_from_event
from airflow_provider_cloud.testing.kloudless import KloudlessEmulator
from airflow_provider_cloud.triggers.kloudless import KloudlessEventsTrigger
from airflow_provider_cloud.triggers.kloudless_events import (
    CURSOR_KEY,
    KloudlessEventsEventTrigger,
    MemoryStateStore,
)

FAST = 0.02  # poll interval of the tests, in seconds
WAIT = 10.0  # safety bound on every wait (a hung test fails instead of blocking)
TEST_CONN = "kloudless_trigger_test"


class FakeStateStore:
    """Stands in for Airflow's AssetStateStoreAccessors: aget/aset, and a log of what was set."""

    def __init__(self, **values: Any) -> None:
        self.values: dict[str, Any] = dict(values)
        self.writes: list[tuple[str, Any]] = []

    async def aget(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    async def aset(self, key: str, value: Any) -> None:
        self.values[key] = value
        self.writes.append((key, value))


def set_connection(monkeypatch, emulator: KloudlessEmulator, token: str, **extra: Any) -> str:
    conn = {"conn_type": "kloudless", "host": emulator.url, "password": token, "extra": extra}
    monkeypatch.setenv(f"AIRFLOW_CONN_{TEST_CONN.upper()}", json.dumps(conn))
    return TEST_CONN


def produce(emulator: KloudlessEmulator, account_id: int, *types: str) -> list[dict[str, Any]]:
    return [emulator.produce_event(account_id, t) for t in types]


async def wait_until(predicate, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.005)


def events_requests(emulator: KloudlessEmulator) -> int:
    return sum(1 for r in emulator.requests_seen if r["path"].endswith("/events"))


# -- serialization ------------------------------------------------------------------------------------


def test_events_trigger_serialize_round_trip():
    trigger = KloudlessEventsTrigger(
        conn_id="kl",
        cursor=42,
        account_id=7,
        event_types=["add", "delete", "add"],
        max_events=50,
        page_size=200,
        poll_interval=5,
        end_time=1_900_000_000.5,
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_cloud.triggers.kloudless.KloudlessEventsTrigger"
    assert kwargs == {
        "conn_id": "kl",
        "cursor": 42,
        "account_id": 7,
        "event_types": ["add", "delete"],
        "max_events": 50,
        "page_size": 200,
        "poll_interval": 5.0,
        "end_time": 1_900_000_000.5,
        "start_from": "latest",
    }
    json.dumps(kwargs)  # JSON-safe
    rebuilt = import_string(classpath)(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)


def test_event_trigger_serialize_round_trip_is_deterministic():
    trigger = KloudlessEventsEventTrigger(conn_id="kl", event_types="add", poll_interval=30)
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_cloud.triggers.kloudless_events.KloudlessEventsEventTrigger"
    assert kwargs == {
        "conn_id": "kl",
        "account_id": None,
        "event_types": ["add"],
        "poll_interval": 30.0,
        "max_events": 100,
        "max_consecutive_failures": 5,
        "page_size": None,
    }
    rebuilt = import_string(classpath)(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)
    # Identity of a watcher: the same arguments give the same hash on every parse.
    assert KloudlessEventsEventTrigger.hash(classpath, kwargs) == KloudlessEventsEventTrigger.hash(
        *KloudlessEventsEventTrigger(conn_id="kl", event_types=["add"], poll_interval=30.0).serialize()
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_events": 0}, "max_events"),
        ({"max_events": 1001}, "max_events"),
        ({"poll_interval": 0}, "poll_interval"),
        ({"start_from": "middle"}, "start_from"),
        ({"event_types": []}, "event_types"),
    ],
)
def test_events_trigger_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        KloudlessEventsTrigger(conn_id="kl", cursor=1, **kwargs)


def test_event_trigger_rejects_negative_failure_limit():
    with pytest.raises(ValueError, match="max_consecutive_failures"):
        KloudlessEventsEventTrigger(conn_id="kl", max_consecutive_failures=-1)


# -- KloudlessEventsTrigger.run() -------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.asyncio
async def test_run_yields_one_success_event(kloudless_emulator, kloudless_account_id, kloudless_conn_id):
    produce(kloudless_emulator, kloudless_account_id, "add")
    start = kloudless_emulator.latest_cursor(kloudless_account_id)
    produced = produce(kloudless_emulator, kloudless_account_id, "add", "update", "delete")
    classpath, kwargs = KloudlessEventsTrigger(
        conn_id=kloudless_conn_id, cursor=start, poll_interval=FAST
    ).serialize()
    trigger = import_string(classpath)(**kwargs)

    run = trigger.run()
    event = await asyncio.wait_for(run.__anext__(), WAIT)

    payload = event.payload
    assert payload["status"] == "success"
    assert payload["previous_cursor"] == start
    assert payload["cursor"] == kloudless_emulator.latest_cursor(kloudless_account_id)
    assert payload["count"] == 3
    assert [e["id"] for e in payload["events"]] == [e["id"] for e in produced]
    json.dumps(payload)
    with pytest.raises(StopAsyncIteration):
        await run.__anext__()


@pytest.mark.integration
@pytest.mark.asyncio
async def test_run_polls_until_events_arrive(kloudless_emulator, kloudless_account_id, kloudless_conn_id):
    start = kloudless_emulator.latest_cursor(kloudless_account_id)
    trigger = KloudlessEventsTrigger(conn_id=kloudless_conn_id, cursor=start, poll_interval=FAST)
    task = asyncio.create_task(trigger.run().__anext__())

    await wait_until(lambda: events_requests(kloudless_emulator) >= 3, "three empty polls")
    assert not task.done()
    produced = produce(kloudless_emulator, kloudless_account_id, "add")
    event = await asyncio.wait_for(task, WAIT)

    assert event.payload["status"] == "success"
    assert [e["id"] for e in event.payload["events"]] == [produced[0]["id"]]


@pytest.mark.integration
@pytest.mark.asyncio
async def test_run_skips_other_types_and_bounds_the_batch(
    kloudless_emulator, kloudless_account_id, kloudless_conn_id
):
    start = kloudless_emulator.latest_cursor(kloudless_account_id)
    produced = produce(kloudless_emulator, kloudless_account_id, "update", "add", "update", "add", "add")
    trigger = KloudlessEventsTrigger(
        conn_id=kloudless_conn_id, cursor=start, event_types=["add"], max_events=2, poll_interval=FAST
    )
    payload = (await asyncio.wait_for(trigger.run().__anext__(), WAIT)).payload

    assert payload["count"] == 2
    assert [e["id"] for e in payload["events"]] == [produced[1]["id"], produced[3]["id"]]
    assert {e["type"] for e in payload["events"]} == {"add"}
    # The rest is still after the returned cursor: reading from it finds exactly the last "add".
    rest = KloudlessEventsTrigger(
        conn_id=kloudless_conn_id, cursor=payload["cursor"], event_types=["add"], poll_interval=FAST
    )
    rest_payload = (await asyncio.wait_for(rest.run().__anext__(), WAIT)).payload
    assert [e["id"] for e in rest_payload["events"]] == [produced[4]["id"]]
    assert rest_payload["cursor"] == kloudless_emulator.latest_cursor(kloudless_account_id)


@pytest.mark.integration
@pytest.mark.asyncio
async def test_run_times_out_at_its_deadline(kloudless_emulator, kloudless_account_id, kloudless_conn_id):
    produce(kloudless_emulator, kloudless_account_id, "delete")
    start = kloudless_emulator.latest_cursor(kloudless_account_id) - 1
    trigger = KloudlessEventsTrigger(
        conn_id=kloudless_conn_id,
        cursor=start,
        event_types=["add"],
        poll_interval=FAST,
        end_time=time.time() + 0.2,
    )
    payload = (await asyncio.wait_for(trigger.run().__anext__(), WAIT)).payload

    assert payload["status"] == "timeout"
    assert payload["cursor"] == start + 1  # got past the skipped "delete"
    assert "no Kloudless events" in payload["message"]


@pytest.mark.integration
@pytest.mark.asyncio
async def test_run_reports_a_bad_token_without_leaking_it(monkeypatch, kloudless_emulator):
    token = "not-a-valid-token-3f9c2e1d"
    conn_id = set_connection(monkeypatch, kloudless_emulator, token, retry_limit=0)
    trigger = KloudlessEventsTrigger(conn_id=conn_id, cursor=0, poll_interval=FAST)

    payload = (await asyncio.wait_for(trigger.run().__anext__(), WAIT)).payload

    assert payload["status"] == "error"
    assert payload["error_type"] == "AuthenticationError"
    assert payload["status_code"] == 401
    assert token not in json.dumps(payload)
    error = error_from_event(payload)
    assert isinstance(error, AuthenticationError)
    assert error.status_code == 401
    assert str(error) == payload["message"]


@pytest.mark.integration
@pytest.mark.asyncio
async def test_run_does_not_block_the_event_loop(kloudless_emulator, kloudless_account_id, kloudless_conn_id):
    start = kloudless_emulator.latest_cursor(kloudless_account_id)
    produce(kloudless_emulator, kloudless_account_id, "add")
    kloudless_emulator.latency = 0.5
    trigger = KloudlessEventsTrigger(conn_id=kloudless_conn_id, cursor=start, poll_interval=FAST)
    task = asyncio.create_task(trigger.run().__anext__())
    ticks = 0

    def request_in_flight() -> bool:
        nonlocal ticks
        ticks += 1
        return events_requests(kloudless_emulator) >= 1

    await wait_until(request_in_flight, "the events request to reach the emulator")
    # This coroutine ran while the trigger's request was being served: the loop was free.
    assert not task.done()
    event = await asyncio.wait_for(task, WAIT)
    assert event.payload["status"] == "success"
    assert ticks >= 2


# -- KloudlessEventsEventTrigger.run() --------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.asyncio
async def test_event_trigger_starts_at_latest_and_fires_once_per_batch(
    kloudless_emulator, kloudless_account_id, kloudless_conn_id
):
    produce(kloudless_emulator, kloudless_account_id, "add", "add")  # before the watcher: never fired
    store = FakeStateStore()
    trigger = KloudlessEventsEventTrigger(conn_id=kloudless_conn_id, poll_interval=FAST)
    trigger.asset_state_store = store
    run = trigger.run()

    first = asyncio.create_task(run.__anext__())
    await wait_until(lambda: CURSOR_KEY in store.values, "the latest cursor to be stored")
    assert store.values[CURSOR_KEY] == 2
    await wait_until(lambda: events_requests(kloudless_emulator) >= 2, "two polls")
    assert not first.done()  # old events fire nothing

    batch1 = produce(kloudless_emulator, kloudless_account_id, "add", "delete", "add")
    payload = (await asyncio.wait_for(first, WAIT)).payload
    assert payload == {
        "cursor": 5,
        "previous_cursor": 2,
        "count": 3,
        "event_ids": [e["id"] for e in batch1],
        "types": {"add": 2, "delete": 1},
    }
    assert store.values[CURSOR_KEY] == 2  # the generator is paused at the yield: not stored yet

    second = asyncio.create_task(run.__anext__())
    await wait_until(lambda: store.values[CURSOR_KEY] == 5, "the cursor to be stored after the yield")
    await wait_until(lambda: events_requests(kloudless_emulator) >= 5, "more polls")
    assert not second.done()  # the same events never fire again

    batch2 = produce(kloudless_emulator, kloudless_account_id, "rename")
    payload2 = (await asyncio.wait_for(second, WAIT)).payload
    assert payload2["previous_cursor"] == 5
    assert payload2["event_ids"] == [batch2[0]["id"]]
    assert store.writes == [(CURSOR_KEY, 2), (CURSOR_KEY, 5)]
    await run.aclose()


@pytest.mark.integration
@pytest.mark.asyncio
async def test_event_trigger_payload_is_bounded(kloudless_emulator, kloudless_account_id, kloudless_conn_id):
    produced = produce(kloudless_emulator, kloudless_account_id, *["add"] * 5)
    store = FakeStateStore(cursor=0)
    trigger = KloudlessEventsEventTrigger(conn_id=kloudless_conn_id, poll_interval=FAST, max_events=2)
    trigger.asset_state_store = store
    run = trigger.run()

    payloads = [(await asyncio.wait_for(run.__anext__(), WAIT)).payload for _ in range(3)]
    await run.aclose()

    assert [p["count"] for p in payloads] == [2, 2, 1]
    assert [p["cursor"] for p in payloads] == [2, 4, 5]
    assert [i for p in payloads for i in p["event_ids"]] == [e["id"] for e in produced]
    assert all(len(p["event_ids"]) <= 2 for p in payloads)


@pytest.mark.integration
@pytest.mark.asyncio
async def test_event_trigger_filters_types_and_moves_past_skipped(
    kloudless_emulator, kloudless_account_id, kloudless_conn_id
):
    store = FakeStateStore(cursor=0)
    trigger = KloudlessEventsEventTrigger(conn_id=kloudless_conn_id, poll_interval=FAST, event_types=["add"])
    trigger.asset_state_store = store
    run = trigger.run()
    produce(kloudless_emulator, kloudless_account_id, "delete", "update")
    task = asyncio.create_task(run.__anext__())

    await wait_until(lambda: store.values[CURSOR_KEY] == 2, "the cursor to move past skipped events")
    assert not task.done()
    added = produce(kloudless_emulator, kloudless_account_id, "add")
    payload = (await asyncio.wait_for(task, WAIT)).payload
    await run.aclose()
    assert payload["event_ids"] == [added[0]["id"]]
    assert payload["previous_cursor"] == 2


@pytest.mark.integration
@pytest.mark.asyncio
async def test_event_trigger_survives_transient_failures_up_to_the_limit(
    monkeypatch, kloudless_emulator, kloudless_account_id, kloudless_token
):
    conn_id = set_connection(monkeypatch, kloudless_emulator, kloudless_token, retry_limit=0)
    store = FakeStateStore(cursor=0)
    trigger = KloudlessEventsEventTrigger(conn_id=conn_id, poll_interval=FAST, max_consecutive_failures=2)
    trigger.asset_state_store = store
    run = trigger.run()

    kloudless_emulator.fail_next(2, 503)
    produced = produce(kloudless_emulator, kloudless_account_id, "add")
    payload = (await asyncio.wait_for(run.__anext__(), WAIT)).payload
    assert payload["event_ids"] == [produced[0]["id"]]
    assert events_requests(kloudless_emulator) == 3  # two failed polls, then the good one

    kloudless_emulator.fail_next(3, 503)
    with pytest.raises(ServerError) as raised:
        await asyncio.wait_for(run.__anext__(), WAIT)
    assert raised.value.status_code == 503
    assert store.values[CURSOR_KEY] == 1  # the delivered batch was committed before the failures
    assert kloudless_emulator.events(kloudless_account_id)  # nothing else was touched


@pytest.mark.integration
@pytest.mark.asyncio
async def test_event_trigger_raises_a_bad_token_at_once(monkeypatch, kloudless_emulator):
    conn_id = set_connection(monkeypatch, kloudless_emulator, "wrong-token-1234567", retry_limit=0)
    trigger = KloudlessEventsEventTrigger(conn_id=conn_id, poll_interval=FAST, max_consecutive_failures=5)
    trigger.asset_state_store = FakeStateStore(cursor=0)

    with pytest.raises(AuthenticationError):
        await asyncio.wait_for(trigger.run().__anext__(), WAIT)
    assert events_requests(kloudless_emulator) == 1


@pytest.mark.integration
@pytest.mark.asyncio
async def test_event_trigger_continues_from_oldest_after_an_expired_cursor(monkeypatch):
    with KloudlessEmulator(retention_max_events=3) as emulator:
        account_id = emulator.create_account()
        conn_id = set_connection(monkeypatch, emulator, emulator.create_token(account_id))
        produced = produce(emulator, account_id, *["add"] * 6)  # events 1-3 are dropped
        store = FakeStateStore(cursor=1)
        trigger = KloudlessEventsEventTrigger(conn_id=conn_id, poll_interval=FAST)
        trigger.asset_state_store = store
        run = trigger.run()

        payload = (await asyncio.wait_for(run.__anext__(), WAIT)).payload
        await run.aclose()

    assert payload["event_ids"] == [e["id"] for e in produced[3:]]
    assert payload["previous_cursor"] == "after-auth"
    assert payload["cursor"] == 6


@pytest.mark.integration
@pytest.mark.asyncio
async def test_event_trigger_without_a_state_store_keeps_the_cursor_in_memory(
    kloudless_emulator, kloudless_account_id, kloudless_conn_id
):
    trigger = KloudlessEventsEventTrigger(conn_id=kloudless_conn_id, poll_interval=FAST)
    assert trigger.asset_state_store is None
    run = trigger.run()
    task = asyncio.create_task(run.__anext__())
    await wait_until(lambda: isinstance(trigger.asset_state_store, MemoryStateStore), "the fallback store")
    store = trigger.asset_state_store
    await wait_until(lambda: store.values.get(CURSOR_KEY) == 0, "the latest cursor")
    produce(kloudless_emulator, kloudless_account_id, "add")
    payload = (await asyncio.wait_for(task, WAIT)).payload
    await run.aclose()
    assert payload["count"] == 1
