"""
One side of ``triggerer.py``: the triggers in one event loop, run as Airflow's triggerer runs them, measured.

It also holds today's triggers as they polled before the async path (``asyncio.to_thread`` around the sync
hook): only here, to compare.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import random
import statistics
import threading
import time
from collections import defaultdict
from multiprocessing.connection import Connection
from typing import Any

CONN_ID = "kl_triggerer_bench"
TICK = 0.02  # the ticker's sleep: its oversleep is the event loop's lag


# -- today's triggers, polling in a thread (only here, to compare) -----------------------------------------


def threaded_classes() -> tuple[type, type]:
    """Return the two triggers as they polled before the async path: the sync hook in ``asyncio.to_thread``."""
    from airflow_provider_cloud.hooks.kloudless import EventBatch, KloudlessHook, read_events
    from airflow_provider_cloud.triggers.kloudless import KloudlessEventsTrigger
    from airflow_provider_cloud.triggers.kloudless_events import KloudlessEventsEventTrigger

    class ThreadedEventsTrigger(KloudlessEventsTrigger):
        async def run(self):  # type: ignore[no-untyped-def, override]
            from airflow.triggers.base import TriggerEvent

            hook = await KloudlessHook.async_create(self.conn_id, account_id=self.account_id)
            try:
                position = start = self.cursor
                while True:
                    batch = await asyncio.to_thread(
                        read_events, hook.iter_events, position, max_events=self.max_events
                    )
                    if batch.events:
                        result = EventBatch(previous_cursor=start, cursor=batch.cursor, events=batch.events)
                        yield TriggerEvent({"status": "success", **result.as_xcom()})
                        return
                    position = batch.cursor
                    await asyncio.sleep(self.poll_interval)
            finally:
                hook.close()

    class ThreadedEventsEventTrigger(KloudlessEventsEventTrigger):
        async def _poll(self, hook, store):  # type: ignore[no-untyped-def, override]
            cursor = await self._load_cursor(store)
            return await asyncio.to_thread(read_events, hook.iter_events, cursor, max_events=self.max_events)

        async def cleanup(self) -> None:
            hook, self._hook = self._hook, None
            if hook is not None:
                hook.close()

    return ThreadedEventsTrigger, ThreadedEventsEventTrigger


# -- one side: the triggers in one event loop --------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def rss_mib() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def count_polls() -> list[float]:
    """Count every events page asked for, by either path (the moment of each, for a rate)."""
    from airflow_provider_cloud.hooks.kloudless import KloudlessHook

    moments: list[float] = []
    sync_page, async_page = KloudlessHook.get_events_page, KloudlessHook.aget_events_page

    def get_events_page(self, cursor, *, page_size=None):  # type: ignore[no-untyped-def]
        moments.append(time.monotonic())
        return sync_page(self, cursor, page_size=page_size)

    async def aget_events_page(self, cursor, *, page_size=None):  # type: ignore[no-untyped-def]
        moments.append(time.monotonic())
        return await async_page(self, cursor, page_size=page_size)

    KloudlessHook.get_events_page = get_events_page  # type: ignore[method-assign]
    KloudlessHook.aget_events_page = aget_events_page  # type: ignore[method-assign]
    return moments


async def run_side(job: dict[str, Any], pipe: Connection) -> dict[str, Any]:
    import greenback

    from airflow_provider_cloud.triggers.kloudless import KloudlessEventsTrigger
    from airflow_provider_cloud.triggers.kloudless_events import KloudlessEventsEventTrigger, MemoryStateStore

    threaded_sensor, threaded_event = threaded_classes()
    if job["kind"] == "sensor":
        trigger_class = threaded_sensor if job["side"] == "thread" else KloudlessEventsTrigger
    else:
        trigger_class = threaded_event if job["side"] == "thread" else KloudlessEventsEventTrigger
    interval = job["interval"]
    polls = count_polls()
    fired: dict[str, list[float]] = defaultdict(list)
    errors: list[Any] = []

    def make(account: int, cursor: Any) -> Any:
        if job["kind"] == "sensor":
            return trigger_class(conn_id=CONN_ID, cursor=cursor, account_id=account, poll_interval=interval)
        trigger = trigger_class(conn_id=CONN_ID, account_id=account, poll_interval=interval)
        store = MemoryStateStore()
        store.values["cursor"] = cursor
        trigger.asset_state_store = store
        return trigger

    def record(payload: dict[str, Any]) -> Any:
        now = time.time()
        if payload.get("status", "success") != "success":
            errors.append(payload)
            return None
        ids = payload.get("event_ids") or [event["id"] for event in payload.get("events", [])]
        for event_id in ids:
            fired[event_id].append(now)
        return payload["cursor"]

    async def drive(account: int, delay: float) -> None:
        """One trigger as the triggerer runs it; a sensor's trigger is started again from the cursor it fired."""
        await greenback.ensure_portal()
        await asyncio.sleep(delay)
        cursor: Any = 0
        while True:
            try:
                async for event in make(account, cursor).run():
                    cursor = record(event.payload) or cursor
            except Exception as exc:  # an event trigger raises what it gives up on; the triggerer restarts it
                errors.append(f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(interval)

    lags: list[tuple[float, float]] = []

    async def ticker() -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(TICK)
            after = time.monotonic()
            lags.append((after, after - before - TICK))

    # Warm up on a spare account (imports, TLS context, connection lookup, a few polls), then the baseline.
    warm_run = make(job["spare"], 0).run()
    warm_task = asyncio.create_task(warm_run.__anext__())
    await asyncio.sleep(1.0)
    warm_task.cancel()
    await asyncio.gather(warm_task, return_exceptions=True)
    await warm_run.aclose()
    gc.collect()
    base_rss = rss_mib()
    polls.clear()

    tick_task = asyncio.create_task(ticker())
    rng = random.Random(job["seed"])
    tasks = [asyncio.create_task(drive(a, rng.uniform(0, interval))) for a in job["accounts"]]
    started = time.monotonic()
    await asyncio.sleep(interval + 1)  # all triggers started and polling
    steady = time.monotonic()
    pipe.send(("produce", None))  # the parent starts the events
    threads = threading.active_count()
    rss_samples = []
    end = started + job["seconds"]
    while time.monotonic() < end:
        await asyncio.sleep(1)
        rss_samples.append(rss_mib())
        threads = max(threads, threading.active_count())
    finish = time.monotonic()
    for task in [*tasks, tick_task]:
        task.cancel()
    await asyncio.gather(*tasks, tick_task, return_exceptions=True)

    steady_lags = [lag for at, lag in lags if at >= steady]
    steady_polls = [at for at in polls if steady <= at <= finish]
    return {
        "lag_p50_ms": 1000 * percentile(steady_lags, 0.50),
        "lag_p99_ms": 1000 * percentile(steady_lags, 0.99),
        "lag_max_ms": 1000 * max(steady_lags, default=float("nan")),
        "lag_max_startup_ms": 1000 * max((lag for at, lag in lags if at < steady), default=float("nan")),
        "polls_per_s": len(steady_polls) / (finish - steady),
        "rss_per_trigger_kib": 1024 * (statistics.median(rss_samples) - base_rss) / len(job["accounts"]),
        "threads": threads,
        "fired": {key: value for key, value in fired.items()},
        "errors": errors[:5],
        "error_count": len(errors),
    }


def side_process(job: dict[str, Any], pipe: Connection) -> None:
    os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = json.dumps(job["connection"])
    result = asyncio.run(run_side(job, pipe))
    pipe.send(("result", result))
