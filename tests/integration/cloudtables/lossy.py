"""
Lost answers to inserts against the CloudTables emulator: the emulator acts, then its answer never arrives.

The emulator's knobs fail a request before it acts (``fail_next``) or slow every reply (``latency``); none
acts and then drops the answer. :class:`LossyAdapter` is a ``requests`` transport adapter on the hook's
session that does: for the inserts it picks (by number, or at random with a seed) it either forwards the
request and throws the answer away (``lose_after``: the row is stored, the client sees a reset), or has the
emulator answer 500 without acting (``fail_before``, through ``fail_next``). Its counts are kept under a
lock, so the requests of a window count right; ``fail_next`` is the emulator's next request, whichever it is,
so ``fail_before`` is for one request in flight only.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ProtocolError

from airflow_provider_cloud.testing.cloudtables import CloudTablesEmulator


class LossyAdapter(HTTPAdapter):
    """
    Lose the answers of some inserts (``POST`` of a row), after or before the emulator acted.

    :param lose_after: insert numbers (1-based) whose answer is lost after the row was stored.
    :param fail_before: insert numbers the emulator answers 500 without storing.
    :param lose_rate: with ``seed``, the share of inserts whose answer is lost after storing.
    :param fail_rate: with ``seed``, the share of inserts answered 500 before storing.
    """

    def __init__(
        self,
        emulator: CloudTablesEmulator,
        *,
        lose_after: Iterable[int] = (),
        fail_before: Iterable[int] = (),
        lose_rate: float = 0.0,
        fail_rate: float = 0.0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.emulator = emulator
        self.lose_after = set(lose_after)
        self.fail_before = set(fail_before)
        self.lose_rate = lose_rate
        self.fail_rate = fail_rate
        self.random = random.Random(seed)
        self.inserts = 0
        self.lost = 0
        self.failed = 0
        self._lock = threading.Lock()

    def mount(self, session: requests.Session) -> requests.Session:
        session.mount("http://", self)
        return session

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        is_insert = request.method == "POST" and "/dataset/" in (request.url or "")
        if not is_insert:
            return super().send(request, *args, **kwargs)
        with self._lock:
            self.inserts += 1
            number, draw = self.inserts, self.random.random()
            fail = number in self.fail_before or draw < self.fail_rate
            lose = not fail and (number in self.lose_after or draw < self.fail_rate + self.lose_rate)
            self.failed += fail
            self.lost += lose
        if fail:
            self.emulator.fail_next(1, 500)
            return super().send(request, *args, **kwargs)
        response = super().send(request, *args, **kwargs)
        if lose:
            response.close()
            reset = ConnectionResetError(104, "Connection reset by peer")
            raise requests.ConnectionError(ProtocolError("Connection aborted.", reset), request=request)
        return response
