"""
Wait for Kloudless events after a cursor, on the triggerer: the deferred half of ``KloudlessEventsSensor``.

How a batch is cut, and the argument checks, are shared with the sensor and the asset-watcher trigger; they
live with the events in :mod:`airflow_provider_cloud.hooks.kloudless`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.sdk.exceptions import AirflowException
from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_cloud.exceptions import error_event
from airflow_provider_cloud.hooks.kloudless import (
    DEFAULT_MAX_EVENTS,
    DEFAULT_POLL_INTERVAL,
    Cursor,
    EventBatch,
    KloudlessHook,
    check_max_events,
    check_poll_interval,
    check_start_from,
    is_missing_cursor,
    normalize_event_types,
    resolve_start_cursor,
)


class KloudlessEventsTrigger(BaseTrigger):
    """
    Poll a Kloudless account's events after a cursor until some arrive; yield exactly one event, then return.

    The connection is resolved once per run, the async-safe way (:meth:`KloudlessHook.async_create`), and
    every poll is sent on the hook's async client (:meth:`KloudlessHook.aread_events`): no thread per poll,
    and the HTTP core's timeouts, retry rules (429 ``Retry-After``, 502/503/504), typed errors and scrubbing
    are the sync path's own. The trigger only reads: it never stores a cursor, so running it twice
    (triggerer HA) is harmless.

    Payloads: ``{"status": "success", "cursor", "previous_cursor", "count", "events"}`` when events arrived;
    ``{"status": "timeout", "message", "cursor"}`` when ``end_time`` passed first (``cursor`` is where the
    trigger got to, past skipped events); ``{"status": "error", "message", "error_type", "status_code"}``
    when a request failed after the HTTP core's retries (the message is scrubbed of secrets).

    :param conn_id: the Kloudless connection id.
    :param cursor: read events after this cursor; ``None`` starts from ``start_from``.
    :param account_id: the account (default: the connection's, else ``me``).
    :param event_types: only these event types count; others are skipped and the cursor moves past them.
    :param max_events: the most events returned (1 to 1000).
    :param page_size: events per request (the service's default when ``None``).
    :param poll_interval: seconds between polls.
    :param end_time: a UNIX timestamp after which the trigger yields a timeout event (``None``: no limit;
        the defer timeout still applies on a real triggerer).
    :param start_from: ``latest`` or ``oldest``, used only when ``cursor`` is ``None``.
    """

    def __init__(
        self,
        *,
        conn_id: str,
        cursor: Cursor | None = None,
        account_id: str | int | None = None,
        event_types: list[str] | None = None,
        max_events: int = DEFAULT_MAX_EVENTS,
        page_size: int | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        end_time: float | None = None,
        start_from: str = "latest",
    ) -> None:
        super().__init__()
        self.conn_id = conn_id
        self.cursor = None if is_missing_cursor(cursor) else cursor
        self.account_id = account_id
        self.event_types = normalize_event_types(event_types)
        self.max_events = check_max_events(max_events)
        self.page_size = page_size
        self.poll_interval = check_poll_interval(poll_interval)
        self.end_time = float(end_time) if end_time is not None else None
        self.start_from = check_start_from(start_from)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "conn_id": self.conn_id,
                "cursor": self.cursor,
                "account_id": self.account_id,
                "event_types": self.event_types,
                "max_events": self.max_events,
                "page_size": self.page_size,
                "poll_interval": self.poll_interval,
                "end_time": self.end_time,
                "start_from": self.start_from,
            },
        )

    def _seconds_left(self) -> float | None:
        return None if self.end_time is None else self.end_time - time.time()

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook: KloudlessHook | None = None
        try:
            hook = await KloudlessHook.async_create(self.conn_id, account_id=self.account_id)
            start = self.cursor
            if start is None:
                start = await resolve_start_cursor(
                    self.start_from, latest=hook.aget_latest_cursor, oldest=hook.aget_oldest_cursor
                )
            payload = await self._poll_until_events(hook, start)
        except (AirflowException, ValueError) as exc:
            payload = error_event(exc, hook.scrub if hook is not None else None)
            self.log.error("Kloudless events trigger failed: %s", payload["message"])
        finally:
            if hook is not None:
                await hook.aclose()
        yield TriggerEvent(payload)

    async def _poll_until_events(self, hook: KloudlessHook, start: Cursor) -> dict[str, Any]:
        position = start
        polls = 0
        while True:
            batch = await hook.aread_events(
                position,
                event_types=self.event_types,
                max_events=self.max_events,
                page_size=self.page_size,
            )
            polls += 1
            if batch.events:
                self.log.info("%d new Kloudless events after cursor %s", batch.count, start)
                result = EventBatch(previous_cursor=start, cursor=batch.cursor, events=batch.events)
                return {"status": "success", **result.as_xcom()}
            position = batch.cursor
            left = self._seconds_left()
            if left is not None and left <= 0:
                return {
                    "status": "timeout",
                    "message": f"no Kloudless events after cursor {start} before the deadline ({polls} polls)",
                    "cursor": position,
                }
            self.log.debug(
                "No new Kloudless events after %s; next poll in %.1f s", position, self.poll_interval
            )
            await asyncio.sleep(self.poll_interval if left is None else min(self.poll_interval, left))
