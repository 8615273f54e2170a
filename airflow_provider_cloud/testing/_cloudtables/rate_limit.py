"""The CloudTables rate limit: ``limit`` requests per ``window`` seconds per presented key, a sliding window."""

from __future__ import annotations

import math
import threading
import time
from collections import deque


class RateLimiter:
    """
    Count requests per key; refused requests are not counted [I].

    Requests without a key share one bucket (the empty key) [I].
    """

    def __init__(self, limit: int, window: float, lock: threading.RLock | None = None) -> None:
        if limit < 1:
            raise ValueError("rate_limit must be at least 1")
        if window <= 0:
            raise ValueError("rate_window must be positive")
        self.limit = limit
        self.window = window
        self._lock = lock or threading.RLock()
        self._calls: dict[str, deque[float]] = {}

    def reset(self) -> None:
        with self._lock:
            self._calls = {}

    def admit(self, key: str) -> int | None:
        """Count one request for ``key``; return ``None`` if allowed, else the whole seconds until a slot frees."""
        now = time.monotonic()
        with self._lock:
            calls = self._calls.setdefault(key, deque())
            while calls and calls[0] <= now - self.window:
                calls.popleft()
            if len(calls) >= self.limit:
                return max(1, math.ceil(calls[0] + self.window - now))
            calls.append(now)
            return None

    @property
    def message(self) -> str:
        """Return the text of a 429 answer."""
        return f"Rate limit exceeded: {self.limit} requests per {self.window:g} seconds"
