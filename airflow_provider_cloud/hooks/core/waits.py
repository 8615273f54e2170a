"""
Long waits handed back to the caller, and the record of recent sends that outlives a process.

A hook that paces itself to a rate limit sleeps until its window lets the next request go. A caller that can
do better with a long wait (an Airflow task defers and frees its worker) sets a threshold
(:attr:`PaceHandle.wait_over`): a wait longer than it raises :class:`PaceWait` instead of sleeping, saying
when the next request may go. Requests already in flight finish; nothing new is sent.

The send times still inside the rate window are the pacer's state. The caller resumes in a new process,
maybe on another machine, so they are kept outside it (:class:`PaceLedger`: Airflow's task state store, or
a Variable shared by every task of one API key) as **wall-clock** seconds, and a process that loads them
takes each as :data:`CLOCK_MARGIN` seconds later than recorded, which covers the clock difference between
two workers (NTP keeps it to milliseconds).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from typing import Any, Protocol

#: Seconds added to send times loaded from another process: the clocks of two workers may differ a little.
CLOCK_MARGIN = 1.0


class PaceWait(Exception):
    """
    The next request may only go at ``not_before`` (epoch seconds), later than the caller's threshold.

    :param seconds: the wait, from when it was found.
    :ivar rows_done: set by a write that stopped: how many of its leading rows are stored (``None``:
        unknown; nothing of the write is counted).
    """

    def __init__(self, not_before: float, *, seconds: float, limit: int, window: float) -> None:
        self.not_before = not_before
        self.seconds = seconds
        self.rows_done: int | None = None
        super().__init__(
            f"the rate limit ({limit} requests per {window:g} s) lets the next request go in {seconds:.1f} s"
        )


class PaceHandle(Protocol):
    """
    A paced hook's pacing, for its caller.

    Waits longer than ``wait_over`` seconds raise :class:`PaceWait`; ``free_at()`` is when (wall clock)
    every request sent so far will have left the rate window, so the whole budget is there again.
    """

    wait_over: float | None

    def free_at(self) -> float: ...


class NoPacing:
    """Stands in for a pacer when a hook does not pace (rate limit 0): nothing ever waits."""

    wait_over: float | None = None

    def free_at(self) -> float:
        return time.time()


class PaceLedger(Protocol):
    """Where the send times (epoch seconds) of recent requests are kept between processes."""

    def load(self) -> list[float]: ...

    def save(self, stamps: list[float]) -> None: ...


def clean_stamps(value: Any, *, where: str) -> list[float]:
    """
    Return the send times found in a ledger, sorted; ``None`` is no times at all.

    :raises ValueError: the value is not a list of numbers (naming ``where`` it was read).
    """
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, int | float) for v in value):
        raise ValueError(f"{where}: expected a list of send times (epoch seconds), got {str(value)[:80]!r}")
    return sorted(float(v) for v in value if math.isfinite(v))


def recent(stamps: Iterable[float], *, now: float, window: float) -> list[float]:
    """Return the send times still inside the window ending at ``now`` (epoch seconds), oldest first."""
    return sorted(s for s in stamps if s > now - window)
