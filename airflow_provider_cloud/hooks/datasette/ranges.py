"""
Reading a table by ranges of its key, several pages at once, the rows yielded in key order (a window over 1).

**When** (``range_key``): the rows are read in key order (no ``order_by``, or the key ascending) and the key is
one integer column, or the rowid of a table without a primary key. Otherwise the read stays sequential, one
page after another (read ahead by one): with another order, or a descending one, a text or compound key, or a
view, key ranges would not give the rows in the order asked. Filters (``where``) are kept on every range; they
never make ranges wrong, only emptier, and the ranges widen to match (below). A result of one page costs
what the sequential read costs: one request.

**How** (``read``):

1. The first page is read as the sequential read reads it (the same request). If it is the only page, done.
2. Then the table's facts (cached by the hook) tell the key, and one more request, sorted by the key
   descending, finds the largest key among the matching rows. Should a key not be an integer after all (text in a column of integer type, a NULL key, a view's missing rowid),
   the read goes on sequentially from the first page's ``next_url``.
3. The keys after the first page up to the largest are cut into ranges (``key__gte``/``key__lt``, with the
   caller's filters), each meant to hold nearly a page (:data:`FILL`), and read ``window`` at a time. How wide a range
   is comes from the range before it: rows found over its width (a range with none doubles the next width,
   so a gap in the keys is crossed in a few requests). A range that holds more than a page has its second
   page read at once by the same thread; one that holds more still goes on after its last key, cut again by
   the density seen, before any range after it is yielded.
4. Rows are yielded range by range in key order: exactly the sequential read's rows, in its order. Rows with a
   key above the largest one found (written meanwhile) are read last, by one open range paged as the
   sequential read pages, so the read still ends where the sequential read would.

Memory: at most ``2 × window`` ranges read and not yet yielded (one slow page does not stop the others), of at
most two pages each, and ``window`` requests in flight. ``contains``/``startswith`` are checked again on every row and the columns trimmed
(``paging.trim``) on the threads that read the pages.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from typing import Any, TypeGuard

from airflow_provider_cloud.exceptions import UnexpectedResponseError
from airflow_provider_cloud.hooks.core import Window, prefetched
from airflow_provider_cloud.hooks.datasette.paging import Params, next_page, pages, rows_of, trim
from airflow_provider_cloud.hooks.datasette.wire import SERVICE, RequestJson, sort_params
from airflow_provider_cloud.hooks.rowstore import DatasetInfo
from airflow_provider_cloud.rows.filters import Filter

#: The share of a page a range is cut to hold: a little under one, so that most ranges take one request
#: (a range of a thousand keys with a tenth of its rows deleted at random holds 900 ± 10 rows).
FILL = 0.97
#: How much wider the next range may be than the last, after a range with few rows.
MAX_GROWTH = 16


def range_key(info: DatasetInfo, order_by: str | Sequence[str] | None) -> str | None:
    """Return the key a read in this order can be cut into ranges of (``None``: read sequentially)."""
    if not info.exists or len(info.keys) > 1:
        return None
    if info.keys:
        key = info.keys[0]
        if "int" not in str(info.columns.get(key, "")).lower():
            return None
    else:
        key = "rowid"
    sort = sort_params(order_by)
    return key if not sort or sort == [("_sort", key)] else None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass
class _Range:
    """Keys above ``lo`` (``after``) or from ``lo``, below ``hi`` (``None``: no end); a future once asked."""

    lo: Any
    after: bool
    hi: int | None
    future: Future[_Page] | None = None

    def start(self) -> int:
        return math.floor(self.lo) + 1 if self.after else math.ceil(self.lo)


@dataclass
class _Page:
    """A range's page: its rows trimmed, how many the server sent, the last one's key, and whether more follow."""

    rows: list[dict[str, Any]]
    found: int
    last: Any
    more: bool


def read(
    get_json: RequestJson,
    url: str,
    params: Params,
    checked: list[Filter],
    wanted: list[str] | None,
    *,
    key_of: Callable[[], str | None],
    size: int,
    window: int,
) -> Iterator[dict[str, Any]]:
    """
    Yield the rows of the table page at ``url`` (``params`` as the sequential read's) by key ranges.

    :param key_of: returns the key to cut ranges of (``range_key``), asked only when there is a second page.
    """
    payload = get_json("GET", url, params=params)
    raw = rows_of(payload, url)
    yield from trim(raw, checked, wanted)
    following, query = next_page(payload, url, params)
    if following is None:
        return
    key = key_of()
    ends = _ends(get_json, url, params, key, raw) if key else None
    if key is None or ends is None:
        yield from prefetched(
            pages(get_json, following, params, checked, wanted, query=query or [], origin=url)
        )
        return
    first, last, top = ends
    reader = _Reader(get_json, url, params, checked, wanted, key=key, size=size, window=window)
    reader.width = max(1.0, (last - first + 1) * FILL)
    yield from reader.rows([_Range(last, True, top + 1), _Range(top + 1, False, None)])


def _ends(
    get_json: RequestJson, url: str, params: Params, key: str, raw: list[dict[str, Any]]
) -> tuple[int, int, int] | None:
    """Return the first page's first and last key and the largest key, if all are integers and more follow."""
    first, last = (raw[0].get(key), raw[-1].get(key)) if raw else (None, None)
    if not (_is_int(first) and _is_int(last)):
        return None
    unsorted = [p for p in params if p[0] not in ("_sort", "_sort_desc", "_size")]
    rows = rows_of(get_json("GET", url, params=[*unsorted, ("_sort_desc", key), ("_size", "1")]), url)
    top = rows[0].get(key) if rows else None
    return (first, last, top) if _is_int(top) and top > last else None


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


class _Reader:
    """The ranges still to read, in key order, and the pages read and not yet yielded."""

    def __init__(
        self,
        get_json: RequestJson,
        url: str,
        params: Params,
        checked: list[Filter],
        wanted: list[str] | None,
        *,
        key: str,
        size: int,
        window: int,
    ) -> None:
        self.get_json = get_json
        self.url = url
        self.params = params
        self.checked = checked
        self.wanted = wanted
        self.key = key
        self.size = size
        self.window = window
        self.width = 1.0  # keys a range is cut to span
        self.queue: list[_Range] = []

    def rows(self, ranges: list[_Range]) -> Iterator[dict[str, Any]]:
        self.queue = ranges
        with Window[_Page](self.window, name="datasette-reads", keep_results=False) as window:
            while self.queue:
                head, page = self._next(window)
                del self.queue[0]
                self._learn(head, page)
                yield from page.rows

    def _next(self, window: Window[_Page]) -> tuple[_Range, _Page]:
        """Ask for ranges within the limits, and wait until the first range's page is in (raising its error)."""
        while True:
            self._fill(window)
            head = self.queue[0]
            if head.future is not None and head.future.done():
                return head, head.future.result()
            asked = [r.future for r in self.queue if r.future is not None and not r.future.done()]
            wait(asked, return_when=FIRST_COMPLETED)

    def _fill(self, window: Window[_Page]) -> None:
        """Ask for the ranges in key order while under ``window`` in flight and ``2 × window`` not yielded."""
        asked = [r.future for r in self.queue if r.future is not None]
        unread = len(asked)
        in_flight = sum(1 for f in asked if not f.done())
        index = 0
        while index < len(self.queue) and in_flight < self.window:
            if index > 0 and unread >= 2 * self.window:
                return  # the first range is asked for whatever the limit: it is the one awaited
            span = self.queue[index]
            if span.future is None:
                piece = self._cut(span)
                if piece is not span:
                    self.queue.insert(index, piece)
                piece.future = window.submit(self._read, piece)
                unread += 1
                in_flight += 1
            index += 1

    def _cut(self, span: _Range) -> _Range:
        """Return the next range to read off ``span`` (``span`` itself when it is narrow enough, or open)."""
        if span.hi is None:
            return span
        hi = span.start() + max(1, int(self.width))
        if hi >= span.hi:
            return span
        piece = _Range(span.lo, span.after, hi)
        span.lo, span.after = hi, False
        return piece

    def _read(self, span: _Range) -> _Page:
        """
        Read a range (on a thread of the window): one page, and a second at once if the range held more.

        The second page is asked for as soon as the first is in, not when the range's turn to be yielded comes:
        a range cut too narrow for its rows costs one more request, not a wait.
        """
        raw, more = self._page(span)
        if more and span.hi is not None and raw and _is_number(raw[-1].get(self.key)):
            rest, more = self._page(_Range(raw[-1][self.key], True, span.hi))
            raw += rest
        last = raw[-1].get(self.key) if raw else None
        return _Page(trim(raw, self.checked, self.wanted), len(raw), last, more)

    def _page(self, span: _Range) -> tuple[list[dict[str, Any]], bool]:
        bounds = [(f"{self.key}__gt" if span.after else f"{self.key}__gte", str(span.lo))]
        if span.hi is not None:
            bounds.append((f"{self.key}__lt", str(span.hi)))
        payload = self.get_json("GET", self.url, params=[*self.params, *bounds])
        return rows_of(payload, self.url), bool(payload.get("next") or payload.get("next_url"))

    def _learn(self, head: _Range, page: _Page) -> None:
        """Go on after a range that held more than a page; set the next ranges' width from what it held."""
        if page.more:
            if not page.found or (head.hi is not None and not _is_number(page.last)):
                raise UnexpectedResponseError(
                    f"GET {self.url}: a page of a key range goes on after {page.last!r}", service=SERVICE
                )
            self.queue.insert(0, _Range(page.last, True, head.hi))
            if head.hi is not None:
                self.width = max(1.0, (page.last - head.start() + 1) * FILL * self.size / page.found)
            return
        if head.hi is None:
            return
        span = max(1, head.hi - head.start())
        if page.found:
            self.width = max(
                1.0, min(span * FILL * self.size / page.found, MAX_GROWTH * max(self.width, span))
            )
        else:
            self.width = 2 * max(self.width, span)
