"""Both emulators on the shared base: one fault queue, latency on the reply, the same life cycle."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from airflow_provider_cloud.testing.cloudtables import CloudTablesEmulator
from airflow_provider_cloud.testing.kloudless import KloudlessEmulator

pytestmark = pytest.mark.integration


@dataclass
class Target:
    """An emulator with one read and one write request, and a look at what was written."""

    emulator: CloudTablesEmulator | KloudlessEmulator
    read: Callable[[requests.Session], requests.Response]
    write: Callable[[requests.Session, str, float], requests.Response]
    written: Callable[[], list[str]]


def cloudtables() -> Target:
    ct = CloudTablesEmulator().start()
    dataset = ct.add_dataset("Things", [("Name", "text")])
    name = ct.datapoint_id(dataset, "Name")
    base = ct.api_url()  # kept: a stopped emulator has no port

    def read(session: requests.Session) -> requests.Response:
        return session.get(f"{base}/datasets", params={"key": ct.api_key}, timeout=5)

    def write(session: requests.Session, value: str, timeout: float) -> requests.Response:
        url = f"{base}/dataset/{dataset}"
        return session.post(url, data={"key": ct.api_key, name: value}, timeout=timeout)

    return Target(ct, read, write, lambda: [row[name] for row in ct.rows(dataset)])


def kloudless() -> Target:
    kl = KloudlessEmulator().start()
    account = kl.create_account()
    auth = {"Authorization": f"Bearer {kl.create_token(account)}"}
    base = kl.api_base  # kept: a stopped emulator has no port

    def read(session: requests.Session) -> requests.Response:
        return session.get(f"{base}/accounts/me", headers=auth, timeout=5)

    def write(session: requests.Session, value: str, timeout: float) -> requests.Response:
        metadata = {"X-Kloudless-Metadata": f'{{"parent_id": "root", "name": "{value}"}}'}
        url = f"{base}/accounts/me/storage/files"
        return session.post(url, data=b"x", headers={**auth, **metadata}, timeout=timeout)

    return Target(kl, read, write, lambda: [event["metadata"]["name"] for event in kl.events(account)])


@pytest.fixture(params=[cloudtables, kloudless], ids=["cloudtables", "kloudless"])
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    built: Target = request.param()
    yield built
    built.emulator.stop()


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as opened:
        yield opened


def statuses(responses: list[requests.Response]) -> list[Any]:
    return [(response.status_code, response.headers.get("Retry-After")) for response in responses]


def test_fail_next_and_rate_limit_next_share_one_queue(target: Target, session: requests.Session) -> None:
    target.emulator.fail_next(1, 503)
    target.emulator.rate_limit_next(2, retry_after=3)
    target.emulator.fail_next(1, 502, retry_after=4.0)
    assert target.emulator.pending_failures == 4
    answered = [target.read(session) for _ in range(5)]
    assert statuses(answered) == [(503, None), (429, "3"), (429, "3"), (502, "4"), (200, None)]
    assert target.emulator.pending_failures == 0


def test_clear_faults_drops_what_is_pending(target: Target, session: requests.Session) -> None:
    target.emulator.fail_next(3, 500)
    target.emulator.clear_faults()
    assert target.emulator.pending_failures == 0
    assert target.read(session).status_code == 200


def test_reset_drops_pending_faults_and_latency(target: Target) -> None:
    target.emulator.fail_next(2, 500)
    target.emulator.latency = 0.5
    target.emulator.reset()
    assert (target.emulator.pending_failures, target.emulator.latency) == (0, 0)


def test_latency_delays_the_reply_not_the_write(target: Target, session: requests.Session) -> None:
    target.emulator.latency = 1.0
    sent = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        target.write(session, "late.txt", 0.1)
    while "late.txt" not in target.written():
        assert time.monotonic() - sent < 0.8, "the write waited for the latency"
        time.sleep(0.01)
    target.emulator.latency = 0


def test_stop_closes_pooled_keep_alive_connections(target: Target, session: requests.Session) -> None:
    assert target.read(session).status_code == 200  # the session now holds an open connection
    started = time.monotonic()
    target.emulator.stop()
    assert time.monotonic() - started < 5
    with pytest.raises(requests.exceptions.ConnectionError):
        target.read(session)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("emulator_class", [CloudTablesEmulator, KloudlessEmulator])
def test_a_requested_port_is_known_before_the_start(
    emulator_class: type[CloudTablesEmulator] | type[KloudlessEmulator],
) -> None:
    with pytest.raises(RuntimeError, match="no port until it is started"):
        _ = emulator_class().url
    port = free_port()
    emulator = emulator_class(host="localhost", port=port)
    assert (emulator.host, emulator.port, emulator.url) == ("127.0.0.1", port, f"http://127.0.0.1:{port}")
    with emulator:
        assert emulator.running
        assert emulator.port == port
    assert not emulator.running


def test_starting_twice_is_refused_by_cloudtables_and_ignored_by_kloudless() -> None:
    with CloudTablesEmulator() as ct, pytest.raises(RuntimeError, match="already running"):
        ct.start()
    with KloudlessEmulator() as kl:
        port = kl.port
        assert kl.start() is kl
        assert (kl.running, kl.port) == (True, port)
