"""
A bounded window of requests in flight: the one way every hook sends requests side by side.

Over a real link latency, not the server, bounds a client that keeps one request in flight: at 50 ms a round
trip, one request after another gets a twentieth of what a server can take. A hook that has independent
requests to make (batches of different keys, pages of different key ranges, rows paced to a rate limit, files)
submits them to a :class:`Window`: up to ``size`` run at once on worker threads, each through the same HTTP
core (retries, reconciliation, pacing, error mapping) as any other request.

Rules every user of a window gets from it rather than writing again:

- ``submit`` blocks while ``size`` calls are in flight, so memory stays bounded by the window;
- a call can be made to wait for earlier ones (``after=``): a write never overtakes one it must follow;
- the first failure stops new calls: ``submit`` and ``close`` raise it, calls in flight finish, nothing
  queued starts;
- results are taken in the order the calls were submitted (:meth:`Window.results`); a window made with
  ``keep_results=False`` lets each call's future go once it finishes instead (calls whose results nobody takes,
  such as writes: memory stays bounded by the window however many calls go through it).

The window's size comes from the hook (argument ``window``, connection extra ``window``, or the service's
default); a window of 1 sends one request at a time, on the caller's thread, exactly as before.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, Generic, Self, TypeVar

from airflow_provider_cloud.hooks.core.switching import quick_thread_switching

T = TypeVar("T")

#: The largest window a connection may ask for: beyond it a server sees a burst, not a client.
MAX_WINDOW = 64


def check_window(size: object, where: str = "window") -> int:
    """Return ``size`` if it is a whole number from 1 to :data:`MAX_WINDOW`, else raise ``ValueError`` saying so."""
    if isinstance(size, bool) or not isinstance(size, int | str):
        raise ValueError(f"{where} must be a whole number of requests from 1 to {MAX_WINDOW}, got {size!r}")
    try:
        value = int(size)
    except ValueError:
        raise ValueError(
            f"{where} must be a whole number of requests from 1 to {MAX_WINDOW}, got {size!r}"
        ) from None
    if not 1 <= value <= MAX_WINDOW:
        raise ValueError(f"{where} must be from 1 to {MAX_WINDOW} requests in flight, got {value}")
    return value


class Window(Generic[T]):
    """
    Up to ``size`` calls in flight; used as a context manager around the loop that submits them.

    :param size: calls in flight at most (1: each call runs at once on the caller's thread).
    :param name: the worker threads' name, for thread dumps and logs.
    :param keep_results: keep each call's future until :meth:`results` takes it (``False``: let it go once
        the call finishes; :meth:`results` then yields nothing).
    """

    def __init__(self, size: int, *, name: str = "window", keep_results: bool = True) -> None:
        self.size = check_window(size)
        self._name = name
        self._keep_results = keep_results
        self._slots = threading.BoundedSemaphore(self.size)
        self._pending: deque[Future[T]] = deque()
        self._running: set[Future[T]] = set()  # without keep_results: the calls not finished yet
        self._executor: ThreadPoolExecutor | None = None
        self._failure: BaseException | None = None
        self._switching = quick_thread_switching() if self.size > 1 else None

    def __enter__(self) -> Self:
        if self._switching is not None:
            self._switching.__enter__()
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            self.close(raise_failure=exc is None)
        finally:
            if self._switching is not None:
                self._switching.__exit__(None, None, None)

    def submit(self, call: Callable[..., T], *args: Any, after: Iterable[Future[Any]] = ()) -> Future[T]:
        """
        Start ``call(*args)`` once a slot is free (and the calls in ``after`` are done); return its future.

        :raises BaseException: the first failure of an earlier call, before anything new starts.
        """
        self._raise_failure()
        for earlier in after:
            earlier.exception()  # waits; a failure is raised by the check below
        self._raise_failure()
        if self.size == 1:
            return self._run_here(call, args)
        self._slots.acquire()
        try:
            self._raise_failure()
        except BaseException:
            self._slots.release()
            raise
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=self.size, thread_name_prefix=self._name)
        future = self._executor.submit(call, *args)
        if self._keep_results:
            self._pending.append(future)
        else:
            self._running.add(future)  # before the callback, which runs at once if the call is done already
        future.add_done_callback(self._done)
        return future

    def _run_here(self, call: Callable[..., T], args: tuple[Any, ...]) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(call(*args))
        except BaseException as exc:
            self._failure = self._failure or exc
            raise
        if self._keep_results:
            self._pending.append(future)
        return future

    def _done(self, future: Future[T]) -> None:
        self._running.discard(future)
        # The failure first, then the slot: a caller waiting for the slot must find the failure.
        if not future.cancelled() and future.exception() is not None and self._failure is None:
            self._failure = future.exception()
        self._slots.release()

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def results(self) -> Iterator[T]:
        """Yield the results of the calls submitted so far, in order, as they finish (taken once each)."""
        while self._pending:
            future = self._pending.popleft()
            yield future.result()

    def close(self, *, raise_failure: bool = True) -> None:
        """Wait for the calls in flight (cancel those not started after a failure); raise the first failure."""
        if self._executor is not None:
            unfinished = [*self._pending, *list(self._running)]
            if self._failure is not None:
                for future in unfinished:
                    future.cancel()
            wait(unfinished)
            self._executor.shutdown(wait=True)
            self._executor = None
        if raise_failure:
            self._raise_failure()
