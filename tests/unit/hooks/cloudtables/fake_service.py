"""
A CloudTables data set behind the fake transport, whose answers can be lost after it acted.

``FakeDataset.handler`` answers the schema, the rows and inserts of one data set (``Code`` text, ``Count``
number). Inserts are named by their number (1-based, in the order they arrive): ``lose_after`` lose their
answer after the row was stored, ``fail_before`` answer 500 before anything is stored, ``refuse`` answer the
reply given (a field error), and ``interloper`` has another writer store a row just before. It answers the
requests of a window one at a time (a lock); ``before`` and ``after`` may hold a request back before it acts
or its answer after (outside the lock), to make requests in flight meet in a chosen order, and ``after`` may
replace the answer. Rows are also deleted by id.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

import pytest
import requests

from airflow_provider_cloud.hooks.cloudtables import CloudTablesHook
from tests.fake_transport import FakeTransport, Reply, connection_dropped

Answer = Reply | BaseException
DATASET_ID = "5f0c1d2e-3f40-4a5b-8c6d-7e8f90a1b2c3"
SCHEMA = {
    "name": "Codes",
    "datapoints": [
        {"id": "dp-1", "name": "Code", "type": "text"},
        {"id": "dp-2", "name": "Count", "type": "number"},
    ],
    "links": [],
    "computed": [],
    "success": True,
}


class FakeDataset:
    """One data set's rows, answered as the API does; some inserts fail or lose their answer."""

    def __init__(
        self,
        rows: Iterable[dict[str, Any]] = (),
        *,
        lose_after: Iterable[int] = (),
        fail_before: Iterable[int] = (),
        refuse: dict[int, Reply] | None = None,
        interloper: dict[int, dict[str, Any]] | None = None,
    ) -> None:
        self.rows: list[dict[str, Any]] = []
        self.next_id = 1
        for row in rows:
            self.store(row)
        self.lose_after = set(lose_after)
        self.fail_before = set(fail_before)
        self.refuse = dict(refuse or {})
        self.interloper = dict(interloper or {})
        self.inserts = 0
        self.lock = threading.Lock()
        #: Called with each request before it acts.
        self.before: Callable[[requests.PreparedRequest], None] | None = None
        #: Called with the request, its insert number (POST) or 0 and the answer; returns another or ``None``.
        self.after: Callable[[requests.PreparedRequest, int, Answer], Answer | None] | None = None

    @staticmethod
    def form(request: requests.PreparedRequest) -> dict[str, str]:
        body = request.body.decode() if isinstance(request.body, bytes) else str(request.body or "")
        return dict(parse_qsl(body, keep_blank_values=True))

    @staticmethod
    def typed(fields: dict[str, Any]) -> dict[str, Any]:
        count = fields.get("dp-2")
        if isinstance(count, str):
            count = None if count == "" else int(count) if count.lstrip("-").isdigit() else float(count)
        return {**fields, "dp-2": count} if "dp-2" in fields else dict(fields)

    def store(self, fields: dict[str, Any]) -> dict[str, Any]:
        row = {"id": self.next_id, "dv": 1, "color": None, "dp-1": None, "dp-2": None, **self.typed(fields)}
        self.next_id += 1
        self.rows.append(row)
        return dict(row)

    def handler(self, request: requests.PreparedRequest) -> Answer:
        if self.before is not None:
            self.before(request)
        with self.lock:
            answer = self.answer(request)
            number = self.inserts if request.method == "POST" else 0
        if self.after is not None:
            answer = self.after(request, number, answer) or answer
        return answer

    def answer(self, request: requests.PreparedRequest) -> Answer:
        path = (request.path_url or "").split("?", 1)[0]
        if request.method == "GET" and path.endswith("/schema"):
            return Reply(json=SCHEMA)
        if request.method == "GET" and path.endswith(DATASET_ID):
            return Reply(json={"data": [dict(row) for row in self.rows]})
        if request.method == "POST" and path.endswith(DATASET_ID):
            self.inserts += 1
            if self.inserts in self.interloper:
                self.store(self.interloper[self.inserts])
            if self.inserts in self.refuse:
                return self.refuse[self.inserts]
            if self.inserts in self.fail_before:
                return Reply(500, json={"error": "the service failed before storing"})
            row = self.store(self.form(request))
            if self.inserts in self.lose_after:
                return connection_dropped(request)
            return Reply(json={"data": row})
        if request.method == "PUT":
            row = next(row for row in self.rows if str(row["id"]) == path.rsplit("/", 1)[1])
            row.update(self.typed(self.form(request)))
            return Reply(json={"data": dict(row)})
        if request.method == "DELETE":
            found = [row for row in self.rows if str(row["id"]) == path.rsplit("/", 1)[1]]
            if not found:
                return Reply(404, json={"success": False, "error": "no such row"})
            self.rows.remove(found[0])
            return Reply(json={"success": True})
        return Reply(404, json={"error": f"no route {request.method} {path}"})


def fake_hook(
    monkeypatch: pytest.MonkeyPatch, dataset: FakeDataset, *, window: int = 1
) -> tuple[CloudTablesHook, FakeTransport]:
    """
    Return a hook (pacing off, sleeps recorded in ``hook.sleeps``) whose requests the fake data set answers.

    ``window``: rows in flight; 1 unless a test says (one at a time, the requests in a known order).
    """
    connection = {
        "conn_type": "cloudtables",
        "host": "acme.cloudtables.io",
        "password": "api-key-0123456789",
        "extra": {"rate_limit": 0, "window": window},
    }
    monkeypatch.setenv("AIRFLOW_CONN_CT_FAKE", json.dumps(connection))
    hook = CloudTablesHook("ct_fake")
    sleeps: list[float] = []
    hook._sleep = sleeps.append
    hook.sleeps = sleeps  # type: ignore[attr-defined]
    return hook, FakeTransport(handler=dataset.handler).mount(hook.session)
