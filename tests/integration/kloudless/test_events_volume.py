"""
25,000 Kloudless events read back in order across pages - none lost, none repeated - by the hook and the sensor.

The emulator keeps 10,000 events per account by default, so this module starts its own with a larger retention.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from airflow_provider_cloud.hooks.kloudless import AFTER_AUTH, KloudlessHook
from airflow_provider_cloud.sensors.kloudless import KloudlessEventsSensor
from airflow_provider_cloud.testing.kloudless import KloudlessEmulator

pytestmark = pytest.mark.integration

EVENT_COUNT = 25_000
PAGE_SIZE = 1000


@dataclass(frozen=True)
class BigStream:
    """An account with :data:`EVENT_COUNT` events, a connection to it, and the events' ids as produced."""

    account_id: int
    conn_id: str
    event_ids: list[int]


@pytest.fixture(scope="module")
def volume_emulator() -> Iterator[KloudlessEmulator]:
    with KloudlessEmulator(retention_max_events=EVENT_COUNT + 5_000) as emulator:
        yield emulator


@pytest.fixture
def big_stream(volume_emulator: KloudlessEmulator, monkeypatch: pytest.MonkeyPatch) -> BigStream:
    """Connect a fresh account, produce the events through the emulator's helper, define its connection."""
    kl = volume_emulator
    account_id = kl.create_account(account="volume@example.com")
    produced = [
        kl.produce_event(
            account_id,
            "add" if number % 3 else "update",
            {"id": f"F{number}", "name": f"file-{number}.csv", "type": "file", "api": "storage"},
        )["event_id"]
        for number in range(EVENT_COUNT)
    ]
    connection = {"conn_type": "kloudless", "host": kl.url, "password": kl.create_token(account_id)}
    monkeypatch.setenv("AIRFLOW_CONN_KLOUDLESS_VOLUME", json.dumps(connection))
    return BigStream(account_id, "kloudless_volume", produced)


@pytest.fixture
def hook(big_stream: BigStream) -> Iterator[KloudlessHook]:
    made = KloudlessHook(big_stream.conn_id)
    yield made
    made.close()


def assert_complete_and_in_order(event_ids: list[int], expected: list[int]) -> None:
    assert len(event_ids) == EVENT_COUNT
    assert all(a < b for a, b in zip(event_ids, event_ids[1:], strict=False)), "ids not strictly increasing"
    assert len(set(event_ids)) == EVENT_COUNT
    assert event_ids == expected


def test_iter_events_reads_every_event_once_in_order(hook, big_stream, volume_emulator):
    assert big_stream.event_ids == list(range(big_stream.event_ids[0], big_stream.event_ids[0] + EVENT_COUNT))
    assert [e["event_id"] for e in volume_emulator.events(big_stream.account_id)] == big_stream.event_ids

    stream = hook.iter_events(AFTER_AUTH, page_size=PAGE_SIZE)
    events = list(stream)

    assert_complete_and_in_order([e["event_id"] for e in events], big_stream.event_ids)
    assert [e["metadata"]["id"] for e in events[:3]] == ["F0", "F1", "F2"]
    assert stream.pages == EVENT_COUNT // PAGE_SIZE  # the last page says remaining 0: no extra request
    assert stream.caught_up
    assert stream.count == EVENT_COUNT
    assert stream.cursor == hook.get_latest_cursor()

    # Pages that do not divide the stream evenly, resumed in chunks: still every event exactly once.
    cursor, chunks, read = stream.previous_cursor, 0, []
    while len(read) < EVENT_COUNT and chunks < 10:
        chunk = hook.iter_events(cursor, page_size=997, max_events=3_700)
        read.extend(e["event_id"] for e in chunk)
        cursor, chunks = chunk.cursor, chunks + 1
    assert_complete_and_in_order(read, big_stream.event_ids)
    assert chunks == 7
    assert cursor == stream.cursor


def test_caught_up_page_and_latest_cursor_rules(hook, big_stream, volume_emulator):
    end = list(hook.iter_events(AFTER_AUTH, page_size=PAGE_SIZE))
    latest = hook.get_latest_cursor()

    # Caught up: an empty page that answers the same cursor, however often it is asked.
    for _ in range(3):
        page = hook.get_events_page(latest, page_size=PAGE_SIZE)
        assert (page["objects"], page["cursor"], page["count"]) == ([], latest, 0)
    assert list(hook.iter_events(latest)) == []

    # The latest cursor: nothing until a new event, then exactly that event.
    new = volume_emulator.produce_event(big_stream.account_id, "delete", end[-1]["metadata"])
    stream = hook.iter_events(latest, page_size=PAGE_SIZE)
    assert [e["event_id"] for e in stream] == [new["event_id"]] == [big_stream.event_ids[-1] + 1]
    assert stream.cursor == hook.get_latest_cursor() != latest
    assert list(hook.iter_events(stream.cursor)) == []


def test_sensor_batches_of_1000_resume_from_the_returned_cursor(big_stream, volume_emulator):
    def poke(cursor: int | str | None):
        sensor = KloudlessEventsSensor(
            task_id="wait",
            conn_id=big_stream.conn_id,
            cursor=cursor,
            start_from="oldest",
            max_events=PAGE_SIZE,
            deferrable=False,
        )
        try:
            return sensor.poke({})
        finally:
            sensor.hook.close()

    read: list[int] = []
    cursor: int | str | None = None
    batches = 0
    while batches < 30:  # bounded: 25 batches are expected
        result = poke(cursor)
        if not result.is_done:
            break
        batch = result.xcom_value
        assert batch["previous_cursor"] == (AFTER_AUTH if cursor is None else cursor)
        assert batch["count"] == len(batch["events"]) == PAGE_SIZE
        read.extend(e["event_id"] for e in batch["events"])
        cursor, batches = batch["cursor"], batches + 1

    assert batches == EVENT_COUNT // PAGE_SIZE
    assert_complete_and_in_order(read, big_stream.event_ids)
    assert cursor == volume_emulator.latest_cursor(big_stream.account_id)

    # Caught up at the latest cursor: nothing until a new event arrives, then only that event.
    assert not poke(cursor).is_done
    new = volume_emulator.produce_event(big_stream.account_id, "add")
    after = poke(cursor)
    assert after.is_done
    assert [e["id"] for e in after.xcom_value["events"]] == [new["id"]]
    assert after.xcom_value["previous_cursor"] == cursor
