"""
Test knobs of the CloudTables emulator: injected faults, latency, the rate limiter and the request log.

They share the backend's lock, so the emulator has one lock around all of its state.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SeenRequest:
    """One request the emulator answered, as a test may want to check it."""

    method: str
    path: str
    query: dict[str, list[str]]
    form: dict[str, list[str]]
    json: Any
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass(frozen=True)
class Fault:
    """An injected failure: the status, an optional body (JSON-able object, ``str`` or ``bytes``), Retry-After."""

    status: int
    body: Mapping[str, Any] | list[Any] | str | bytes | None
    retry_after: int | float | str | None


class Controls:
    """Faults, latency, per-key rate limit and a bounded request log, behind the shared lock."""

    def __init__(
        self, lock: threading.RLock, *, rate_limit: int, rate_window: float, log_size: int = 1000
    ) -> None:
        if rate_limit < 1:
            raise ValueError("rate_limit must be at least 1")
        if rate_window <= 0:
            raise ValueError("rate_window must be positive")
        if log_size < 1:
            raise ValueError("the request log must hold at least one request")
        self.lock = lock
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self._log_size = log_size
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self._faults: deque[Fault] = deque()
            self._calls: dict[str, deque[float]] = {}
            self._seen: deque[SeenRequest] = deque(maxlen=self._log_size)
            self._latency = 0.0

    # ----------------------------------------------------------------- faults

    def add_faults(self, count: int, fault: Fault) -> None:
        if count < 0:
            raise ValueError("count must not be negative")
        if not 100 <= fault.status <= 599:
            raise ValueError(f"not an HTTP status: {fault.status}")
        with self.lock:
            self._faults.extend([fault] * count)

    def take_fault(self) -> Fault | None:
        with self.lock:
            return self._faults.popleft() if self._faults else None

    @property
    def pending_faults(self) -> int:
        with self.lock:
            return len(self._faults)

    # ----------------------------------------------------------------- latency

    @property
    def latency(self) -> float:
        with self.lock:
            return self._latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        if seconds < 0 or not math.isfinite(seconds):
            raise ValueError("latency must be a finite number of seconds, at least 0")
        with self.lock:
            self._latency = float(seconds)

    # ----------------------------------------------------------------- rate limit

    def admit(self, key: str) -> int | None:
        """
        Count one request for ``key``; return ``None`` if allowed, else the seconds until a slot frees.

        A sliding window: at most ``rate_limit`` requests per key in any ``rate_window`` seconds. Refused
        requests are not counted.
        """
        now = time.monotonic()
        with self.lock:
            calls = self._calls.setdefault(key, deque())
            while calls and calls[0] <= now - self.rate_window:
                calls.popleft()
            if len(calls) >= self.rate_limit:
                return max(1, math.ceil(calls[0] + self.rate_window - now))
            calls.append(now)
            return None

    # ----------------------------------------------------------------- request log

    def record(self, seen: SeenRequest) -> None:
        with self.lock:
            self._seen.append(seen)

    @property
    def seen(self) -> list[SeenRequest]:
        with self.lock:
            return list(self._seen)

    def clear_seen(self) -> None:
        with self.lock:
            self._seen.clear()
