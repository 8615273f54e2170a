"""
The events stream of one account: append, retention, and the cursor arithmetic of ``GET .../events``.

Cursors [I]: opaque to clients, integers inside. Every event of an account gets the next *position*
(1, 2, 3, ...); a cursor is the position of the last event the client has seen (0 = before the first).
``/events/latest`` answers the position of the newest event as a JSON integer (the Java and Ruby SDKs
type the cursor as an integer, and the 1.x Python integration test asserts ``isinstance(cursor, int)``).
A page returns the position of its last event, or the same cursor when caught up.
A ``from``/``until`` query returns cursors as strings ``"<position>u<until in µs>"`` so the follow-up
pages stay inside the window (the docs: "future cursor values returned are limited in range to the
``until`` value provided in the first request").

Retention: events older than the retention age, or beyond the newest ``max_events``, are dropped.
A cursor older than the oldest retained event (some events after it are gone) is answered with
400 ``cursor_expired`` [I]; a cursor that is not a number, or is ahead of the stream, with 400
``invalid_parameters``.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow_provider_cloud.testing._kloudless.errors import CURSOR_EXPIRED, api_error, invalid_parameters

_PLAIN_CURSOR = re.compile(r"^\d+$")
_WINDOW_CURSOR = re.compile(r"^(\d+)u(\d+)$")
AFTER_AUTH = "after-auth"


@dataclass(frozen=True)
class StoredEvent:
    """An event as kept in the stream: its position, its time and its JSON body."""

    position: int
    at: datetime
    body: dict[str, Any]


@dataclass(frozen=True)
class EventPage:
    """One page of ``GET .../events``."""

    events: list[dict[str, Any]]
    cursor: int | str
    remaining: int

    def to_json(self) -> dict[str, Any]:
        """Return the object_list the API answers (``type`` is what gives the SDK its paging iterator)."""
        return {
            "objects": self.events,
            "cursor": self.cursor,
            "count": len(self.events),
            "remaining": self.remaining,
            "type": "object_list",
            "api": "events",
        }


def _encode_cursor(position: int, until: datetime | None) -> int | str:
    if until is None:
        return position
    micros = round(until.timestamp() * 1_000_000)
    return f"{position}u{micros}"


class EventFeed:
    """The retained events of one account, oldest first."""

    def __init__(self, account_id: int) -> None:
        self.account_id = account_id
        self._events: deque[StoredEvent] = deque()
        self._last_position = 0
        self._dropped_through = 0

    @property
    def latest_position(self) -> int:
        """Return the cursor of ``/events/latest``: the position of the newest event ever added."""
        return self._last_position

    @property
    def oldest_valid_cursor(self) -> int:
        """Return the smallest cursor that is not expired (the position of the last dropped event)."""
        return self._dropped_through

    def append(self, at: datetime, build_body: Callable[[int], dict[str, Any]]) -> dict[str, Any]:
        """Add an event at the next position; ``build_body`` gets the position and returns the JSON."""
        self._last_position += 1
        body = build_body(self._last_position)
        self._events.append(StoredEvent(self._last_position, at, body))
        return body

    def prune(self, now: datetime, max_age: timedelta, max_events: int) -> int:
        """Drop events older than ``max_age`` or beyond the newest ``max_events``; return how many went."""
        dropped = 0
        oldest_kept = now - max_age
        while self._events and (len(self._events) > max_events or self._events[0].at < oldest_kept):
            self._dropped_through = self._events.popleft().position
            dropped += 1
        return dropped

    def retained(self) -> list[dict[str, Any]]:
        """Return the bodies of the retained events, oldest first."""
        return [event.body for event in self._events]

    def page_after_cursor(self, cursor_text: str, page_size: int) -> EventPage:
        """Answer ``GET .../events?cursor=...``."""
        if cursor_text.strip() == AFTER_AUTH:
            return self._page(self._dropped_through, None, page_size)
        text = cursor_text.strip()
        window = _WINDOW_CURSOR.match(text)
        until: datetime | None = None
        if window:
            position = int(window.group(1))
            until = datetime.fromtimestamp(int(window.group(2)) / 1_000_000, tz=UTC)
        elif _PLAIN_CURSOR.match(text):
            position = int(text)
        else:
            raise invalid_parameters(f"Invalid cursor {cursor_text!r}: use a cursor this API returned.")
        if position > self._last_position:
            raise invalid_parameters(
                f"Invalid cursor {cursor_text!r}: it is ahead of the event stream of account "
                f"{self.account_id} (latest cursor {self._last_position})."
            )
        if position < self._dropped_through:
            raise api_error(
                CURSOR_EXPIRED,
                f"The cursor {cursor_text!r} is older than the events retained for account "
                f"{self.account_id}: events after it were dropped by the retention window. Get a new "
                "cursor from /events/latest (events in between are lost) or use from/until.",
            )
        return self._page(position, until, page_size)

    def page_in_window(self, start: datetime, until: datetime | None, page_size: int) -> EventPage:
        """Answer ``GET .../events?from=...[&until=...]``: events with ``start <= time < until``."""
        position = self._dropped_through
        for event in self._events:
            if event.at >= start:
                break
            position = event.position
        return self._page(position, until, page_size)

    def _after(self, position: int, until: datetime | None) -> Iterator[StoredEvent]:
        for event in self._events:
            if event.position <= position:
                continue
            if until is not None and event.at >= until:
                return
            yield event

    def _page(self, position: int, until: datetime | None, page_size: int) -> EventPage:
        taken: list[StoredEvent] = []
        remaining = 0
        for event in self._after(position, until):
            if len(taken) < page_size:
                taken.append(event)
            else:
                remaining += 1
        last = taken[-1].position if taken else position
        return EventPage([event.body for event in taken], _encode_cursor(last, until), remaining)
