"""The Datasette batch writer's hand-off: the caller waits while the sender gets a request out."""

from __future__ import annotations

import threading

import requests

from airflow_provider_cloud.hooks._datasette_writer import _HandOff, _SentBody


def test_a_caller_unblocked_by_the_sender_sees_the_sender_busy():
    quiet = threading.Event()
    quiet.set()
    hand_off = _HandOff(quiet)
    hand_off.put("first")
    seen: list[bool] = []

    def caller() -> None:
        hand_off.put("second")  # blocks until the sender takes "first"
        seen.append(quiet.is_set())

    thread = threading.Thread(target=caller)
    thread.start()
    assert hand_off.get(timeout=5) == "first"
    thread.join(timeout=5)

    assert seen == [False]  # the caller would wait for the sender to send "first"
    assert hand_off.get(timeout=5) == "second"


def test_a_sent_body_tells_once_it_is_handed_over_and_goes_with_a_content_length():
    calls: list[str] = []
    body = _SentBody(b'{"rows":[]}', lambda: calls.append("sent"))

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
