"""
What the proxy does to each request: the fault kinds, the plan of rates, scripted sequences, the decision.

Decisions are reproducible whatever order requests arrive in: each request draws from its own random
generator, seeded by the proxy's seed, the request's method, target and body, and how many times that same
request was seen before (a retry is a new draw). Requests sent concurrently (a window of writes, parallel
page reads) therefore meet the same faults on every run with the same seed, and an extra request early on
does not shift every later decision. The jitter of the added latency comes from the same generator.

A script (an exact sequence of outcomes) is consumed before the rates: each request the head of the script
accepts takes that entry, in order; other requests fall through to the rates.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum


class Fault(StrEnum):
    """The ways the proxy fails a request; each name is also a :class:`FaultPlan` rate and a counter."""

    #: Answered 429 with ``Retry-After`` by the proxy; the server never sees the request.
    TOO_MANY_REQUESTS = "too_many_requests"
    #: Answered 503 by the proxy; the server never sees the request.
    UNAVAILABLE = "unavailable"
    #: The client's connection is reset (RST) once the request is read; the server never sees it.
    RESET = "reset"
    #: Forwarded and answered by the server, then the client's connection is closed without the answer.
    LOST = "lost"
    #: Forwarded and answered by the server; the client's connection stays open and silent until it gives up.
    STALL = "stall"
    #: Forwarded, and the answer delivered :attr:`FaultPlan.slow_seconds` late.
    SLOW = "slow"


#: Faults answered without forwarding the request.
NOT_FORWARDED = frozenset({Fault.TOO_MANY_REQUESTS, Fault.UNAVAILABLE, Fault.RESET})


@dataclass(frozen=True)
class RequestInfo:
    """What a predicate sees of a request: method, path (without query), query, headers and body."""

    method: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


Predicate = Callable[[RequestInfo], bool]


def matching(methods: str | Iterable[str] | None = None, path: str | None = None) -> Predicate:
    """
    Return a predicate accepting requests by method(s) and a regular expression searched in the path.

    ``matching("POST", r"/-/create$")`` accepts only Datasette table creations; ``None`` accepts any.
    """
    wanted = None
    if methods is not None:
        wanted = frozenset([methods.upper()] if isinstance(methods, str) else (m.upper() for m in methods))
    pattern = re.compile(path) if path is not None else None

    def accepts(info: RequestInfo) -> bool:
        if wanted is not None and info.method.upper() not in wanted:
            return False
        return pattern is None or pattern.search(info.path) is not None

    return accepts


@dataclass(frozen=True)
class FaultPlan:
    """
    Chances of each fault per request (0 to 1, together at most 1), and how the faults answer.

    :param retry_after: seconds in the ``Retry-After`` of 429 answers (``None``: no header).
    :param unavailable_retry_after: seconds in the ``Retry-After`` of 503 answers (``None``: no header).
    :param slow_seconds: how late a :attr:`Fault.SLOW` answer comes.
    :param only: the rates apply only to the requests this predicate accepts (see :func:`matching`).
    """

    too_many_requests: float = 0.0
    unavailable: float = 0.0
    reset: float = 0.0
    lost: float = 0.0
    stall: float = 0.0
    slow: float = 0.0
    retry_after: float | None = 1.0
    unavailable_retry_after: float | None = None
    slow_seconds: float = 1.0
    only: Predicate | None = None

    def __post_init__(self) -> None:
        for kind in Fault:
            rate = getattr(self, kind.value)
            if not (isinstance(rate, int | float) and 0.0 <= rate <= 1.0):
                raise ValueError(f"FaultPlan.{kind.value} must be a chance from 0 to 1, got {rate!r}")
        if sum(rate for _, rate in self.rates()) > 1.0 + 1e-9:
            raise ValueError("FaultPlan: the chances of the faults add up to more than 1")
        for name in ("retry_after", "unavailable_retry_after", "slow_seconds"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise ValueError(f"FaultPlan.{name} must be a finite number of seconds, at least 0")

    def rates(self) -> list[tuple[Fault, float]]:
        """Return each fault kind with its chance, in :class:`Fault` order."""
        return [(kind, float(getattr(self, kind.value))) for kind in Fault]

    def describe(self) -> str:
        """Return the non-zero rates in short, e.g. ``too_many_requests 5 %, lost 3 %``."""
        parts = [f"{kind.value} {rate * 100:g} %" for kind, rate in self.rates() if rate]
        return ", ".join(parts) or "no faults"


def retry_after_text(seconds: float) -> str:
    """Return a ``Retry-After`` value: whole seconds without a decimal point, else the decimal as given."""
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


class Decider:
    """Decide each request's fault (and hand out its random generator): the script first, then the plan."""

    def __init__(self, plan: FaultPlan, seed: int) -> None:
        self.plan = plan
        self.seed = seed
        self._lock = threading.Lock()
        self._seen: dict[bytes, int] = {}
        self._script: deque[tuple[Fault | None, Predicate | None]] = deque()

    def script(self, outcomes: Iterable[Fault | str | None], only: Predicate | None) -> None:
        """Queue exact outcomes (``None``: no fault) for the next requests ``only`` accepts."""
        entries = [(None if o is None else Fault(o), only) for o in outcomes]
        with self._lock:
            self._script.extend(entries)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._script)

    def clear_script(self) -> None:
        with self._lock:
            self._script.clear()

    @property
    def remembered(self) -> int:
        """How many distinct requests the decider keeps a count of."""
        with self._lock:
            return len(self._seen)

    def decide(self, info: RequestInfo, *, draw: bool = True) -> tuple[Fault | None, random.Random | None]:
        """
        Return the fault for this request (``None``: none) and the request's own random generator.

        With nothing to decide (no rates, no script) and ``draw`` false (no jitter to draw), the request is
        neither hashed nor remembered: a proxy that only adds latency costs no memory per request.
        """
        if not draw and not any(rate for _, rate in self.plan.rates()) and not self.pending:
            return None, None
        key = hashlib.sha256(
            b"\0".join([info.method.encode(), info.path.encode(), info.query.encode(), info.body])
        ).digest()
        with self._lock:
            seen = self._seen[key] = self._seen.get(key, 0) + 1
            scripted = self._take_scripted(info)
        rng = random.Random(f"{self.seed}|{key.hex()}|{seen}")
        chance = rng.random()  # drawn even when scripted, so jitter is the same either way
        if scripted is not None:
            return scripted[0], rng
        plan = self.plan
        if plan.only is not None and not plan.only(info):
            return None, rng
        edge = 0.0
        for kind, rate in plan.rates():
            edge += rate
            if chance < edge:
                return kind, rng
        return None, rng

    def _take_scripted(self, info: RequestInfo) -> tuple[Fault | None] | None:
        if not self._script:
            return None
        outcome, only = self._script[0]
        if only is not None and not only(info):
            return None
        self._script.popleft()
        return (outcome,)
