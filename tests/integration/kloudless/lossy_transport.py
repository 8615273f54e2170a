"""
A ``requests`` adapter in front of a real server that injects the faults of a bad network, by a seeded draw.

Before forwarding: a 429 or a 503 in the Kloudless error shape (the service did not act), or a connection reset
(nothing reached the service). After forwarding: the service acted and answered, and the answer is thrown away
and the connection reported broken (a lost answer). The emulator itself cannot lose an answer after acting, so
this is where that fault is made; the request really reaches the emulator.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ProtocolError

from tests.fake_transport import Reply, build_response


@dataclass(frozen=True)
class FaultRates:
    """Chances per request, drawn in this order: 429, 503, reset before forwarding, answer lost after."""

    rate_limited: float = 0.05
    unavailable: float = 0.05
    reset: float = 0.03
    lost: float = 0.03


def _error(status: int, code: str, **headers: str) -> Reply:
    body = {"status_code": status, "error_code": code, "message": "injected", "id": "lossy"}
    return Reply(status, json=body, headers=headers)


def _broken(request: requests.PreparedRequest) -> requests.ConnectionError:
    reason = ProtocolError("Connection aborted.", ConnectionResetError(104, "Connection reset by peer"))
    return requests.ConnectionError(reason, request=request)


class LossyAdapter(HTTPAdapter):
    """
    Forward to the real server, except for the faults drawn; :attr:`injected` counts them by kind and method.

    Keys are ``(kind, method)``, kinds ``rate_limited``, ``unavailable``, ``reset`` and ``lost``.
    """

    def __init__(self, seed: int, rates: FaultRates = FaultRates()) -> None:
        super().__init__()
        self._random = random.Random(seed)
        self._rates = rates
        self.injected: Counter[tuple[str, str]] = Counter()
        self.requests = 0

    def mount(self, session: requests.Session) -> LossyAdapter:
        session.mount("http://", self)
        return self

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        self.requests += 1
        method = request.method or ""
        draw = self._random.random()
        rates = self._rates
        if draw < rates.rate_limited:
            self.injected["rate_limited", method] += 1
            return build_response(request, _error(429, "too_many_requests", **{"Retry-After": "1"}))
        draw -= rates.rate_limited
        if draw < rates.unavailable:
            self.injected["unavailable", method] += 1
            return build_response(request, _error(503, "service_not_available"))
        draw -= rates.unavailable
        if draw < rates.reset:
            self.injected["reset", method] += 1
            raise _broken(request)
        draw -= rates.reset
        response = super().send(request, *args, **kwargs)
        if draw < rates.lost:
            self.injected["lost", method] += 1
            _ = response.content  # the service acted and answered: read it, then lose it
            response.close()
            raise _broken(request)
        return response

    def count(self, kind: str, method: str | None = None) -> int:
        """Return how many faults of ``kind`` were injected (on ``method`` only, if given)."""
        return sum(n for (k, m), n in self.injected.items() if k == kind and method in (None, m))
