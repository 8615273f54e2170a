"""
The Kloudless triggers keep the connection's secret out of their kwargs, events, errors and logs, and poll
without a thread per poll.

The connection's token is a distinctive value, scanned for in ``serialize()``'s kwargs, in every event each
trigger yields (success, timeout, error) and in every log line of the run.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import structlog

from airflow_provider_cloud.exceptions import AuthenticationError
from airflow_provider_cloud.testing.kloudless import KloudlessEmulator
from airflow_provider_cloud.triggers.kloudless import KloudlessEventsTrigger
from airflow_provider_cloud.triggers.kloudless_events import KloudlessEventsEventTrigger, MemoryStateStore

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

SECRET = "kl-TRIGGER-SECRET-0b7e41c9d2"
CONN_ID = "kloudless_trigger_secrets"
FAST = 0.02
WAIT = 10.0


@pytest.fixture
def account(kloudless_emulator: KloudlessEmulator, monkeypatch: pytest.MonkeyPatch) -> int:
    account_id = kloudless_emulator.create_account()
    kloudless_emulator.create_token(account_id, token=SECRET)
    conn = {
        "conn_type": "kloudless",
        "host": kloudless_emulator.url,
        "password": SECRET,
        "extra": {"retry_limit": 0},
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(conn))
    return account_id


@pytest.fixture
def logs():
    formatter = structlog.stdlib.PositionalArgumentsFormatter()
    with structlog.testing.capture_logs(processors=[formatter]) as entries:
        yield lambda: [json.dumps(entry, default=str) for entry in entries]


def assert_no_secret(*values: Any) -> None:
    for value in values:
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        assert SECRET not in text


async def first_event(trigger: Any) -> dict[str, Any]:
    run = trigger.run()
    try:
        event = await asyncio.wait_for(run.__anext__(), WAIT)
    finally:
        await run.aclose()
    return dict(event.payload)


async def test_the_sensor_trigger_kwargs_and_events_carry_no_secret(kloudless_emulator, account, logs):
    start = kloudless_emulator.latest_cursor(account)
    kloudless_emulator.produce_event(account, "add")
    success = KloudlessEventsTrigger(conn_id=CONN_ID, cursor=start, poll_interval=FAST)
    timeout = KloudlessEventsTrigger(
        conn_id=CONN_ID, cursor=start + 1, poll_interval=FAST, end_time=time.time() + 0.1
    )
    failing = KloudlessEventsTrigger(conn_id=CONN_ID, cursor=start, poll_interval=FAST)

    payloads = [await first_event(success), await first_event(timeout)]
    kloudless_emulator.fail_next(1, 400, error_code=f"echo_{SECRET}")
    payloads.append(await first_event(failing))

    assert [p["status"] for p in payloads] == ["success", "timeout", "error"]
    assert "echo_***" in payloads[2]["message"]  # the secret was there, and was scrubbed
    assert_no_secret(*(t.serialize() for t in (success, timeout, failing)), *payloads, *logs())


async def test_the_event_trigger_kwargs_events_and_errors_carry_no_secret(kloudless_emulator, account, logs):
    trigger = KloudlessEventsEventTrigger(conn_id=CONN_ID, poll_interval=FAST, max_events=2)
    store = MemoryStateStore()
    store.values["cursor"] = kloudless_emulator.latest_cursor(account)
    trigger.asset_state_store = store  # type: ignore[assignment]
    for _ in range(3):
        kloudless_emulator.produce_event(account, "add")
    run = trigger.run()
    payloads = [(await asyncio.wait_for(run.__anext__(), WAIT)).payload for _ in range(2)]

    kloudless_emulator.fail_next(1, 401, error_code=f"echo_{SECRET}")
    with pytest.raises(AuthenticationError) as raised:
        await asyncio.wait_for(run.__anext__(), WAIT)

    assert [p["count"] for p in payloads] == [2, 1]
    assert "echo_***" in str(raised.value)
    assert_no_secret(trigger.serialize(), *payloads, str(raised.value), raised.value.errors, *logs())


class CountingExecutor(ThreadPoolExecutor):
    """The loop's default executor, counting what is handed to it (``asyncio.to_thread`` and the like)."""

    def __init__(self) -> None:
        super().__init__(max_workers=2)
        self.jobs: list[Callable[..., Any]] = []

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def, override]
        self.jobs.append(fn)
        return super().submit(fn, *args, **kwargs)


def events_requests(emulator: KloudlessEmulator) -> int:
    return sum(1 for r in emulator.requests_seen if r["path"].endswith("/events"))


async def test_the_triggers_poll_without_a_thread_per_poll(kloudless_emulator, account):
    executor = CountingExecutor()
    asyncio.get_running_loop().set_default_executor(executor)
    start = kloudless_emulator.latest_cursor(account)
    sensor_trigger = KloudlessEventsTrigger(conn_id=CONN_ID, cursor=start, poll_interval=FAST)
    event_trigger = KloudlessEventsEventTrigger(conn_id=CONN_ID, poll_interval=FAST)
    event_trigger.asset_state_store = MemoryStateStore()  # type: ignore[assignment]
    event_run = event_trigger.run()
    waiting = [
        asyncio.create_task(sensor_trigger.run().__anext__()),
        asyncio.create_task(event_run.__anext__()),
    ]

    deadline = time.monotonic() + WAIT
    while events_requests(kloudless_emulator) < 20:
        if time.monotonic() > deadline:
            raise AssertionError("gave up waiting for twenty polls")
        await asyncio.sleep(FAST)
    assert not any(task.done() for task in waiting)
    kloudless_emulator.produce_event(account, "add")
    fired = await asyncio.wait_for(asyncio.gather(*waiting), WAIT)
    await event_run.aclose()

    assert [e.payload["count"] for e in fired] == [1, 1]
    assert executor.jobs == []  # twenty polls and more, and not one job for a thread
    executor.shutdown()
