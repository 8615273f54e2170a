"""The Kloudless events domain logic, without a network: the stream, one batch, the argument checks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from airflow_provider_cloud.exceptions import UnexpectedResponseError
from airflow_provider_cloud.hooks.kloudless import (
    AFTER_AUTH,
    MAX_PAGE_SIZE,
    EventBatch,
    EventStream,
    check_max_events,
    check_poll_interval,
    check_start_from,
    is_missing_cursor,
    normalize_event_types,
    read_events,
    resolve_start_cursor,
)
from airflow_provider_cloud.hooks.kloudless.events import (
    events_page,
    latest_cursor,
    page_query,
    plan_page_size,
)


class FakeFeed:
    """Events 1..n of the given types; a cursor is the number of the last event read."""

    def __init__(self, *types: str) -> None:
        self.events = [{"id": f"e{i}", "type": t} for i, t in enumerate(types, start=1)]
        self.asked: list[tuple[Any, int]] = []

    def fetch(self, cursor: Any, size: int) -> Mapping[str, Any]:
        self.asked.append((cursor, size))
        start = int(cursor or 0)
        page = self.events[start : start + size]
        end = start + len(page)
        return {"objects": page, "cursor": end, "remaining": len(self.events) - end, "count": len(page)}

    def open(self, cursor: Any, *, page_size: int | None, max_events: int | None, types: Any) -> EventStream:
        return EventStream(self.fetch, cursor, page_size=page_size, max_events=max_events, types=types)


# -- the stream ----------------------------------------------------------------------------------------


def test_stream_pages_are_sized_to_the_budget_and_the_cursor_matches_what_was_read():
    feed = FakeFeed(*["add"] * 10)
    stream = EventStream(feed.fetch, 0, page_size=4, max_events=7)
    assert [e["id"] for e in stream] == [f"e{i}" for i in range(1, 8)]
    assert feed.asked == [(0, 4), (4, 3)]
    assert (stream.cursor, stream.count, stream.pages, stream.caught_up) == (7, 7, 2, False)


def test_stream_skipped_types_are_consumed():
    feed = FakeFeed("update", "add", "update", "update")
    stream = EventStream(feed.fetch, 0, page_size=2, types="add")
    assert [e["id"] for e in stream] == ["e2"]
    assert (stream.cursor, stream.caught_up) == (4, True)


def test_stream_cursor_moves_only_with_the_last_event_of_a_page():
    stream = EventStream(FakeFeed("add", "add", "add").fetch, 0, page_size=2)
    next(stream)
    assert stream.cursor == 0
    next(stream)
    assert stream.cursor == 2


def test_stream_refuses_a_page_without_a_cursor():
    stream = EventStream(lambda cursor, size: {"objects": [{"id": "x"}]}, 0)
    with pytest.raises(UnexpectedResponseError, match="without a cursor"):
        next(stream)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"page_size": 0}, "page_size", id="page-size-0"),
        pytest.param({"page_size": MAX_PAGE_SIZE + 1}, "page_size", id="page-size-over"),
        pytest.param({"max_events": 0}, "max_events", id="max-events-0"),
        pytest.param({"types": []}, "types is empty", id="no-types"),
        pytest.param({"types": ["add", ""]}, "non-empty strings", id="blank-type"),
    ],
)
def test_stream_checks_its_arguments_before_any_request(kwargs, message):
    feed = FakeFeed("add")
    with pytest.raises(ValueError, match=message):
        EventStream(feed.fetch, 0, **kwargs)
    assert feed.asked == []


def test_plan_page_size_defaults_to_the_largest_page():
    assert plan_page_size(None, None) == MAX_PAGE_SIZE == 1000
    assert plan_page_size(None, 30) == 30
    assert plan_page_size(50, 70) == 50


# -- the events endpoints' wire ----------------------------------------------------------------------


def test_page_query_and_page_fill_ins():
    assert page_query(None, None) == {}
    assert page_query(7, 10) == {"cursor": "7", "page_size": 10}
    caught_up = events_page({"objects": [], "remaining": ""}, "c9")
    assert (caught_up["cursor"], caught_up["remaining"], caught_up["count"]) == ("c9", None, 0)
    page = events_page({"objects": [{"id": 1}], "cursor": "c10", "remaining": "3"}, "c9")
    assert (page["cursor"], page["remaining"], page["count"]) == ("c10", 3, 1)
    with pytest.raises(UnexpectedResponseError, match="not a page of events"):
        events_page({"cursor": 1}, 0)


@pytest.mark.parametrize("payload", [{}, {"cursor": ""}, {"cursor": True}, {"cursor": [1]}, "x"])
def test_latest_cursor_must_be_text_or_a_number(payload):
    with pytest.raises(UnexpectedResponseError, match="no cursor"):
        latest_cursor(payload)


def test_latest_cursor():
    assert latest_cursor({"cursor": 12}) == 12
    assert latest_cursor({"cursor": "abc"}) == "abc"


# -- one batch ---------------------------------------------------------------------------------------


def test_read_events_returns_a_bounded_batch_and_the_cursor_after_it():
    feed = FakeFeed("add", "delete", "add", "add")
    batch = read_events(feed.open, 0, event_types=["add"], max_events=2)
    assert [e["id"] for e in batch.events] == ["e1", "e3"]
    assert (batch.previous_cursor, batch.cursor, batch.count) == (0, 3, 2)
    assert batch.as_xcom() == {"cursor": 3, "previous_cursor": 0, "count": 2, "events": batch.events}


def test_read_events_caught_up_keeps_the_cursor():
    batch = read_events(FakeFeed().open, 5)
    assert batch == EventBatch(previous_cursor=5, cursor=5, events=[])


def test_resolve_start_cursor_asks_only_what_it_needs():
    def unused() -> str:
        raise AssertionError("not this one")

    assert resolve_start_cursor("latest", latest=lambda: 42, oldest=unused) == 42
    assert resolve_start_cursor("oldest", latest=unused, oldest=lambda: AFTER_AUTH) == AFTER_AUTH
    with pytest.raises(ValueError, match="start_from"):
        resolve_start_cursor("middle", latest=unused, oldest=unused)


# -- argument checks -------------------------------------------------------------------------------


def test_normalize_event_types():
    assert normalize_event_types(None) is None
    assert normalize_event_types("add") == ["add"]
    assert normalize_event_types([" add", "delete", "add "]) == ["add", "delete"]
    with pytest.raises(ValueError, match="event_types is empty"):
        normalize_event_types(())
    with pytest.raises(ValueError, match="non-empty strings"):
        normalize_event_types(["add", 3])  # type: ignore[list-item]


@pytest.mark.parametrize("value", [0, MAX_PAGE_SIZE + 1, True, 1.5, "10"])
def test_check_max_events_refuses(value):
    with pytest.raises(ValueError, match="max_events"):
        check_max_events(value)


def test_check_max_events_accepts_one_to_a_full_page():
    assert check_max_events(1) == 1
    assert check_max_events(MAX_PAGE_SIZE) == MAX_PAGE_SIZE


def test_check_start_from_and_poll_interval():
    assert check_start_from("oldest") == "oldest"
    with pytest.raises(ValueError, match="start_from"):
        check_start_from("newest")
    assert check_poll_interval(2) == 2.0
    for bad in (0, -1, True, "5"):
        with pytest.raises(ValueError, match="poll_interval"):
            check_poll_interval(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "missing"), [(None, True), ("", True), (" None ", True), (0, False), ("0", False)]
)
def test_is_missing_cursor(value, missing):
    assert is_missing_cursor(value) is missing
