"""
Reading a Kloudless events stream from a cursor, so that the new cursor matches exactly what was read.

Kloudless cursors are opaque and only ever point *between pages*: a page answers the cursor after its
last event. :class:`EventStream` therefore never asks for more events than it may still return: with
``max_events``, each request's ``page_size`` is at most the budget left, so the stream stops on a page
boundary and :attr:`EventStream.cursor` covers exactly the events yielded (plus the events the ``types``
filter skipped, which are consumed too).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any

from airflow_provider_cloud.exceptions import UnexpectedResponseError

#: The cursor value the API documents for "every retained event since the account was connected".
AFTER_AUTH = "after-auth"
#: The largest events page the API serves (and what a stream asks for when not told otherwise).
MAX_EVENTS_PAGE = 1000

Cursor = str | int
#: ``fetch(cursor, page_size) -> {"objects", "cursor", "remaining", "count"}``: one events page.
PageFetcher = Callable[[Cursor | None, int], Mapping[str, Any]]


def event_types(types: str | Collection[str] | None) -> frozenset[str] | None:
    """Return the event types to keep (``None`` keeps all); a single string is one type."""
    if types is None:
        return None
    chosen = frozenset([types]) if isinstance(types, str) else frozenset(str(t) for t in types)
    if not chosen:
        raise ValueError("types must name at least one event type (or be None for all)")
    return chosen


def plan_page_size(page_size: int | None, budget_left: int | None) -> int:
    """Return the page size of the next request: ``page_size`` (default 1000), never above the budget left."""
    size = page_size or MAX_EVENTS_PAGE
    return size if budget_left is None else max(1, min(size, budget_left))


class EventStream(Iterator[dict[str, Any]]):
    """
    The events after a cursor, fetched page by page as they are iterated.

    Attributes, readable at any time:

    - ``previous_cursor``: the cursor the stream started from;
    - ``cursor``: the cursor that matches the events consumed so far. It moves to a page's cursor just before
      that page's last kept event is yielded (at once for a page whose events were all filtered out), so after
      the stream is exhausted, or stopped by ``max_events``, it is exactly the cursor to resume from. A consumer
      that breaks off inside a page keeps the previous page's cursor: resuming replays that page (at least once,
      never lost);
    - ``count``: events yielded; ``pages``: requests made;
    - ``caught_up``: True once the service said there is nothing more (an empty page, or ``remaining`` 0),
      False while more may be waiting (for instance when ``max_events`` stopped the stream).

    The stream stops on an empty page, after a page whose ``remaining`` is 0, or when ``max_events`` events were
    yielded. Requests are made lazily: errors such as
    :class:`~airflow_provider_cloud.exceptions.CursorExpiredError` are raised by ``next()``.

    :param fetch: gets one page, e.g. ``hook.get_events_page``'s logic.
    :param cursor: where to start (``None``: the service's default, the oldest retained event).
    :param page_size: events per request (1-1000, default 1000).
    :param max_events: yield at most this many events.
    :param types: keep only events of these types (``add``, ``delete``, ...); the others are skipped and
        counted as consumed.
    """

    def __init__(
        self,
        fetch: PageFetcher,
        cursor: Cursor | None,
        *,
        page_size: int | None = None,
        max_events: int | None = None,
        types: str | Collection[str] | None = None,
    ) -> None:
        if max_events is not None and (isinstance(max_events, bool) or max_events < 1):
            raise ValueError(f"max_events must be a positive integer or None, got {max_events!r}")
        self.previous_cursor: Cursor | None = cursor
        self.cursor: Cursor | None = cursor
        self.count = 0
        self.pages = 0
        self.caught_up = False
        self.max_events = max_events
        self.page_size = page_size
        self.types = event_types(types)
        self._fetch = fetch
        self._events = self._generate()

    def __iter__(self) -> EventStream:
        return self

    def __next__(self) -> dict[str, Any]:
        return next(self._events)

    def __repr__(self) -> str:
        return (
            f"EventStream(previous_cursor={self.previous_cursor!r}, cursor={self.cursor!r}, "
            f"count={self.count}, pages={self.pages}, caught_up={self.caught_up})"
        )

    def _budget_left(self) -> int | None:
        return None if self.max_events is None else self.max_events - self.count

    def _generate(self) -> Iterator[dict[str, Any]]:
        while self._budget_left() != 0:
            page = self._fetch(self.cursor, plan_page_size(self.page_size, self._budget_left()))
            self.pages += 1
            events = list(page.get("objects") or [])
            if not events:
                # Caught up: the service answers the same cursor; keep ours (the SDK does the same).
                self.caught_up = True
                return
            new_cursor = self._checked_cursor(page)
            kept = [e for e in events if self.types is None or e.get("type") in self.types]
            if not kept:
                self.cursor = new_cursor
            for index, event in enumerate(kept):
                if index == len(kept) - 1:
                    self.cursor = new_cursor
                self.count += 1
                yield event
            remaining = page.get("remaining")
            if remaining is not None and int(remaining) <= 0:
                self.caught_up = True
                return

    def _checked_cursor(self, page: Mapping[str, Any]) -> Cursor:
        """Return a non-empty page's cursor; a missing or unmoved one would lose or repeat events."""
        new_cursor = page.get("cursor")
        if new_cursor is None or new_cursor == "":
            raise UnexpectedResponseError(
                "GET events: a page of events came without a cursor", service="Kloudless"
            )
        if str(new_cursor) == str(self.cursor):
            raise UnexpectedResponseError(
                f"GET events: the cursor did not move past a page of events (still {new_cursor!r})",
                service="Kloudless",
            )
        if not isinstance(new_cursor, str | int) or isinstance(new_cursor, bool):
            raise UnexpectedResponseError(
                f"GET events: the cursor is neither text nor a number: {new_cursor!r}", service="Kloudless"
            )
        return new_cursor
