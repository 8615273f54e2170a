"""Servers to put behind the proxy: a recording echo server, and a raw socket server scripted per connection."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Seen:
    """A request as the server read it."""

    method: str
    path: str
    query: str
    host: str | None
    body: bytes


class _EchoHandler(BaseHTTPRequestHandler):
    server: _EchoServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        length = self.headers.get("Content-Length")
        if "chunked" in (self.headers.get("Transfer-Encoding") or ""):
            body = self._read_chunked()
        else:
            body = self.rfile.read(int(length)) if length else b""
        split = urlsplit(self.path)
        seen = Seen(self.command, split.path, split.query, self.headers.get("Host"), body)
        self.server.record(seen)
        if split.path == "/big":
            self._answer(200, b"x" * int(parse_qs(split.query)["size"][0]), "application/octet-stream")
            return
        echo = {"method": seen.method, "path": seen.path, "query": seen.query, "host": seen.host}
        echo["body"] = body.decode()
        self._answer(201 if self.command == "POST" else 200, json.dumps(echo).encode(), "application/json")

    do_POST = do_PUT = do_DELETE = do_GET

    def _read_chunked(self) -> bytes:
        parts = []
        while size := int(self.rfile.readline().split(b";")[0], 16):
            parts.append(self.rfile.read(size))
            self.rfile.readline()
        while self.rfile.readline() not in (b"\r\n", b""):
            pass
        return b"".join(parts)

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Echo", "yes")
        self.end_headers()
        self.wfile.write(body)

    def version_string(self) -> str:
        return "Echo/1.0"

    def log_message(self, format: str, *args: object) -> None:
        pass


class _EchoServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the standard library's 5 drops connections opened at once (1 s SYN retry)

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _EchoHandler)
        self.seen: list[tuple[float, Seen]] = []
        self._lock = threading.Lock()

    def record(self, seen: Seen) -> None:
        with self._lock:
            self.seen.append((time.monotonic(), seen))


class EchoUpstream:
    """Echoes each request as JSON (``/big?size=N`` answers N bytes) and records when each arrived."""

    def __init__(self) -> None:
        self._server = _EchoServer()
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def handled(self) -> list[tuple[float, Seen]]:
        with self._server._lock:
            return list(self._server.seen)

    def paths(self) -> list[str]:
        return [seen.path for _, seen in self.handled]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


Conversation = Callable[[socket.socket], None]


class RawUpstream:
    """Accepts connections and hands each to ``conversation`` on its own thread; counts connections."""

    def __init__(self, conversation: Conversation) -> None:
        self.conversation = conversation
        self.accepted = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            self.accepted += 1
            thread = threading.Thread(target=self._talk, args=(sock,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _talk(self, sock: socket.socket) -> None:
        with sock, contextlib.suppress(OSError):
            sock.settimeout(5)
            self.conversation(sock)

    def stop(self) -> None:
        self._stopping.set()
        self._accepting.join(5)
        for thread in self._threads:
            thread.join(5)
        self._listener.close()


def read_request_head(sock: socket.socket) -> bytes:
    """Read up to the end of a request head (the tests' requests have no body); ``b""`` at end of stream."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return b""
        data += chunk
    return data


def get(url: str, path: str, *, timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    """One GET on a new connection: status, headers and body."""
    host, port = url.removeprefix("http://").split("/")[0].split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def echo(body: bytes) -> dict[str, str]:
    return json.loads(body)
