"""
The Datasette batch sender: the hand-off (the caller waits while the sender gets a request out), and the
row limit it learns from a refusal and reports instead of writing it anywhere.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
import requests

from airflow_provider_cloud.exceptions import BadRequestError
from airflow_provider_cloud.hooks.datasette.batches import Batch
from airflow_provider_cloud.hooks.datasette.pipeline import SentBody, _HandOff
from airflow_provider_cloud.hooks.datasette.sender import BatchWriter


def caller_putting(hand_off: _HandOff, items: list[str]) -> tuple[threading.Thread, list[str]]:
    """Start a caller that puts ``items`` one after another; the list fills with those put."""
    done: list[str] = []

    def run() -> None:
        for item in items:
            assert hand_off.put(item, timeout=10)
            done.append(item)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, done


def still(done: list[str], expected: list[str]) -> bool:
    """Give the caller time to go on (it must not), then say whether it is still where expected."""
    time.sleep(0.05)
    return done == expected


def test_a_batch_for_an_idle_sender_is_handed_over_once_its_request_is_out():
    hand_off = _HandOff()
    sender_waits = threading.Thread(target=lambda: taken.append(hand_off.take()), daemon=True)
    taken: list[str] = []
    sender_waits.start()
    time.sleep(0.05)  # the sender is idle, waiting
    caller, done = caller_putting(hand_off, ["a"])
    sender_waits.join(timeout=10)

    assert taken == ["a"]
    assert still(done, [])  # the sender is getting "a" out: the caller waits
    hand_off.sent()
    caller.join(timeout=10)
    assert done == ["a"]


def test_a_caller_waits_for_the_waiting_batch_to_be_taken_and_sent():
    hand_off = _HandOff()
    caller, done = caller_putting(hand_off, ["a", "b"])
    time.sleep(0.05)
    assert done == ["a"]  # nobody was waiting for "a": handed over at once; "b" waits for room

    assert hand_off.take() == "a"
    assert still(done, ["a"])  # "a" is being sent: the caller must not compete with the sender
    hand_off.sent()
    caller.join(timeout=10)
    assert done == ["a", "b"]  # "a" is out and the sender waits for the server: "b" goes in
    assert hand_off.take() == "b"
    hand_off.sent()


def test_a_sent_body_tells_once_it_is_handed_over_and_goes_with_a_content_length():
    calls: list[str] = []
    body = SentBody(b'{"rows":[]}', lambda: calls.append("sent"))

    prepared = requests.Request("POST", "http://127.0.0.1:9/db/t/-/insert", data=body).prepare()
    assert prepared.headers["Content-Length"] == "11"
    assert "Transfer-Encoding" not in prepared.headers
    assert calls == []

    chunks = iter(prepared.body)
    assert next(chunks) == b'{"rows":[]}'
    assert calls == []  # not yet: the chunk is being sent
    assert list(chunks) == []
    assert calls == ["sent"]
    assert b"".join(body) == b'{"rows":[]}'  # a retry sends it again


def recording_server(limit: int) -> tuple[list[int], Any]:
    """Return the sizes of the batches posted (negative: refused) and a ``post`` that allows ``limit`` rows."""
    sizes: list[int] = []

    def post(method: str, path: str, *, data: Any, headers: Any, idempotent: bool) -> dict[str, bool]:
        rows = json.loads(b"".join(data))["rows"]
        if len(rows) > limit:
            sizes.append(-len(rows))
            too_many = f"Too many rows, maximum allowed is {limit}"
            raise BadRequestError(too_many, service="Datasette", status_code=400, errors=[too_many])
        sizes.append(len(rows))
        return {"ok": True}

    return sizes, post


def batch_of(first: int, last: int) -> Batch:
    return Batch(frozenset({"id"}), [{"id": i} for i in range(first, last + 1)], first)


def test_the_row_limit_taught_by_a_refusal_is_kept_and_later_batches_are_split_before_they_go():
    sizes, post = recording_server(limit=2)

    with BatchWriter(post, "/db/t/-/insert", "insert", alter=False) as writer:
        writer.submit(batch_of(1, 5))
        writer.submit(batch_of(6, 8))

    assert writer.learned_max_rows == 2
    assert sizes == [-5, 2, 2, 1, 2, 1]  # one refusal only: the second batch was split before it went
    assert (writer.rows, writer.batches) == (8, 5)


def test_a_refusal_the_limit_does_not_explain_fails_the_batch_and_teaches_nothing():
    def post(method: str, path: str, **kwargs: Any) -> None:
        raise BadRequestError(
            "UNIQUE constraint failed", service="Datasette", errors=["UNIQUE constraint failed"]
        )

    writer = BatchWriter(post, "/db/t/-/insert", "insert", alter=False)
    batch = Batch(frozenset({"id"}), [{"id": 3}, {"id": 9}], 3, indices=[3, 9])

    with pytest.raises(BadRequestError) as caught:
        writer.send(batch)

    assert caught.value.errors[-1] == "in the batch of rows at lines 3-9; none of that batch was written"
    assert writer.learned_max_rows is None
    assert (writer.rows, writer.batches) == (0, 0)
