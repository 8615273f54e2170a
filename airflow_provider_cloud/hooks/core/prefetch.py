"""
Read ahead: fetch the next page on a background thread while the caller works on the current one.

Pages stay in order; at most ``depth`` pages wait, so memory stays bounded. An error while fetching is
raised to the caller at the point where its page would have come. When the caller stops early (closes
the generator), the thread is told to stop and is joined.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any, TypeVar

from airflow_provider_cloud.hooks.core.switching import quick_thread_switching

T = TypeVar("T")

_END = object()
_JOIN_TIMEOUT = 30.0


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetched(pages: Iterator[list[T]], *, depth: int = 1, name: str = "prefetch") -> Iterator[T]:
    """Yield the items of ``pages``, fetching up to ``depth`` pages ahead on one background thread."""
    waiting: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                waiting.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def fetch() -> None:
        try:
            for page in pages:
                if not put(page):
                    return
        except BaseException as exc:  # handed to the consumer's thread
            put(_Failure(exc))
            return
        put(_END)

    thread = threading.Thread(target=fetch, name=name, daemon=True)
    with quick_thread_switching():
        thread.start()
        try:
            while True:
                item = waiting.get()
                if item is _END:
                    return
                if isinstance(item, _Failure):
                    raise item.error
                yield from item
        finally:
            stop.set()
            while True:  # unblock a producer waiting to put
                try:
                    waiting.get_nowait()
                except queue.Empty:
                    break
            thread.join(_JOIN_TIMEOUT)
            close = getattr(pages, "close", None)
            if close is not None and not thread.is_alive():
                close()
