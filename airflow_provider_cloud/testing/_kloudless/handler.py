"""HTTP mechanics of the emulator: read the request, log it, inject latency and faults, route, write the reply."""

from __future__ import annotations

import contextlib
import logging
import secrets
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from airflow_provider_cloud.testing._kloudless.backend import KloudlessBackend
from airflow_provider_cloud.testing._kloudless.errors import KloudlessApiError
from airflow_provider_cloud.testing._kloudless.routes import Reply, Request, dispatch, json_reply, raw_headers

logger = logging.getLogger(__name__)

_CHUNK = 64 * 1024
_MASKED = "***"


def _masked_headers(request: Request) -> dict[str, str]:
    """Return the request headers with the Authorization credential masked (the scheme is kept)."""
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        if name.lower() == "authorization":
            scheme, _, credential = value.partition(" ")
            value = f"{scheme} {_MASKED}" if credential else _MASKED
        headers[name] = value
    return headers


class EmulatorHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server whose handler threads are daemons, joined on close."""

    daemon_threads = True
    block_on_close = True

    def __init__(self, address: tuple[str, int], backend: KloudlessBackend) -> None:
        self.backend = backend
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, KloudlessRequestHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Shut down idle keep-alive connections so their handler threads end and can be joined."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class KloudlessRequestHandler(BaseHTTPRequestHandler):
    """Serve one connection (HTTP/1.1 keep-alive)."""

    protocol_version = "HTTP/1.1"
    server_version = "KloudlessEmulator/1.0"
    timeout = 60
    disable_nagle_algorithm = True
    server: EmulatorHTTPServer

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("kloudless emulator: %s", format % args)

    def _serve(self) -> None:
        backend = self.server.backend
        request_id = secrets.token_hex(8)
        try:
            body = self._read_body()
        except ValueError as error:
            self.close_connection = True
            self._write(json_reply(400, KloudlessApiError(400, "bad_request", str(error)).body(request_id)))
            return
        split = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers=self.headers,
            body=body,
        )
        backend.record_request(
            {
                "method": request.method,
                "path": request.path,
                "query": request.query,
                "headers": _masked_headers(request),
                "body_size": len(body),
            }
        )
        latency = backend.latency
        if latency > 0:
            time.sleep(latency)
        with backend.lock:
            try:
                fault = backend.take_fault()
                if fault is not None:
                    raise fault
                raw_headers(request)  # validates X-Kloudless-Raw-Headers on every request
                reply = dispatch(backend, request)
            except KloudlessApiError as error:
                reply = json_reply(error.status, error.body(request_id))
                reply.headers.update(error.headers)
            except Exception:
                logger.exception("kloudless emulator: %s %s failed", request.method, request.path)
                failure = KloudlessApiError(500, "internal_error", "The emulator failed on this request.")
                reply = json_reply(500, failure.body(request_id))
        self._write(reply)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        length_text = self.headers.get("Content-Length")
        if not length_text:
            return b""
        try:
            length = int(length_text)
        except ValueError:
            raise ValueError(f"Invalid Content-Length {length_text!r}.") from None
        if length < 0:
            raise ValueError(f"Invalid Content-Length {length_text!r}.")
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size_line = self.rfile.readline(1024)
            try:
                size = int(size_line.split(b";")[0].strip(), 16)
            except ValueError:
                raise ValueError("Invalid chunked request body.") from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _write(self, reply: Reply) -> None:
        try:
            self.send_response(reply.status)
            if reply.content_type is not None:
                self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            view = memoryview(reply.body)
            for start in range(0, len(view), _CHUNK):
                self.wfile.write(view[start : start + _CHUNK])
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
