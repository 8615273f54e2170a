"""
One threading HTTP/1.1 server for both emulators, served on a daemon thread.

Decisions: connections are kept alive, with Nagle's algorithm off (headers and body leave in two writes, and
with Nagle the body waits for the client's delayed ACK, about 40 ms a reply on Linux). Open connections are
tracked so that :meth:`ServerThread.stop` shuts idle keep-alive connections and joins every handler thread at
once. Latency delays the reply, not the handling: a client that gives up has lost the answer to a request that
did happen, the case the hooks reconcile. A body that cannot be read closes the connection, answered in the
service's error shape.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import urlsplit

from airflow_provider_cloud.testing._emulator.errors import EmulatorError
from airflow_provider_cloud.testing._emulator.messages import Reply, Request

log = logging.getLogger(__name__)

START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
_POLL_INTERVAL = 0.01  # how fast stop() returns
_LINE_LIMIT = 65537
_MAX_TRAILER_LINES = 100
_WRITE_CHUNK = 64 * 1024


class App(Protocol):
    """An emulator's routes, as the server calls them."""

    def handle(self, request: Request) -> Reply:
        """Answer one request."""
        ...

    def error_reply(self, error: EmulatorError) -> Reply:
        """Answer a request whose body could not be read (400, 413)."""
        ...


def loopback(host: str) -> str:
    """Return ``host`` if it is an IPv4 loopback address (``localhost`` means 127.0.0.1), else refuse it."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"the emulator binds a loopback IPv4 address only, not {host!r}") from None
    if address.version != 4 or not address.is_loopback:
        raise ValueError(f"the emulator binds a loopback IPv4 address only, not {host!r}")
    return host


class EmulatorHTTPServer(ThreadingHTTPServer):
    """
    A threading HTTP server that hands every request to ``app``.

    Each connection has a daemon thread (a forgotten emulator never holds up the interpreter's exit), so the
    server tracks them itself to shut and join them: ``socketserver`` joins only non-daemon threads. The listen
    backlog is 128, not ``socketserver``'s 5: a client opening a window of connections at once would otherwise
    see some dropped and retried a second later.
    """

    daemon_threads = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        app: App,
        *,
        version: str,
        latency: Callable[[], float],
        max_body: int | None,
        idle_timeout: float,
    ) -> None:
        self.app = app
        self.version = version
        self.latency = latency
        self.max_body = max_body
        self.idle_timeout = idle_timeout
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name=f"{self.version} connection",
        )
        thread.daemon = True
        with self._connections_lock:
            self._connections[request] = thread
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.pop(request, None)
        super().shutdown_request(request)

    def close_connections(self, timeout: float) -> None:
        """Shut down open connections (idle keep-alive ones included) and join their threads."""
        with self._connections_lock:
            connections = list(self._connections.items())
        for connection, _ in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        for _, thread in connections:
            thread.join(max(0.0, deadline - time.monotonic()))

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log a broken connection at debug level instead of printing a traceback to stderr."""
        log.debug("%s: connection from %s failed: %s", self.version, client_address, sys.exc_info()[1])


class _Handler(BaseHTTPRequestHandler):
    server: EmulatorHTTPServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.idle_timeout)  # how long an idle keep-alive connection is kept

    def version_string(self) -> str:
        return self.server.version

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s: %s", self.server.version, self.address_string(), format % args)

    def _serve(self) -> None:
        app = self.server.app
        try:
            body = self._read_body()
        except EmulatorError as error:
            self.close_connection = True
            self._write(app.error_reply(error))
            return
        split = urlsplit(self.path)
        self._write(app.handle(Request(self.command, split.path, split.query, self.headers, body)))

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        length_text = self.headers.get("Content-Length")
        if not length_text:
            return b""
        try:
            length = int(length_text)
        except ValueError:
            raise EmulatorError(400, "Content-Length is not a number") from None
        if length < 0:
            raise EmulatorError(400, "Content-Length is negative")
        self._check_size(length)
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(_LINE_LIMIT)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise EmulatorError(400, "Malformed chunked body") from None
            if size == 0:
                break
            total += size
            self._check_size(total)
            chunks.append(self.rfile.read(size))
            self.rfile.readline(_LINE_LIMIT)
        for _ in range(_MAX_TRAILER_LINES):
            if self.rfile.readline(_LINE_LIMIT) in (b"\r\n", b"\n", b""):
                break
        return b"".join(chunks)

    def _check_size(self, size: int) -> None:
        if self.server.max_body is not None and size > self.server.max_body:
            raise EmulatorError(413, "The request body is too large")

    def _write(self, reply: Reply) -> None:
        latency = self.server.latency()
        if latency > 0:
            time.sleep(latency)
        try:
            self.send_response(reply.status)
            if reply.content_type is not None:
                self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            view = memoryview(reply.body)
            for start in range(0, len(view), _WRITE_CHUNK):
                self.wfile.write(view[start : start + _WRITE_CHUNK])
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class ServerThread:
    """An :class:`EmulatorHTTPServer` on a daemon thread; ``name`` names the thread and the errors."""

    def __init__(
        self,
        app: App,
        *,
        name: str,
        version: str,
        latency: Callable[[], float],
        max_body: int | None = None,
        idle_timeout: float = 30.0,
    ) -> None:
        self._name = name
        self._bind = functools.partial(
            EmulatorHTTPServer,
            app=app,
            version=version,
            latency=latency,
            max_body=max_body,
            idle_timeout=idle_timeout,
        )
        self._server: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int | None:
        """Return the bound port, ``None`` when not running."""
        return None if self._server is None else int(self._server.server_address[1])

    def start(self, host: str, port: int) -> None:
        """Bind ``host:port`` (0: a free port), serve on a daemon thread, and return once it is serving."""
        if self._server is not None:
            raise RuntimeError(f"the {self._name} is already running")
        server = self._bind((host, port))
        ready = threading.Event()

        def serve() -> None:
            ready.set()
            server.serve_forever(poll_interval=_POLL_INTERVAL)

        thread = threading.Thread(target=serve, name=f"{self._name}-{server.server_address[1]}", daemon=True)
        thread.start()
        if not ready.wait(START_TIMEOUT):
            server.server_close()
            raise RuntimeError(f"the {self._name} did not start")
        self._server, self._thread = server, thread

    def stop(self) -> None:
        """Stop serving, shut open connections, close the socket and join the threads; no-op when stopped."""
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.close_connections(STOP_TIMEOUT)
        server.server_close()
        if thread is not None:
            thread.join(STOP_TIMEOUT)
        self._server = self._thread = None
