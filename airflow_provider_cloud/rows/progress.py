"""Progress lines for long row jobs: how many done, how fast, and when it should end."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


def format_duration(seconds: float) -> str:
    """Return a short human duration: ``45s``, ``3m05s``, ``2h07m``."""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class ProgressLogger:
    """
    Log progress of a long job at most once every ``every_seconds``.

    Call ``update(n)`` as items are done and ``finish()`` at the end. A progress line says how many
    items are done, the average rate since the start and, when ``total`` is known, the share done
    and an estimated time left at that rate. Without a total, ``share_done`` (for example the share
    of a file's bytes read so far, ``None`` when unknown) gives the share and the time left instead.
    ``clock`` returns seconds (injectable for tests).
    """

    def __init__(
        self,
        logger: logging.Logger | logging.LoggerAdapter[logging.Logger],
        *,
        what: str = "rows",
        total: int | None = None,
        every_seconds: float = 10.0,
        share_done: Callable[[], float | None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if every_seconds < 0:
            raise ValueError(f"every_seconds must not be negative, not {every_seconds}")
        if total is not None and total < 0:
            raise ValueError(f"total must not be negative, not {total}")
        self.logger = logger
        self.what = what
        self.total = total
        self.every_seconds = every_seconds
        self.share_done = share_done
        self.done = 0
        self._clock = clock
        self._started = clock()
        self._last_logged = self._started
        self._finished = False

    @property
    def elapsed(self) -> float:
        """Return the seconds since the logger was created."""
        return self._clock() - self._started

    def rate(self, now: float | None = None) -> float:
        """Return the average items per second so far (0 before any time has passed)."""
        elapsed = (self._clock() if now is None else now) - self._started
        return self.done / elapsed if elapsed > 0 else 0.0

    def eta(self, now: float | None = None) -> float | None:
        """Return the estimated seconds left, or ``None`` when neither the total nor the share done is known."""
        if self.total is None:
            return self._eta_from_share(self._share(), now)
        left = max(0, self.total - self.done)
        if left == 0:
            return 0.0
        rate = self.rate(now)
        return left / rate if rate > 0 else None

    def _eta_from_share(self, share: float | None, now: float | None = None) -> float | None:
        if share is None or share <= 0:
            return None
        elapsed = (self._clock() if now is None else now) - self._started
        return elapsed * (1 - share) / share

    def _share(self) -> float | None:
        """Return ``share_done()`` within 0 and 1, or ``None`` when unknown."""
        share = self.share_done() if self.share_done is not None else None
        return None if share is None else min(1.0, max(0.0, share))

    def update(self, n: int = 1) -> None:
        """Count ``n`` more items done, and log a progress line if one is due."""
        self.done += n
        now = self._clock()
        if now - self._last_logged >= self.every_seconds:
            self._last_logged = now
            self._log(now)

    def _log(self, now: float) -> None:
        rate = self.rate(now)
        if self.total is None:
            share = self._share()
            if share is None:
                self.logger.info(
                    "%s %s done, %s %s/s", f"{self.done:,}", self.what, f"{rate:,.0f}", self.what
                )
                return
            eta = self._eta_from_share(share, now)
            self.logger.info(
                "%s %s done (%.1f%% of the source read), %s %s/s, ETA %s",
                f"{self.done:,}",
                self.what,
                100.0 * share,
                f"{rate:,.0f}",
                self.what,
                "unknown" if eta is None else format_duration(eta),
            )
            return
        share = 100.0 * self.done / self.total if self.total else 100.0
        eta = self.eta(now)
        self.logger.info(
            "%s of %s %s done (%.1f%%), %s %s/s, ETA %s",
            f"{self.done:,}",
            f"{self.total:,}",
            self.what,
            share,
            f"{rate:,.0f}",
            self.what,
            "unknown" if eta is None else format_duration(eta),
        )

    def finish(self) -> None:
        """Log the final count, time taken and rate (once)."""
        if self._finished:
            return
        self._finished = True
        now = self._clock()
        self.logger.info(
            "Finished: %s %s in %s, %s %s/s",
            f"{self.done:,}",
            self.what,
            format_duration(now - self._started),
            f"{self.rate(now):,.0f}",
            self.what,
        )
