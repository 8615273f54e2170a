"""The HTTP layer of the CloudTables emulator: a threading HTTP/1.1 server that hands requests to the app."""

from __future__ import annotations

import logging
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from airflow_provider_cloud.testing._cloudtables.app import CloudTablesApp, Response

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024 * 1024
_MAX_TRAILER_LINES = 100


class _BodyError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class EmulatorHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server whose handler threads are daemons; ``app`` answers every request."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], app: CloudTablesApp) -> None:
        super().__init__(address, _Handler)
        self.app = app

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log a broken connection at debug level instead of printing a traceback to stderr."""
        log.debug("CloudTables emulator: connection from %s failed: %s", client_address, sys.exc_info()[1])


class _Handler(BaseHTTPRequestHandler):
    server: EmulatorHTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "CloudTablesEmulator/1.0"
    timeout = 30  # seconds an idle keep-alive connection is kept
    # Headers and body leave in two writes: with Nagle's algorithm on, the body waits for the client's
    # delayed ACK of the headers, about 40 ms per response on Linux.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_OPTIONS(self) -> None:
        self._serve()

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except _BodyError as exc:
            self.close_connection = True
            self._send(Response(exc.status, b'{"error": "%s"}' % exc.message.encode()))
            return
        self._send(self.server.app.handle(self.command, self.path, dict(self.headers.items()), body))

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length_header = self.headers.get("Content-Length")
        if not length_header:
            return b""
        try:
            length = int(length_header)
        except ValueError:
            raise _BodyError(400, "Content-Length is not a number") from None
        if length < 0:
            raise _BodyError(400, "Content-Length is negative")
        if length > MAX_BODY_BYTES:
            raise _BodyError(413, "The request body is too large")
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(65537)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise _BodyError(400, "Malformed chunked body") from None
            if size == 0:
                break
            total += size
            if total > MAX_BODY_BYTES:
                raise _BodyError(413, "The request body is too large")
            chunks.append(self.rfile.read(size))
            self.rfile.readline(65537)
        for _ in range(_MAX_TRAILER_LINES):
            if self.rfile.readline(65537) in (b"\r\n", b"\n", b""):
                break
        return b"".join(chunks)

    def _send(self, response: Response) -> None:
        latency = self.server.app.controls.latency
        if latency:
            time.sleep(latency)
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("CloudTables emulator %s: %s", self.address_string(), format % args)
