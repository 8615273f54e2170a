"""The shared emulator HTTP server, with a stand-in app: bodies, limits, keep-alive, latency, stop."""

from __future__ import annotations

import http.client
import json
import select
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_cloud.testing._emulator.errors import EmulatorError
from airflow_provider_cloud.testing._emulator.messages import Reply, Request, json_reply
from airflow_provider_cloud.testing._emulator.server import EmulatorHTTPServer, ServerThread, loopback

pytestmark = pytest.mark.integration


class EchoApp:
    """Answers every request with what it read; body errors as ``{"oops": message}``."""

    def __init__(self) -> None:
        self.handled: list[tuple[float, Request]] = []

    def handle(self, request: Request) -> Reply:
        self.handled.append((time.monotonic(), request))
        echo = {
            "method": request.method,
            "path": request.path,
            "query": request.query,
            "header": request.header("x-test"),
            "body": request.body.decode(),
        }
        return json_reply(201, echo, {"X-Echo": "yes"})

    def error_reply(self, error: EmulatorError) -> Reply:
        return json_reply(error.status, {"oops": error.message}, error.headers)


class Served:
    def __init__(self, *, max_body: int | None = None) -> None:
        self.app = EchoApp()
        self.latency = 0.0
        self.thread = ServerThread(
            self.app,
            name="test emulator",
            version="TestEmulator/1.0",
            latency=lambda: self.latency,
            max_body=max_body,
        )
        self.thread.start("127.0.0.1", 0)

    @property
    def port(self) -> int:
        assert self.thread.port is not None
        return self.thread.port

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)

    def raw(self, data: bytes) -> bytes:
        """Send raw bytes on a new connection; return everything the server sends until it closes."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            sock.sendall(data)
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks)


@pytest.fixture
def served() -> Iterator[Served]:
    server = Served(max_body=64)
    yield server
    server.thread.stop()


def read(response: http.client.HTTPResponse) -> dict[str, Any]:
    return json.loads(response.read())


def test_request_and_reply_cross_the_wire(served: Served) -> None:
    connection = served.connection()
    connection.request("PATCH", "/a%20b/c?x=1&x=2&empty=", body=b"hello", headers={"X-Test": "t"})
    response = connection.getresponse()
    assert (response.status, response.getheader("X-Echo"), response.getheader("Server")) == (
        201,
        "yes",
        "TestEmulator/1.0",
    )
    assert response.getheader("Content-Type") == "application/json"
    assert read(response) == {
        "method": "PATCH",
        "path": "/a%20b/c",  # not decoded: the routes decode what they match
        "query": {"x": ["1", "2"], "empty": [""]},
        "header": "t",
        "body": "hello",
    }


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_every_method_reaches_the_app(served: Served, method: str) -> None:
    connection = served.connection()
    connection.request(method, "/")
    assert read(connection.getresponse())["method"] == method


def test_connections_are_kept_alive(served: Served) -> None:
    connection = served.connection()
    connection.request("GET", "/one")
    read(connection.getresponse())
    sock = connection.sock
    connection.request("GET", "/two")
    read(connection.getresponse())
    assert connection.sock is sock
    assert [request.path for _, request in served.app.handled] == ["/one", "/two"]


def test_chunked_bodies_are_joined(served: Served) -> None:
    connection = served.connection()
    connection.request("POST", "/", body=iter([b"ab", b"cd", b"ef"]), encode_chunked=True)
    assert read(connection.getresponse())["body"] == "abcdef"


@pytest.mark.parametrize(
    ("head", "status", "message"),
    [
        pytest.param(
            b"Content-Length: abc\r\n\r\n", 400, "Content-Length is not a number", id="not-a-number"
        ),
        pytest.param(b"Content-Length: -1\r\n\r\n", 400, "Content-Length is negative", id="negative"),
        pytest.param(b"Content-Length: 65\r\n\r\n", 413, "The request body is too large", id="too-large"),
        pytest.param(
            b"Transfer-Encoding: chunked\r\n\r\nzz\r\n", 400, "Malformed chunked body", id="bad-chunk"
        ),
        pytest.param(
            b"Transfer-Encoding: chunked\r\n\r\n41\r\n" + b"x" * 65 + b"\r\n0\r\n\r\n",
            413,
            "The request body is too large",
            id="chunks-too-large",
        ),
    ],
)
def test_unreadable_bodies_are_answered_by_the_app_and_close_the_connection(
    served: Served, head: bytes, status: int, message: str
) -> None:
    answer = served.raw(b"POST / HTTP/1.1\r\nHost: x\r\n" + head)  # returns only once the server closes
    status_line, _, rest = answer.partition(b"\r\n")
    headers, _, body = rest.partition(b"\r\n\r\n")
    assert status_line.split()[1] == str(status).encode()
    assert b"Connection: close" in headers
    assert json.loads(body) == {"oops": message}
    assert served.app.handled == []


def test_latency_delays_the_reply_not_the_handling(served: Served) -> None:
    served.latency = 0.4
    connection = served.connection()
    sent = time.monotonic()
    connection.request("POST", "/write", body=b"x")
    read(connection.getresponse())
    answered = time.monotonic()
    ((handled, _),) = served.app.handled
    assert handled - sent < 0.3
    assert answered - sent >= 0.4


def test_stop_shuts_idle_keep_alive_connections_at_once() -> None:
    before = set(threading.enumerate())
    server = Served()
    connection = server.connection()
    connection.request("GET", "/")
    read(connection.getresponse())  # the connection stays open; its handler waits for a next request
    started = time.monotonic()
    server.thread.stop()
    assert time.monotonic() - started < 5  # not the 30 s idle timeout
    assert not server.thread.running
    assert server.thread.port is None
    assert connection.sock is not None
    assert connection.sock.recv(1) == b""  # the server closed the connection
    assert [thread for thread in threading.enumerate() if thread not in before] == []  # all joined
    server.thread.stop()  # a second stop does nothing


def test_start_twice_is_refused(served: Served) -> None:
    with pytest.raises(RuntimeError, match="the test emulator is already running"):
        served.thread.start("127.0.0.1", 0)


@pytest.mark.parametrize(
    ("host", "bound"), [("localhost", "127.0.0.1"), ("127.0.0.1", "127.0.0.1"), ("127.0.0.2", "127.0.0.2")]
)
def test_loopback_addresses_are_accepted(host: str, bound: str) -> None:
    assert loopback(host) == bound


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "::1", "example.com"])
def test_other_addresses_are_refused(host: str) -> None:
    with pytest.raises(ValueError, match="loopback IPv4 address only"):
        loopback(host)


def test_a_burst_of_connections_is_queued_not_dropped_while_the_server_is_busy():
    # The server is made but not yet accepting (as when all its threads are busy): the kernel completes the
    # handshakes of as many connections as the listen backlog holds and drops the rest, whose clients retry a
    # second later. socketserver's backlog of 5 dropped a window of 16 connections.
    server = EmulatorHTTPServer(
        ("127.0.0.1", 0), EchoApp(), version="Test/1", latency=lambda: 0.0, max_body=None, idle_timeout=5.0
    )
    clients = []
    try:
        for _ in range(16):
            client = socket.socket()
            client.setblocking(False)
            client.connect_ex(server.server_address)
            clients.append(client)
        deadline = time.monotonic() + 2.0
        pending = list(clients)
        while pending and time.monotonic() < deadline:
            _, writable, _ = select.select([], pending, [], 0.1)
            pending = [c for c in pending if c not in writable]
        connected = [
            c for c in clients if c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0 and c not in pending
        ]
        assert len(connected) == 16
    finally:
        for client in clients:
            client.close()
        server.server_close()
