"""Serve an emulator's ``socketserver`` server on a daemon thread, and stop it: shared by every emulator."""

from __future__ import annotations

import socketserver
import threading

START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0


def serve_in_thread(
    server: socketserver.BaseServer, *, name: str, poll_interval: float = 0.01
) -> threading.Thread:
    """Start ``server.serve_forever`` on a daemon thread and return once it is serving."""
    ready = threading.Event()

    def serve() -> None:
        ready.set()
        server.serve_forever(poll_interval=poll_interval)  # the poll interval is how fast stop returns

    thread = threading.Thread(target=serve, name=name, daemon=True)
    thread.start()
    if not ready.wait(START_TIMEOUT):
        server.server_close()
        raise RuntimeError(f"{name} did not start")
    return thread


def stop_serving(server: socketserver.BaseServer, thread: threading.Thread | None) -> None:
    """Stop serving, close open connections (where the server tracks them), the socket, and join."""
    server.shutdown()
    close_connections = getattr(server, "close_connections", None)
    if close_connections is not None:
        close_connections()
    server.server_close()
    if thread is not None:
        thread.join(STOP_TIMEOUT)
