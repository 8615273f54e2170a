"""
The simulated link: latency and jitter per round trip, half each way, and a bandwidth cap per direction.

Latency: a round trip adds ``latency`` plus a uniform draw in ``[0, jitter]`` (from the request's own
generator, so it is reproducible); half delays the request before it reaches the server (or before the
proxy answers a fault itself), half delays the answer. A request the proxy resets pays only the first half.

Bandwidth: ``bandwidth`` bytes per second in each direction, shared by every connection, like one access
link: bytes leave in slices of :data:`SLICE` bytes, each waiting its turn on the direction's schedule.
"""

from __future__ import annotations

import asyncio
import math
import random
import threading
from dataclasses import dataclass

SLICE = 16 * 1024


@dataclass(frozen=True)
class Conditions:
    """Latency and jitter in seconds per round trip; bandwidth in bytes per second per direction (``None``: none)."""

    latency: float = 0.0
    jitter: float = 0.0
    bandwidth: float | None = None

    def __post_init__(self) -> None:
        for name in ("latency", "jitter"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number of seconds, at least 0, got {value!r}")
        if self.bandwidth is not None and not (
            isinstance(self.bandwidth, int | float) and math.isfinite(self.bandwidth) and self.bandwidth > 0
        ):
            raise ValueError(
                f"bandwidth must be a positive number of bytes per second, got {self.bandwidth!r}"
            )

    def one_way(self, rng: random.Random | None) -> float:
        """Return half of this round trip's added delay (``rng`` draws the jitter; none needed without it)."""
        extra = rng.uniform(0.0, self.jitter) if self.jitter and rng is not None else 0.0
        return (self.latency + extra) / 2


class Direction:
    """One direction of the link: when its next byte may leave, under the bandwidth cap."""

    def __init__(self) -> None:
        self._next_free = 0.0
        self._lock = threading.Lock()

    def reserve(self, size: int, bandwidth: float | None, now: float) -> float:
        """Book ``size`` bytes on the link and return how long to wait before sending them."""
        if bandwidth is None:
            return 0.0
        with self._lock:
            start = max(now, self._next_free)
            self._next_free = start + size / bandwidth
            return self._next_free - now


async def send(
    writer: asyncio.StreamWriter, data: bytes, direction: Direction, bandwidth: float | None
) -> None:
    """Write ``data`` at the link's pace and wait until it is handed to the socket."""
    if bandwidth is None:
        writer.write(data)
        await writer.drain()
        return
    loop = asyncio.get_running_loop()
    view = memoryview(data)
    for start in range(0, len(view), SLICE):
        piece = view[start : start + SLICE]
        wait = direction.reserve(len(piece), bandwidth, loop.time())
        if wait > 0:
            await asyncio.sleep(wait)
        writer.write(piece)
        await writer.drain()


async def delay(seconds: float) -> None:
    if seconds > 0:
        await asyncio.sleep(seconds)
