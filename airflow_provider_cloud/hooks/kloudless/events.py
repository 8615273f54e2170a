"""
Kloudless events after a cursor: the stream, one bounded batch, and the checks the sensor and triggers share.

Kloudless cursors are opaque and only ever point *between pages*: a page answers the cursor after its
last event. :class:`EventStream` therefore never asks for more events than it may still return: with
``max_events``, each request's ``page_size`` is at most the budget left, so the stream stops on a page
boundary and its cursor covers exactly the events yielded, plus the events the type filter skipped (they
are consumed too). A batch (:func:`read_events`) is such a stream read to its end: a consumer that commits
its cursor has seen every event of its types between the two cursors (at least once when a run fails
before committing). Triggers read a batch without blocking (:func:`aread_events`): the same pages, read by
the same rules (:func:`step_page`), awaited instead of iterated.

The stream is sequential by design, never read within a window of requests (``hooks.core.Window``): a
cursor is a position, known only once the page before it has answered, so one page is asked for at a time.
Files move several at once (``transfers.py``); events never do.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from airflow_provider_cloud.exceptions import UnexpectedResponseError
from airflow_provider_cloud.hooks.kloudless.wire import MAX_PAGE_SIZE, SERVICE, check_page_size

T = TypeVar("T")
Cursor = str | int
"""An events cursor: opaque, an integer or a string depending on the service."""
#: ``fetch(cursor, page_size) -> {"objects", "cursor", "remaining", "count"}``: one events page.
PageFetcher = Callable[[Cursor | None, int], Mapping[str, Any]]
#: :data:`PageFetcher` on the async path (triggers).
AsyncPageFetcher = Callable[[Cursor | None, int], Awaitable[Mapping[str, Any]]]

AFTER_AUTH = "after-auth"
"""
The documented cursor before the oldest retained event (every event since the account was connected).

Unlike ``from=<time>`` windows, whose follow-up cursors stay inside the window, it reads on to the newest
event, and it never expires; the first page read from it answers an ordinary cursor.
"""
START_FROM = ("latest", "oldest")
DEFAULT_MAX_EVENTS = 100
DEFAULT_POLL_INTERVAL = 60.0


# -- argument checks ------------------------------------------------------------------------------------


def normalize_event_types(
    event_types: str | Iterable[str] | None, name: str = "event_types"
) -> list[str] | None:
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
        raise ValueError(f"{name} is empty: give None to accept every event type")
    return out


def check_max_events(max_events: int) -> int:
    """Return ``max_events`` if it is an integer from 1 to ``MAX_PAGE_SIZE``, else raise ValueError."""
    if isinstance(max_events, bool) or not isinstance(max_events, int):
        raise ValueError(f"max_events must be an integer, got {max_events!r}")
    if not 1 <= max_events <= MAX_PAGE_SIZE:
        raise ValueError(f"max_events must be from 1 to {MAX_PAGE_SIZE}, got {max_events}")
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


# -- the wire of the events endpoints -------------------------------------------------------------------


def page_query(cursor: Cursor | None, page_size: int | None) -> dict[str, Any]:
    """Return the query of ``GET .../events``: ``cursor`` and ``page_size`` when given."""
    params: dict[str, Any] = {}
    if cursor is not None:
        params["cursor"] = str(cursor)
    size = check_page_size(page_size)
    if size is not None:
        params["page_size"] = size
    return params


def events_page(payload: Any, cursor: Cursor | None) -> dict[str, Any]:
    """
    Check an events page and fill in what the service may leave out.

    An empty page without a cursor keeps ``cursor``; ``remaining`` becomes an int or ``None``; ``count``
    defaults to the number of events.
    """
    objects = payload.get("objects") if isinstance(payload, Mapping) else None
    if not isinstance(objects, list):
        raise UnexpectedResponseError(
            "GET events: the answer is not a page of events (no 'objects' list)", service=SERVICE
        )
    page = dict(payload)
    if page.get("cursor") in (None, "") and not objects:
        page["cursor"] = cursor
    remaining = page.get("remaining")
    page["remaining"] = None if remaining in (None, "") else int(remaining)
    page["count"] = int(page.get("count") or len(objects))
    return page


def latest_cursor(payload: Any) -> Cursor:
    """Return the cursor of a ``GET .../events/latest`` answer."""
    cursor = payload.get("cursor") if isinstance(payload, Mapping) else None
    if cursor is None or cursor == "" or isinstance(cursor, bool) or not isinstance(cursor, str | int):
        raise UnexpectedResponseError("GET events/latest: the answer has no cursor", service=SERVICE)
    return cursor


def plan_page_size(page_size: int | None, budget_left: int | None) -> int:
    """Return the page size of the next request: ``page_size`` (default 1000), never above the budget left."""
    size = page_size or MAX_PAGE_SIZE
    return size if budget_left is None else max(1, min(size, budget_left))


# -- the stream -----------------------------------------------------------------------------------------


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
        check_page_size(page_size)
        if max_events is not None and (isinstance(max_events, bool) or max_events < 1):
            raise ValueError(f"max_events must be a positive integer or None, got {max_events!r}")
        chosen = normalize_event_types(types, "types")
        self.previous_cursor: Cursor | None = cursor
        self.cursor: Cursor | None = cursor
        self.count = 0
        self.pages = 0
        self.caught_up = False
        self.max_events = max_events
        self.page_size = page_size
        self.types = None if chosen is None else frozenset(chosen)
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
            step = step_page(page, self.cursor, self.types)
            if not step.kept:
                self.cursor = step.cursor
            for index, event in enumerate(step.kept):
                if index == len(step.kept) - 1:
                    self.cursor = step.cursor
                self.count += 1
                yield event
            if step.caught_up:
                self.caught_up = True
                return


@dataclass(frozen=True)
class PageStep:
    """What one events page gives: the events kept, the cursor after it, and whether the stream caught up."""

    kept: list[dict[str, Any]]
    cursor: Cursor | None
    caught_up: bool


def step_page(page: Mapping[str, Any], cursor: Cursor | None, types: Collection[str] | None) -> PageStep:
    """
    Read one page after ``cursor``: the rules both the stream and the async batch (:func:`aread_events`) follow.

    An empty page means caught up (the service answers the same cursor; ours is kept, as the SDK does); a page
    whose ``remaining`` is 0 is the last. Events of other ``types`` are skipped and consumed.
    """
    events = list(page.get("objects") or [])
    if not events:
        return PageStep(kept=[], cursor=cursor, caught_up=True)
    new_cursor = checked_cursor(page, cursor)
    kept = [e for e in events if types is None or e.get("type") in types]
    remaining = page.get("remaining")
    return PageStep(kept=kept, cursor=new_cursor, caught_up=remaining is not None and int(remaining) <= 0)


def checked_cursor(page: Mapping[str, Any], cursor: Cursor | None) -> Cursor:
    """Return a non-empty page's cursor; a missing or unmoved one would lose or repeat events."""
    new_cursor = page.get("cursor")
    if new_cursor is None or new_cursor == "":
        raise UnexpectedResponseError("GET events: a page of events came without a cursor", service=SERVICE)
    if str(new_cursor) == str(cursor):
        raise UnexpectedResponseError(
            f"GET events: the cursor did not move past a page of events (still {new_cursor!r})",
            service=SERVICE,
        )
    if not isinstance(new_cursor, str | int) or isinstance(new_cursor, bool):
        raise UnexpectedResponseError(
            f"GET events: the cursor is neither text nor a number: {new_cursor!r}", service=SERVICE
        )
    return new_cursor


# -- one batch ----------------------------------------------------------------------------------------


class OpenStream(Protocol):
    """What :func:`read_events` needs: ``KloudlessHook.iter_events``."""

    def __call__(
        self,
        cursor: Cursor | None,
        *,
        page_size: int | None,
        max_events: int | None,
        types: Collection[str] | None,
    ) -> EventStream: ...


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


def read_events(
    open_stream: OpenStream,
    cursor: Cursor,
    *,
    event_types: list[str] | None = None,
    max_events: int = DEFAULT_MAX_EVENTS,
    page_size: int | None = None,
) -> EventBatch:
    """
    Read at most ``max_events`` events of ``event_types`` after ``cursor`` (blocking; run it in a thread).

    :param open_stream: opens the stream, e.g. ``hook.iter_events``.
    :raises CursorExpiredError: the cursor is older than the events the service retains.
    """
    stream = open_stream(cursor, page_size=page_size, max_events=max_events, types=event_types)
    events = [dict(event) for event in stream]
    return EventBatch(
        previous_cursor=cursor, cursor=cursor if stream.cursor is None else stream.cursor, events=events
    )


def resolve_start_cursor(start_from: str, *, latest: Callable[[], T], oldest: Callable[[], T]) -> T:
    """
    Return where to start when no cursor is stored: ``latest()``, or ``oldest()`` for ``"oldest"``.

    Given async callables, it returns their awaitable (the triggers ``await`` it).
    """
    if check_start_from(start_from) == "oldest":
        return oldest()
    return latest()


async def aread_events(
    fetch: AsyncPageFetcher,
    cursor: Cursor,
    *,
    event_types: list[str] | None = None,
    max_events: int = DEFAULT_MAX_EVENTS,
    page_size: int | None = None,
) -> EventBatch:
    """
    :func:`read_events` without blocking: one page after another, by the same rules (:func:`step_page`).

    :param fetch: reads one page, e.g. ``hook.aget_events_page``'s logic.
    :raises CursorExpiredError: the cursor is older than the events the service retains.
    """
    check_page_size(page_size)
    check_max_events(max_events)
    types = normalize_event_types(event_types)
    position: Cursor = cursor
    events: list[dict[str, Any]] = []
    while len(events) < max_events:
        page = await fetch(position, plan_page_size(page_size, max_events - len(events)))
        step = step_page(page, position, types)
        events.extend(dict(event) for event in step.kept)
        position = cursor if step.cursor is None else step.cursor
        if step.caught_up:
            break
    return EventBatch(previous_cursor=cursor, cursor=position, events=events)
