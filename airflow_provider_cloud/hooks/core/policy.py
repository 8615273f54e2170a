"""
When the HTTP core retries, and how long it waits.

What is retried:

- connection failures before the request was sent, and connect timeouts: always;
- read timeouts and connections dropped mid-request: only requests that are safe to repeat;
- 429 and 502/503/504: always (the service did not act on the request);
- other 5xx: only requests that are safe to repeat.

A request is safe to repeat when its method is GET, HEAD, OPTIONS, PUT or DELETE, or when the
caller says so (``idempotent=True``, e.g. an upsert by key). The error mapping (``errors.py``) marks
each failure ``retryable`` by these rules; this module decides the waits. The sync and the async request
loops (``CloudApiHook.request`` and ``arequest``) both run under :meth:`RetryPolicy.run`: one policy.

A write that is not safe to repeat and got no answer (or a 5xx) may or may not have happened. Sent with a
``reconcile`` check (``CloudApiHook.request_json``), it is not failed: the check asks the service whether
the write happened, and the request then counts as done or is sent again (:func:`outcome_unknown`).
"""

from __future__ import annotations

import email.utils
import random
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import tenacity

from airflow_provider_cloud.exceptions import ApiConnectionError, CloudApiError

T = TypeVar("T")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
ALWAYS_RETRY_STATUSES = frozenset({429, 502, 503, 504})


def is_safe(method: str, idempotent: bool | None) -> bool:
    """Tell whether a request may be sent again: by its method, unless the caller says otherwise."""
    return method.upper() in SAFE_METHODS if idempotent is None else idempotent


def status_is_retryable(status: int, *, safe: bool) -> bool:
    """Tell whether an error status may be retried: 429 and 502-504 always, other 5xx when safe."""
    return status in ALWAYS_RETRY_STATUSES or (status >= 500 and safe)


def should_retry(exc: BaseException) -> bool:
    """Tell whether a failed attempt is sent again: a :class:`CloudApiError` the error mapping marked retryable."""
    return isinstance(exc, CloudApiError) and exc.retryable


def outcome_unknown(exc: BaseException) -> bool:
    """Tell whether a failed request may have been carried out: no answer, or a 5xx, to a write not safe to repeat."""
    if not isinstance(exc, CloudApiError) or exc.retryable:
        return False
    return isinstance(exc, ApiConnectionError) or (exc.status_code or 0) >= 500


@dataclass
class RequestCounts:
    """
    What one hook's requests went through: for logs, benchmarks and the fault tests.

    ``attempts`` are requests sent (retries included), ``retries`` the waits before sending again,
    ``reconciled`` writes whose answer was lost but which had happened (counted done), ``resent`` writes
    whose answer was lost and which had not happened (sent again).
    """

    attempts: int = 0
    retries: int = 0
    reconciled: int = 0
    resent: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, name: str) -> None:
        with self._lock:  # the batch sender and read-ahead threads count too
            setattr(self, name, getattr(self, name) + 1)

    def as_dict(self) -> dict[str, int]:
        return {
            "attempts": self.attempts,
            "retries": self.retries,
            "reconciled": self.reconciled,
            "resent": self.resent,
        }


@dataclass(frozen=True)
class RetryPolicy:
    """
    How often and how long the HTTP core retries.

    :param limit: retries after the first attempt (0 turns retrying off).
    :param backoff_base: first backoff in seconds; it doubles on each retry, with jitter.
    :param backoff_max: largest backoff between two attempts, in seconds.
    :param retry_after_max: largest ``Retry-After`` wait honoured, in seconds.
    """

    limit: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    retry_after_max: float = 60.0

    def backoff(self, retry_number: int, *, rng: Callable[[], float] = random.random) -> float:
        """Return the wait before retry ``retry_number`` (1-based): exponential, with up to 100 % jitter."""
        step = min(self.backoff_max, self.backoff_base * 2 ** (retry_number - 1))
        return min(self.backoff_max, step * (1.0 + rng()))

    def wait_after(self, exc: BaseException | None, retry_number: int) -> float:
        """Return the wait before the next attempt: the server's ``Retry-After`` (capped), else backoff."""
        asked = getattr(exc, "retry_after", None)
        if asked is not None:
            return float(min(asked, self.retry_after_max))
        return self.backoff(retry_number)

    def run(
        self,
        attempt: Callable[..., T],
        *args: Any,
        before_sleep: Callable[[tenacity.RetryCallState], None],
        sleep: Callable[[float], None],
    ) -> T:
        """
        Return ``attempt(*args)``, retried under this policy (the sync path).

        The first try runs before any retry loop exists: most requests succeed at once, and a tenacity loop
        is a dozen objects in reference cycles, garbage the cyclic collector would have to find. A first
        failure worth retrying is handed to the loop as its attempt 1 (:func:`_replaying`): the same
        attempt numbers, waits and log lines as a loop from the start.
        """
        try:
            return attempt(*args)
        except CloudApiError as exc:
            if not should_retry(exc) or self.limit == 0:
                raise
            first = exc
        retrying = tenacity.Retrying(sleep=sleep, **self._loop_rules(before_sleep))
        return retrying(_replaying(first, attempt), *args)

    async def arun(
        self,
        attempt: Callable[..., Awaitable[T]],
        *args: Any,
        before_sleep: Callable[[tenacity.RetryCallState], None],
        sleep: Callable[[float], Awaitable[None]],
    ) -> T:
        """:meth:`run` for the async path: the same first try, rules and loop, sleeping with ``await``."""
        try:
            return await attempt(*args)
        except CloudApiError as exc:
            if not should_retry(exc) or self.limit == 0:
                raise
            first = exc
        retrying = tenacity.AsyncRetrying(sleep=sleep, **self._loop_rules(before_sleep))
        return await retrying(_areplaying(first, attempt), *args)

    def _loop_rules(self, before_sleep: Callable[[tenacity.RetryCallState], None]) -> dict[str, Any]:
        """Return the one set of rules both retry loops run under."""
        return {
            "stop": tenacity.stop_after_attempt(self.limit + 1),
            "wait": lambda state: self.wait_after(
                state.outcome.exception() if state.outcome else None, state.attempt_number
            ),
            "retry": tenacity.retry_if_exception(should_retry),
            "before_sleep": before_sleep,
            "reraise": True,
        }


def _replaying(first: BaseException, attempt: Callable[..., T]) -> Callable[..., T]:
    """Return ``attempt`` whose first call raises ``first`` again (the try made before the loop)."""
    pending = [first]

    def replayed(*args: Any) -> T:
        if pending:
            raise pending.pop()
        return attempt(*args)

    return replayed


def _areplaying(first: BaseException, attempt: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """:func:`_replaying` for an async ``attempt``."""
    pending = [first]

    async def replayed(*args: Any) -> T:
        if pending:
            raise pending.pop()
        return await attempt(*args)

    return replayed


@dataclass(frozen=True)
class Timeouts:
    """Connect and read timeouts, in seconds."""

    connect: float = 10.0
    read: float = 60.0

    def as_requests(self) -> tuple[float, float]:
        return (self.connect, self.read)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Return the wait a ``Retry-After`` header asks for, in seconds: delta-seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
