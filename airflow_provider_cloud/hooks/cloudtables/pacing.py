"""
Client-side pacing for the CloudTables API, and progress lines whose ETA follows that pace.

CloudTables allows 500 requests per 15 minutes and writes one row per request, so a hook that sends as fast
as it can spends most of a long import waiting out 429s. :class:`RequestPacer` keeps the hook under the
limit instead: a sliding window of at most ``limit`` requests in any ``window`` seconds, shared by every
thread that uses the hook instance (the rows a write has in flight, :mod:`.writer`), around every attempt
of every request (retries reach the service too).
A 429 that still comes (another client using the same key) is waited out by the HTTP core; tasks that share
one key share its budget through a pool and a ledger of send times (:mod:`.budget`), or split the limit
between them (``rate_limit`` extras).

A request holds a slot while it runs and is stamped when it ends. The service counts a request when it
arrives, which is after the client started it and before the client saw the answer; stamping the end keeps
the client's window at or behind the service's, so paced requests are never refused, whatever the latency.

A caller that would rather not sleep through a long wait sets ``wait_over``: a longer wait raises
``PaceWait`` (``hooks.core.waits``) instead. The send times go out (:meth:`RequestPacer.stamps`) and come
back in another process (:meth:`RequestPacer.merge`) as wall-clock seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from airflow_provider_cloud.hooks.core import CLOCK_MARGIN, PaceWait, extra_number, recent
from airflow_provider_cloud.rows.progress import ProgressLogger

DEFAULT_LIMIT = 500  # requests per window: the service's limit
DEFAULT_WINDOW = 900.0  # seconds

_IDLE_POLL = 0.05  # seconds between looks when every slot is held by a request still running
_MAX_WAITS = 100_000  # a bound on the wait loop; reaching it means the clock does not move
_MAX_SIMULATED = 1_000_000  # requests an ETA estimate looks ahead at most
_LOG_WAITS_FROM = 5.0  # seconds: pacing waits at least this long are logged


class RequestPacer:
    """
    Keep a client under ``limit`` requests per ``window`` seconds (sliding window, thread-safe).

    :param limit: requests allowed in any window.
    :param window: the window, in seconds.
    :param clock: monotonic seconds (injectable for tests).
    :param sleep: how to wait (injectable for tests).
    :param on_wait: called with the seconds about to be waited, before each wait (to log long ones).
    :param wall: wall-clock seconds, for send times kept outside the process (injectable for tests).
    :ivar wait_over: a wait longer than this many seconds raises ``PaceWait`` instead (``None``: never).
    """

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        on_wait: Callable[[float], None] | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if limit < 1:
            raise ValueError(f"the rate limit must be at least 1 request, not {limit}")
        if window <= 0:
            raise ValueError(f"the rate window must be positive, not {window}")
        self.limit = limit
        self.window = float(window)
        self._clock = clock
        self._sleep = sleep
        self._on_wait = on_wait
        self._wall = wall
        self.wait_over: float | None = None
        self._lock = threading.Lock()
        self._ends: deque[float] = deque()  # oldest first
        self._shifted: dict[float, float] = {}  # the ends merged from elsewhere: the margin added to each
        self._running = 0
        self._timed = 0
        self._busy_seconds = 0.0
        self.waited = 0.0

    @property
    def pace(self) -> float:
        """Return the sustained seconds per request the limit allows."""
        return self.window / self.limit

    @property
    def mean_request_seconds(self) -> float:
        """Return the average time a request took from sending to answer (0 before the first)."""
        with self._lock:
            return self._busy_seconds / self._timed if self._timed else 0.0

    def _forget_old(self, now: float) -> None:
        while self._ends and self._ends[0] <= now - self.window:
            self._shifted.pop(self._ends.popleft(), None)

    def acquire(self) -> float:
        """Wait for a free slot, take it, and return the seconds waited."""
        waited = 0.0
        for _ in range(_MAX_WAITS):
            with self._lock:
                now = self._clock()
                self._forget_old(now)
                if len(self._ends) + self._running < self.limit:
                    self._running += 1
                    self.waited += waited
                    return waited
                wait = self._ends[0] + self.window - now if self._ends else _IDLE_POLL
                if self.wait_over is not None and wait > self.wait_over:
                    raise PaceWait(self._wall() + wait, seconds=wait, limit=self.limit, window=self.window)
            wait = max(wait, 0.001)
            if self._on_wait is not None:
                self._on_wait(wait)
            self._sleep(wait)
            waited += wait
        raise RuntimeError(f"no request slot freed up after {waited:.0f} s of waiting")

    def release(self, started: float | None = None) -> None:
        """Give the slot back and stamp the request's end; ``started`` (clock time) times the request."""
        with self._lock:
            now = self._clock()
            self._running = max(0, self._running - 1)
            if self._ends and self._ends[-1] > now:  # behind a merged time taken a margin later
                self._ends = deque(sorted([*self._ends, now]))
            else:
                self._ends.append(now)
            if started is not None:
                self._timed += 1
                self._busy_seconds += max(0.0, now - started)

    def stamps(self) -> list[float]:
        """
        Return the send times still in the window, as wall-clock seconds (requests running count as now).

        Times merged from elsewhere go out as they came in, without the margin: it is added once, by
        whoever loads them, however often they travel.
        """
        with self._lock:
            now, wall = self._clock(), self._wall()
            self._forget_old(now)
            shifted = self._shifted
            return [wall - (now - end) - shifted.get(end, 0.0) for end in self._ends] + [wall] * self._running

    def merge(self, stamps: Iterable[float], *, margin: float = CLOCK_MARGIN) -> int:
        """
        Count requests sent by another process (wall-clock send times), each ``margin`` s later; return how many.

        A time within 10 ms of one already counted is that request again (this process's own, saved and
        loaded back), so merging the same times twice counts them once.
        """
        with self._lock:
            now, wall = self._clock(), self._wall()
            known = [end + wall - now - self._shifted.get(end, 0.0) for end in self._ends]
            added = [
                now - (wall - stamp) + margin
                for stamp in recent(stamps, now=wall, window=self.window)
                if not any(abs(stamp - k) < 0.01 for k in known)
            ]
            self._shifted.update((end, margin) for end in added)
            self._ends = deque(sorted([*self._ends, *added]))
            return len(added)

    def free_at(self, *, margin: float = CLOCK_MARGIN) -> float:
        """
        Return when (wall-clock seconds) every request sent so far has left the window: all of it is free.

        As a process that loads the send times sees it: ``margin`` later.
        """
        with self._lock:
            now, wall = self._clock(), self._wall()
            self._forget_old(now)
            raw = [end - self._shifted.get(end, 0.0) for end in self._ends] + [now] * bool(self._running)
            if not raw:
                return wall
            return wall + max(0.0, max(raw) + margin + self.window - now)

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one request slot for the duration of the block."""
        self.acquire()
        started = self._clock()
        try:
            yield
        finally:
            self.release(started)

    def seconds_for(self, count: int) -> float:
        """Return how long, at the earliest, until ``count`` more requests may all have been sent."""
        if count <= 0:
            return 0.0
        with self._lock:
            now = self._clock()
            self._forget_old(now)
            times = [*self._ends, *([now] * self._running)]
        finish = now
        for _ in range(min(count, _MAX_SIMULATED)):
            at = max(now, times[-self.limit] + self.window) if len(times) >= self.limit else now
            times.append(at)
            finish = at
        if count > _MAX_SIMULATED:
            finish += (count - _MAX_SIMULATED) * self.pace
        return finish - now


class PacedProgress(ProgressLogger):
    """
    A :class:`ProgressLogger` whose ETA is the time the remaining requests need, not the average so far.

    ``estimate(left)`` returns the seconds ``left`` more items need (the hook gives the pacer's schedule or
    the measured time per request, whichever is longer). The average rate since the start would promise far
    too much after a burst of requests that fit in the first window.
    """

    def __init__(
        self,
        logger: logging.Logger | logging.LoggerAdapter[logging.Logger],
        *,
        estimate: Callable[[int], float],
        what: str = "rows",
        total: int | None = None,
        every_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(logger, what=what, total=total, every_seconds=every_seconds, clock=clock)
        self._estimate = estimate

    def eta(self, now: float | None = None) -> float | None:
        """Return the estimated seconds left, or ``None`` when the total is unknown."""
        if self.total is None:
            return None
        left = max(0, self.total - self.done)
        return self._estimate(left) if left else 0.0


def pacer_for(
    extras: Mapping[str, Any],
    limit: int | None,
    window: float | None,
    *,
    conn_id: str,
    sleep: Callable[[float], None],
    logger: logging.Logger,
) -> RequestPacer | None:
    """
    Return a hook's pacer, or ``None`` when the limit is 0 (pacing off); waits of 5 s or more are logged.

    ``limit`` and ``window`` win over the ``rate_limit``/``rate_window`` extras, which win over the service's.
    """
    if limit is None:
        limit = extra_number(extras, "rate_limit", DEFAULT_LIMIT, conn_id=conn_id, cast=int)
    window = window or extra_number(extras, "rate_window", DEFAULT_WINDOW, conn_id=conn_id)
    if limit == 0:
        return None
    rate, span = int(limit), float(window)
    logged_until = [0.0]  # the threads of a window wait out one slot together: one line for them all

    def log_wait(seconds: float) -> None:
        until = time.monotonic() + seconds
        if seconds >= _LOG_WAITS_FROM and until > logged_until[0] + 1.0:
            logged_until[0] = until
            logger.info("Pacing to %d requests per %g s: waiting %.1f s", rate, span, seconds)

    return RequestPacer(rate, span, sleep=sleep, on_wait=log_wait)


def progress_logger(
    logger: logging.Logger,
    pacer: RequestPacer | None,
    total: int | None,
    *,
    what: str,
    every_seconds: float,
    window: int = 1,
) -> ProgressLogger:
    """
    Return a progress logger for ``total`` requests; with a pacer, its ETA follows the pacer's schedule.

    The ETA is the longer of the pacer's schedule and the time the requests left take ``window`` at a time.
    """
    if pacer is None:
        return ProgressLogger(logger, what=what, total=total, every_seconds=every_seconds)
    return PacedProgress(
        logger,
        estimate=lambda left: max(pacer.seconds_for(left), left * pacer.mean_request_seconds / window),
        what=what,
        total=total,
        every_seconds=every_seconds,
    )
