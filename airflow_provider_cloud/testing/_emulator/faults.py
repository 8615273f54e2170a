"""
Injected faults and added latency: one queue and one knob per emulator, whatever the service.

A :class:`Fault` says what to answer (status, ``Retry-After``, the service's error code, or a whole body);
the service's routes take the next one where the real API would fail and render it in the API's error shape.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Body = Mapping[str, Any] | list[Any] | str | bytes


@dataclass(frozen=True)
class Fault:
    """
    One injected failure.

    ``code`` is the service's error code (Kloudless ``error_code``), ``None`` for its default; ``body`` replaces
    the service's error body (a JSON-able object, or ``str``/``bytes`` sent as text).
    """

    status: int
    retry_after: float | str | None = None
    code: str | None = None
    body: Body | None = None

    def headers(self) -> dict[str, str]:
        """Return ``Retry-After`` when given: whole seconds without a decimal point (``7.0`` -> ``7``)."""
        if self.retry_after is None:
            return {}
        value = self.retry_after
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return {"Retry-After": str(value)}


class Faults:
    """The faults waiting to be answered, in order, and the latency added to every reply."""

    def __init__(self, lock: threading.RLock | None = None) -> None:
        self._lock = lock or threading.RLock()
        self.reset()

    def reset(self) -> None:
        """Drop pending faults and set the latency back to 0."""
        with self._lock:
            self._queue: deque[Fault] = deque()
            self._latency = 0.0

    def add(self, count: int, fault: Fault) -> None:
        """Make the next ``count`` requests that can fail answer ``fault`` (calls add up)."""
        if count < 0:
            raise ValueError("count must not be negative")
        if not 100 <= fault.status <= 599:
            raise ValueError(f"not an HTTP status: {fault.status}")
        with self._lock:
            self._queue.extend([fault] * count)

    def take(self) -> Fault | None:
        """Return the next fault to answer, or ``None``."""
        with self._lock:
            return self._queue.popleft() if self._queue else None

    def clear(self) -> None:
        """Drop the faults not yet answered."""
        with self._lock:
            self._queue.clear()

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    @property
    def latency(self) -> float:
        """Return the seconds added before every reply is written."""
        with self._lock:
            return self._latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        if seconds < 0 or not math.isfinite(seconds):
            raise ValueError("latency must be a finite number of seconds, at least 0")
        with self._lock:
            self._latency = float(seconds)
