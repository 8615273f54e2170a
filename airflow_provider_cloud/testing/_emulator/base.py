"""
The base of both public emulator classes: the life cycle on a daemon thread, and the fault knobs.

Decision: one base, subclassed once per service (as the hooks subclass ``CloudApiHook``). The service's class
builds its routes around the :class:`Faults` it hands in, and adds what differs: its data helpers,
``fail_next`` and ``rate_limit_next`` (the error shapes differ), ``requests_seen`` and ``reset``.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from airflow_provider_cloud.testing._emulator.faults import Faults
from airflow_provider_cloud.testing._emulator.server import App, ServerThread, loopback


class Emulator:
    """Serve ``app`` on a loopback address in a daemon thread; a context manager."""

    def __init__(
        self,
        app: App,
        faults: Faults,
        *,
        host: str,
        port: int,
        name: str,
        version: str,
        max_body: int | None = None,
        idle_timeout: float = 30.0,
    ) -> None:
        self._host = loopback(host)
        self._requested_port = port
        self._name = name
        self._faults = faults
        self._server = ServerThread(
            app,
            name=name,
            version=version,
            latency=lambda: faults.latency,
            max_body=max_body,
            idle_timeout=idle_timeout,
        )

    # ----------------------------------------------------------------- life cycle

    def start(self) -> Self:
        """Bind the port, serve in a daemon thread, and return once it is serving."""
        self._server.start(self._host, self._requested_port)
        return self

    def stop(self) -> None:
        """Stop serving, shut open connections, close the socket and join the threads; no-op when stopped."""
        self._server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Return whether the server is serving."""
        return self._server.running

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        """Return the bound port (a requested non-zero port is known before the start)."""
        port = self._server.port
        if port is not None:
            return port
        if self._requested_port == 0:
            raise RuntimeError(
                f"the {self._name} has no port until it is started: call start() or use it as a context manager"
            )
        return self._requested_port

    @property
    def url(self) -> str:
        """Return the base URL, e.g. ``http://127.0.0.1:8123``."""
        return f"http://{self._host}:{self.port}"

    # ----------------------------------------------------------------- fault knobs

    def clear_faults(self) -> None:
        """Drop failures injected but not yet answered."""
        self._faults.clear()

    @property
    def pending_failures(self) -> int:
        """Return how many injected failures are still to be answered."""
        return self._faults.pending

    @property
    def latency(self) -> float:
        """Return the seconds added before every reply is written (the request itself is handled at once)."""
        return self._faults.latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        self._faults.latency = seconds
