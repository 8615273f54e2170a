"""What the proxy did, counted: requests seen, forwarded and delivered, faults by kind, and which requests."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

from airflow_provider_cloud.testing._proxy.faults import Fault

#: Faulted requests remembered (the oldest are dropped first).
RECORDS_KEPT = 10_000


@dataclass(frozen=True)
class FaultRecord:
    """One faulted request: its number (1-based, in arrival order), the fault, the method and the target."""

    number: int
    fault: Fault
    method: str
    target: str


@dataclass(frozen=True)
class ProxyCounts:
    """
    A snapshot of the proxy's counters.

    ``seen``: requests read from clients; ``forwarded``: requests sent to the server (lost and stalled ones
    included); ``delivered``: server answers that reached the client; ``faulted``: faults by kind (every
    kind present, 0 when none); ``upstream_errors``: requests the server could not be reached for (answered
    502) or that it dropped without an answer.
    """

    seen: int = 0
    forwarded: int = 0
    delivered: int = 0
    upstream_errors: int = 0
    faulted: dict[str, int] = field(default_factory=lambda: {kind.value: 0 for kind in Fault})

    @property
    def total_faulted(self) -> int:
        return sum(self.faulted.values())

    def as_dict(self) -> dict[str, object]:
        return {
            "seen": self.seen,
            "forwarded": self.forwarded,
            "delivered": self.delivered,
            "upstream_errors": self.upstream_errors,
            "faulted": dict(self.faulted),
        }


class Tally:
    """The counters, updated on the proxy's thread and read from any other."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._counts: dict[str, int] = {"seen": 0, "forwarded": 0, "delivered": 0, "upstream_errors": 0}
            self._faulted = {kind.value: 0 for kind in Fault}
            self._records: deque[FaultRecord] = deque(maxlen=RECORDS_KEPT)

    def add(self, name: str, amount: int = 1) -> int:
        """Add to a counter (one by default) and return its new value."""
        with self._lock:
            self._counts[name] += amount
            return self._counts[name]

    def fault(self, number: int, fault: Fault, method: str, target: str) -> None:
        with self._lock:
            self._faulted[fault.value] += 1
            self._records.append(FaultRecord(number, fault, method, target))

    def snapshot(self) -> ProxyCounts:
        with self._lock:
            return ProxyCounts(faulted=dict(self._faulted), **self._counts)

    def records(self) -> list[FaultRecord]:
        with self._lock:
            return list(self._records)
