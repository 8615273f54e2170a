"""NetworkConditionsProxy between a client and a real server: forwarding, each fault, latency, bandwidth, stop."""

from __future__ import annotations

import concurrent.futures
import contextlib
import gc
import http.client
import os
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from airflow_provider_cloud.testing.proxy import Fault, FaultPlan, NetworkConditionsProxy, matching
from tests.integration.proxy.upstreams import EchoUpstream, RawUpstream, echo, get, read_request_head

pytestmark = pytest.mark.integration


@pytest.fixture
def upstream() -> Iterator[EchoUpstream]:
    server = EchoUpstream()
    yield server
    server.stop()


def connect(proxy: NetworkConditionsProxy, timeout: float = 5.0) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=timeout)


def exchange(connection: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None):
    connection.request(method, path, body=body)
    response = connection.getresponse()
    return response.status, dict(response.getheaders()), response.read()


def test_requests_and_answers_pass_unchanged_on_kept_connections(network_proxy, upstream) -> None:
    proxy = network_proxy(upstream.url)
    assert proxy.url == f"http://127.0.0.1:{proxy.port}"
    connection = connect(proxy)
    status, headers, body = exchange(connection, "POST", "/a%20b/c?x=1&x=2", b"hello")
    sock = connection.sock
    assert (status, headers["X-Echo"], headers["Server"].startswith("Echo/1.0")) == (201, "yes", True)
    assert echo(body) == {
        "method": "POST",
        "path": "/a%20b/c",
        "query": "x=1&x=2",
        "host": f"127.0.0.1:{proxy.port}",  # the client's Host goes upstream: absolute URLs come back here
        "body": "hello",
    }
    for number in range(5):
        assert exchange(connection, "GET", f"/n{number}")[0] == 200
    assert connection.sock is sock  # one client connection throughout
    assert upstream.paths() == ["/a%20b/c", "/n0", "/n1", "/n2", "/n3", "/n4"]
    assert proxy.counts.as_dict() == {
        "seen": 6,
        "forwarded": 6,
        "delivered": 6,
        "upstream_errors": 0,
        "faulted": {kind.value: 0 for kind in Fault},
    }


def test_the_url_keeps_the_upstream_path(network_proxy, upstream) -> None:
    proxy = network_proxy(f"{upstream.url}/io/")
    assert proxy.url == f"http://127.0.0.1:{proxy.port}/io"
    assert echo(requests.get(f"{proxy.url}/x", timeout=5).content)["path"] == "/io/x"


def test_chunked_bodies_go_through(network_proxy, upstream) -> None:
    proxy = network_proxy(upstream.url)
    response = requests.post(f"{proxy.url}/up", data=iter([b"ab", b"cd"]), timeout=5)  # chunked by requests
    assert echo(response.content)["body"] == "abcd"


def test_too_many_requests_and_unavailable_answer_without_forwarding(network_proxy, upstream) -> None:
    proxy = network_proxy(upstream.url, faults=FaultPlan(retry_after=0.25, unavailable_retry_after=3))
    proxy.script(Fault.TOO_MANY_REQUESTS, Fault.UNAVAILABLE)
    connection = connect(proxy)
    status, headers, _ = exchange(connection, "POST", "/write", b"x")
    assert (status, headers["Retry-After"]) == (429, "0.25")
    status, headers, _ = exchange(connection, "POST", "/write", b"x")
    assert (status, headers["Retry-After"]) == (503, "3")
    assert exchange(connection, "POST", "/write", b"x")[0] == 201  # the same connection goes on
    assert upstream.paths() == ["/write"]
    counts = proxy.counts
    assert (
        counts.seen,
        counts.forwarded,
        counts.faulted["too_many_requests"],
        counts.faulted["unavailable"],
    ) == (
        3,
        1,
        1,
        1,
    )


def test_a_reset_before_forwarding_never_reaches_the_server(network_proxy, upstream) -> None:
    proxy = network_proxy(upstream.url)
    proxy.script(Fault.RESET)
    with pytest.raises(requests.ConnectionError, match="reset|aborted"):
        requests.post(f"{proxy.url}/write", data=b"x", timeout=5)
    assert upstream.paths() == []
    assert requests.post(f"{proxy.url}/write", data=b"x", timeout=5).status_code == 201
    assert [(r.number, r.fault, r.method, r.target) for r in proxy.faulted_requests] == [
        (1, Fault.RESET, "POST", "/write")
    ]


def test_a_lost_answer_was_acted_on(network_proxy, upstream) -> None:
    proxy = network_proxy(upstream.url)
    proxy.script(Fault.LOST)
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{proxy.url}/write", data=b"x", timeout=5)
    assert upstream.paths() == ["/write"]
    counts = proxy.counts
    assert (counts.forwarded, counts.delivered, counts.faulted["lost"]) == (1, 0, 1)


def test_a_stalled_answer_lasts_until_the_client_gives_up_and_does_not_hold_up_stop(upstream) -> None:
    proxy = NetworkConditionsProxy(upstream.url).start()
    proxy.script(Fault.STALL, Fault.STALL)
    started = time.monotonic()
    with pytest.raises(requests.ReadTimeout):
        requests.post(f"{proxy.url}/write", data=b"x", timeout=(5, 0.3))
    assert 0.3 <= time.monotonic() - started < 3
    assert upstream.paths() == ["/write"]
    stuck = connect(proxy)
    stuck.request("GET", "/stalled")  # left waiting while the proxy stops
    time.sleep(0.1)
    started = time.monotonic()
    proxy.stop()
    assert time.monotonic() - started < 2
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        stuck.getresponse()


def test_a_slow_answer_comes_late(network_proxy, upstream) -> None:
    proxy = network_proxy(upstream.url, faults=FaultPlan(slow_seconds=0.4))
    proxy.script(Fault.SLOW)
    started = time.monotonic()
    assert requests.get(f"{proxy.url}/x", timeout=5).status_code == 200
    assert time.monotonic() - started >= 0.4


def test_faults_only_hit_the_requests_chosen(network_proxy, upstream) -> None:
    plan = FaultPlan(unavailable=1.0, only=matching("POST", r"^/data/-/create$"))
    proxy = network_proxy(upstream.url, faults=plan)
    session = requests.Session()
    assert session.get(f"{proxy.url}/data/-/create", timeout=5).status_code == 200
    assert session.post(f"{proxy.url}/data/t/-/insert", timeout=5).status_code == 201
    assert session.post(f"{proxy.url}/data/-/create", timeout=5).status_code == 503
    proxy.faults = FaultPlan()
    assert session.post(f"{proxy.url}/data/-/create", timeout=5).status_code == 201


def run_seeded(upstream_url: str, seed: int, *, workers: int) -> list[tuple[Fault, str, str]]:
    plan = FaultPlan(too_many_requests=0.1, unavailable=0.1, reset=0.1, lost=0.1)
    with NetworkConditionsProxy(upstream_url, faults=plan, seed=seed) as proxy:

        def send(number: int) -> None:
            with contextlib.suppress(requests.ConnectionError):
                requests.post(f"{proxy.url}/rows", data=f"row {number}".encode(), timeout=5)

        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            list(pool.map(send, range(60)))
        return sorted((r.fault, r.method, r.target) for r in proxy.faulted_requests)


def test_the_same_seed_faults_the_same_requests_in_any_order(upstream) -> None:
    one_by_one = run_seeded(upstream.url, seed=11, workers=1)
    assert len(one_by_one) > 10
    assert run_seeded(upstream.url, seed=11, workers=8) == one_by_one
    assert run_seeded(upstream.url, seed=12, workers=1) != one_by_one


def test_latency_is_half_each_way_and_connections_wait_side_by_side(network_proxy, upstream) -> None:
    proxy = network_proxy(upstream.url, latency=0.4)
    session = requests.Session()
    sent = time.monotonic()
    session.get(f"{proxy.url}/one", timeout=5)
    answered = time.monotonic()
    ((arrived, _),) = upstream.handled
    assert 0.2 <= arrived - sent < 0.35
    assert answered - sent >= 0.4

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: requests.get(f"{proxy.url}/p{n}", timeout=5), range(8)))
    assert time.monotonic() - started < 1.2  # eight round trips at once, not 3.2 s one after another


def test_jitter_adds_up_to_its_amount(network_proxy, upstream) -> None:
    proxy = network_proxy(upstream.url, latency=0.05, jitter=0.1, seed=3)
    session = requests.Session()
    times = []
    for number in range(8):
        started = time.monotonic()
        session.get(f"{proxy.url}/j{number}", timeout=5)
        times.append(time.monotonic() - started)
    assert min(times) >= 0.05
    assert max(times) < 0.25
    assert max(times) - min(times) > 0.02


def test_bandwidth_caps_each_direction(network_proxy, upstream) -> None:
    proxy = network_proxy(upstream.url, bandwidth=400_000)
    started = time.monotonic()
    assert len(requests.get(f"{proxy.url}/big?size=200000", timeout=10).content) == 200_000
    assert 0.45 <= time.monotonic() - started < 1.5
    proxy.bandwidth = None
    started = time.monotonic()
    requests.get(f"{proxy.url}/big?size=200000", timeout=10)
    assert time.monotonic() - started < 0.3


def test_an_unreachable_server_is_a_bad_gateway(network_proxy) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
    proxy = network_proxy(f"http://127.0.0.1:{port}")
    status, headers, body = get(proxy.url, "/")
    assert (status, headers["Connection"]) == (502, "close")
    assert b"could not reach the server" in body
    assert proxy.counts.upstream_errors == 1


def test_a_server_that_drops_the_request_drops_the_client_too(network_proxy) -> None:
    server = RawUpstream(lambda sock: read_request_head(sock))  # reads, then closes without an answer
    try:
        proxy = network_proxy(server.url)
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{proxy.url}/x", timeout=5)
        assert proxy.counts.upstream_errors == 1
    finally:
        server.stop()


def answer_then_close_quietly(sock: socket.socket) -> None:
    """Answer one request with a chunked body, then close without saying so (an idle timeout, say)."""
    if read_request_head(sock):
        sock.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")


def test_a_kept_server_connection_closed_meanwhile_is_opened_again(network_proxy) -> None:
    server = RawUpstream(answer_then_close_quietly)
    try:
        proxy = network_proxy(server.url)
        session = requests.Session()
        for _ in range(3):
            assert session.get(f"{proxy.url}/x", timeout=5).content == b"ok"
            time.sleep(0.05)
        assert server.accepted == 3
        assert proxy.counts.upstream_errors == 0
    finally:
        server.stop()


def answer_until_close(sock: socket.socket) -> None:
    if read_request_head(sock):
        sock.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it")


def test_an_answer_without_length_ends_the_client_connection(network_proxy) -> None:
    server = RawUpstream(answer_until_close)
    try:
        proxy = network_proxy(server.url)
        connection = connect(proxy)
        assert exchange(connection, "GET", "/")[2] == b"all of it"
        assert connection.sock is None or connection.sock.recv(1) == b""
    finally:
        server.stop()


def test_an_unreadable_request_is_answered_400(network_proxy, upstream) -> None:
    proxy = network_proxy(upstream.url)
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
        sock.sendall(b"NONSENSE\r\n\r\n")
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert upstream.paths() == []


def test_it_binds_127_0_0_1_only(network_proxy, upstream) -> None:
    proxy = network_proxy(upstream.url)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.2", proxy.port), timeout=2)


def open_descriptors() -> dict[str, str]:
    found = {}
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the descriptor listdir itself used is gone
            found[name] = os.readlink(f"/proc/self/fd/{name}")
    return found


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts descriptors in /proc")
def test_stop_releases_every_socket_and_thread(upstream) -> None:
    requests.get(f"{upstream.url}/warm", timeout=5).close()
    time.sleep(0.2)  # the echo server's own sockets settle first
    threads, descriptors = set(threading.enumerate()), open_descriptors()
    proxy = NetworkConditionsProxy(upstream.url, faults=FaultPlan(lost=0.3, reset=0.2), seed=1).start()
    sessions = [requests.Session() for _ in range(4)]
    for number in range(40):
        with contextlib.suppress(requests.ConnectionError):
            sessions[number % 4].get(f"{proxy.url}/s{number}", timeout=5)
    with pytest.raises(RuntimeError, match="already running"):
        proxy.start()
    for session in sessions:
        session.close()
    proxy.stop()
    proxy.stop()  # a second stop does nothing
    assert not proxy.running
    time.sleep(0.3)  # the echo server's connection threads end once the proxy has closed its connections
    assert set(threading.enumerate()) - threads == set()
    gc.collect()  # client sockets of failed requests wait in reference cycles (exception, traceback, frame)
    assert set(open_descriptors().values()) - set(descriptors.values()) == set()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", proxy.port), timeout=2)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="plain http:// URL"):
        NetworkConditionsProxy("https://example.com")
    with pytest.raises(ValueError, match="latency must be"):
        NetworkConditionsProxy("http://127.0.0.1:1", latency=-1)
    proxy = NetworkConditionsProxy("http://127.0.0.1:1")
    with pytest.raises(RuntimeError, match="not been started"):
        proxy.url
    with pytest.raises(TypeError, match="must be a FaultPlan"):
        proxy.faults = {"lost": 0.1}  # type: ignore[assignment]
