"""
Wait for Kloudless events after a cursor, on the triggerer: the deferred half of ``KloudlessEventsSensor``.

The module also holds what the sensor and both triggers share: reading one bounded batch of events after a
cursor (:func:`read_events`), resolving where to start when no cursor is stored (:func:`resolve_start_cursor`)
and validating their arguments.

How a batch is cut: at most ``max_events`` events of the wanted types are returned, and the batch's cursor
points exactly after the last event *read*, so events of other types are skipped and the cursor moves past
them. A consumer that commits the batch's cursor has therefore seen every event of its types between the two
cursors, exactly once per commit (at-least-once when a run fails before committing).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowException
from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_cloud.exceptions import CloudApiError
from airflow_provider_cloud.hooks.kloudless import KloudlessHook

if TYPE_CHECKING:
    from airflow_provider_cloud.hooks.core import CloudApiHook

Cursor = str | int
"""An events cursor: opaque, an integer or a string depending on the service."""

START_FROM = ("latest", "oldest")
MAX_EVENTS_LIMIT = 1000
"""The largest batch a sensor or trigger returns: XCom and trigger payloads stay small."""
DEFAULT_MAX_EVENTS = 100
DEFAULT_POLL_INTERVAL = 60.0


def normalize_event_types(event_types: str | Iterable[str] | None) -> list[str] | None:
    """Return the event types as a list without duplicates (order kept), or ``None`` for all types."""
    if event_types is None:
        return None
    items = [event_types] if isinstance(event_types, str) else list(event_types)
    out: list[str] = []
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise ValueError(f"event types must be non-empty strings, got {item!r}")
        if item.strip() not in out:
            out.append(item.strip())
    if not out:
        raise ValueError("event_types is empty: give None to accept every event type")
    return out


def check_max_events(max_events: int) -> int:
    """Return ``max_events`` if it is an integer from 1 to :data:`MAX_EVENTS_LIMIT`, else raise ValueError."""
    if isinstance(max_events, bool) or not isinstance(max_events, int):
        raise ValueError(f"max_events must be an integer, got {max_events!r}")
    if not 1 <= max_events <= MAX_EVENTS_LIMIT:
        raise ValueError(f"max_events must be from 1 to {MAX_EVENTS_LIMIT}, got {max_events}")
    return max_events


def check_start_from(start_from: str) -> str:
    """Return ``start_from`` if it is ``latest`` or ``oldest``, else raise ValueError."""
    if start_from not in START_FROM:
        raise ValueError(f"start_from must be one of {START_FROM}, got {start_from!r}")
    return start_from


def check_poll_interval(poll_interval: float) -> float:
    """Return the poll interval as a float if it is a positive number of seconds, else raise ValueError."""
    if isinstance(poll_interval, bool) or not isinstance(poll_interval, int | float) or poll_interval <= 0:
        raise ValueError(f"poll_interval must be a positive number of seconds, got {poll_interval!r}")
    return float(poll_interval)


def is_missing_cursor(cursor: object) -> bool:
    """Tell whether a cursor value means "none stored yet": ``None``, an empty string or ``"None"``."""
    return cursor is None or (isinstance(cursor, str) and cursor.strip() in ("", "None"))


@dataclass(frozen=True)
class EventBatch:
    """Events read after ``previous_cursor``; ``cursor`` points just after the last event read."""

    previous_cursor: Cursor
    cursor: Cursor
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.events)

    def as_xcom(self) -> dict[str, Any]:
        """Return ``{"cursor", "previous_cursor", "count", "events"}``, the sensor's XCom value."""
        return {
            "cursor": self.cursor,
            "previous_cursor": self.previous_cursor,
            "count": self.count,
            "events": self.events,
        }


def resolve_start_cursor(hook: KloudlessHook, start_from: str) -> Cursor:
    """Return where to start when no cursor is stored: the latest cursor, or before the oldest retained event."""
    if check_start_from(start_from) == "oldest":
        return hook.get_oldest_cursor()
    return hook.get_latest_cursor()


def read_events(
    hook: KloudlessHook,
    cursor: Cursor,
    *,
    event_types: list[str] | None = None,
    max_events: int = DEFAULT_MAX_EVENTS,
    page_size: int | None = None,
) -> EventBatch:
    """
    Read at most ``max_events`` events of ``event_types`` after ``cursor`` (blocking; run it in a thread).

    :raises CursorExpiredError: the cursor is older than the events the service retains.
    """
    stream = hook.iter_events(cursor, page_size=page_size, max_events=max_events, types=event_types)
    events = [dict(event) for event in stream]
    return EventBatch(
        previous_cursor=cursor, cursor=cursor if stream.cursor is None else stream.cursor, events=events
    )


async def create_hook(conn_id: str, account_id: str | int | None) -> KloudlessHook:
    """Build a :class:`KloudlessHook` inside a trigger, resolving its connection the async-safe way."""
    hook = await KloudlessHook.async_create(conn_id, account_id=account_id)
    if not isinstance(hook, KloudlessHook):  # async_create is typed as returning the base class
        raise TypeError(f"KloudlessHook.async_create returned {type(hook).__name__}")
    return hook


def error_payload(exc: BaseException, hook: CloudApiHook | None) -> dict[str, Any]:
    """
    Return a secret-free ``{"status": "error", "message", "error_type", ...}`` trigger payload for a failure.

    For a :class:`CloudApiError` it also carries what rebuilds the same error on the worker: ``service``,
    ``status_code``, ``detail`` (the error's own message), ``errors`` and ``request_id``.
    """

    def clean(text: str) -> str:
        return hook.scrub(text) if hook is not None else text

    payload: dict[str, Any] = {
        "status": "error",
        "message": clean(str(exc) or type(exc).__name__),
        "error_type": type(exc).__name__,
    }
    if isinstance(exc, CloudApiError):
        payload.update(
            service=exc.service,
            status_code=exc.status_code,
            detail=clean(exc.message),
            errors=[clean(str(e)) for e in exc.errors],
            request_id=exc.request_id,
        )
    return payload


class KloudlessEventsTrigger(BaseTrigger):
    """
    Poll a Kloudless account's events after a cursor until some arrive; yield exactly one event, then return.

    The connection is resolved the async-safe way (:meth:`KloudlessHook.async_create`); every request runs
    in a worker thread (``asyncio.to_thread``), so the event loop never blocks and the HTTP core's timeouts
    and retry rules (429 ``Retry-After``, 502/503/504) apply unchanged. The trigger only reads: it never
    stores a cursor, so running it twice (triggerer HA) is harmless.

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
            hook = await create_hook(self.conn_id, self.account_id)
            start = self.cursor
            if start is None:
                start = await asyncio.to_thread(resolve_start_cursor, hook, self.start_from)
            payload = await self._poll_until_events(hook, start)
        except (AirflowException, ValueError) as exc:
            payload = error_payload(exc, hook)
            self.log.error("Kloudless events trigger failed: %s", payload["message"])
        finally:
            if hook is not None:
                hook.close()
        yield TriggerEvent(payload)

    async def _poll_until_events(self, hook: KloudlessHook, start: Cursor) -> dict[str, Any]:
        position = start
        polls = 0
        while True:
            batch = await asyncio.to_thread(
                read_events,
                hook,
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
