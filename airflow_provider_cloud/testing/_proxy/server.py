"""
The proxy's server: an asyncio loop on one daemon thread, one task per client connection.

Why asyncio: the added latency is a sleep per request, and a window of requests in flight means as many
connections sleeping at once; on a loop that costs a timer each, not a thread each, and one thread serves
any number of connections. Measured on this machine (2 cores, client in the same process): see the README.

Each client connection gets its own connection to the server, opened at its first forwarded request and
kept while both sides keep alive, so the server sees the client's concurrency as it is. A kept server
connection found closed is reopened; one that closes without a byte of answer when reused (the server's
idle timeout racing the request) is reopened and the request sent once more, as browsers do.

Answers the proxy gives itself: 429 and 503 faults (connection kept alive); 400 for a request it cannot
read and 502 when the server cannot be reached (connection closed after). A server that drops a request it
received is passed on as a dropped connection: it may have acted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
import threading
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_cloud.testing._proxy.counts import Tally
from airflow_provider_cloud.testing._proxy.faults import Decider, Fault, RequestInfo, retry_after_text
from airflow_provider_cloud.testing._proxy.http import (
    MAX_HEAD,
    ProtocolError,
    Request,
    Response,
    plain_response,
    read_request,
    read_response,
)
from airflow_provider_cloud.testing._proxy.link import Conditions, Direction, delay, send

log = logging.getLogger("airflow_provider_cloud.testing.proxy")

HOST = "127.0.0.1"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_HOP_BY_HOP_EXPECT = frozenset({"expect"})


class UpstreamUnreachable(OSError):
    """No connection to the server: it cannot have seen the request (answered 502)."""


class UpstreamDropped(ConnectionError):
    """The server took the request and closed without an answer: it may have acted (the client hears nothing)."""


class _Upstream:
    """The server connection of one client connection."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    def _usable(self) -> bool:
        return not (
            self.reader is None or self.writer is None or self.reader.at_eof() or self.writer.is_closing()
        )

    async def _connect(self) -> None:
        self.close()
        try:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port, limit=MAX_HEAD)
        except OSError as exc:
            raise UpstreamUnreachable(f"cannot connect to {self.host}:{self.port}: {exc}") from None

    async def exchange(
        self, request: Request, wire: bytes, up: Direction, bandwidth: float | None
    ) -> Response:
        """Send a request and return the server's answer; raise ``UpstreamUnreachable`` or ``UpstreamDropped``."""
        reused = self._usable()
        if not reused:
            await self._connect()
        try:
            response = await self._round_trip(request, wire, up, bandwidth)
        except ProtocolError as exc:  # part of an answer: the server acted
            self.close()
            raise UpstreamDropped(f"the server's answer was cut short: {exc}") from None
        except ConnectionError as exc:
            if not reused:
                self.close()
                raise UpstreamDropped(f"the server dropped the request: {exc}") from None
            response = None
        if response is None and reused:  # a kept connection closed under us: once more on a fresh one
            await self._connect()
            try:
                response = await self._round_trip(request, wire, up, bandwidth)
            except (ConnectionError, ProtocolError) as exc:
                self.close()
                raise UpstreamDropped(f"the server dropped the request: {exc}") from None
        if response is None:
            self.close()
            raise UpstreamDropped("the server closed the connection without an answer")
        if not (response.keep_alive() and request.keep_alive()):
            self.close()
        return response

    async def _round_trip(
        self, request: Request, wire: bytes, up: Direction, bandwidth: float | None
    ) -> Response | None:
        reader, writer = self.reader, self.writer
        if reader is None or writer is None:
            raise ConnectionError("not connected")
        await send(writer, wire, up, bandwidth)
        return await read_response(reader, request.method)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def aclose(self) -> None:
        writer = self.writer
        self.close()
        await _closed(writer)


class ProxyServer:
    """Forward requests to ``host:port`` and act on each by ``decider`` under ``conditions()``."""

    def __init__(
        self,
        upstream: tuple[str, int],
        decider: Decider,
        tally: Tally,
        conditions: Callable[[], Conditions],
    ) -> None:
        self.upstream = upstream
        self.decider = decider
        self.tally = tally
        self.conditions = conditions
        self.up, self.down = Direction(), Direction()
        self.name = "NetworkConditionsProxy"
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, port: int) -> int:
        self._server = await asyncio.start_server(self._accept, HOST, port, limit=MAX_HEAD)
        bound = int(self._server.sockets[0].getsockname()[1])
        self.name = f"NetworkConditionsProxy {HOST}:{bound}"
        return bound

    async def close(self) -> None:
        """Stop accepting, cancel every connection (stalled ones included) and wait for them."""
        if self._server is not None:
            self._server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        upstream = _Upstream(*self.upstream)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while await self._exchange(reader, writer, upstream):
                pass
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            log.debug("%s: client connection ended: %s", self.name, exc)
        except asyncio.CancelledError:
            pass  # the proxy is stopping; ending normally spares Python 3.11's streams a spurious error log
        except Exception:
            log.exception("%s: connection failed", self.name)
        finally:
            writer.close()
            await upstream.aclose()
            await _closed(writer)
            self._tasks.discard(task)

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, upstream: _Upstream
    ) -> bool:
        """Serve one request; return whether the client connection stays open for another."""

        async def go_on() -> None:
            writer.write(_CONTINUE)
            await writer.drain()

        try:
            request = await read_request(reader, go_on)
        except ProtocolError as exc:
            log.warning("%s: unreadable request: %s", self.name, exc)
            await self._answer(
                writer, plain_response(400, "Bad Request", f"{exc}\n", {"Connection": "close"})
            )
            return False
        if request is None:
            return False
        number = self.tally.add("seen")
        split = urlsplit(request.target)
        info = RequestInfo(request.method, split.path, split.query, tuple(request.head.headers), request.body)
        conditions = self.conditions()
        fault, rng = self.decider.decide(info, draw=conditions.jitter > 0)
        one_way = conditions.one_way(rng)
        await delay(one_way)
        if fault is not None:
            self.tally.fault(number, fault, request.method, request.target)
            log.info(
                "%s: %s for request %d, %s %s", self.name, fault.value, number, request.method, split.path
            )
        plan = self.decider.plan
        if fault is Fault.RESET:
            _reset(writer)
            return False
        if fault in (Fault.TOO_MANY_REQUESTS, Fault.UNAVAILABLE):
            await delay(one_way)
            await self._answer(writer, _fault_answer(fault, plan.retry_after, plan.unavailable_retry_after))
            return request.keep_alive()
        wire = request.head.raw(without=_HOP_BY_HOP_EXPECT) + request.framed
        try:
            response = await upstream.exchange(request, wire, self.up, conditions.bandwidth)
        except UpstreamDropped as exc:
            self.tally.add("upstream_errors")
            log.warning("%s: %s %s: %s", self.name, request.method, split.path, exc)
            return False  # the server may have acted: the client hears nothing, as it would from the server
        except UpstreamUnreachable as exc:
            self.tally.add("upstream_errors")
            log.warning("%s: %s %s: %s", self.name, request.method, split.path, exc)
            await self._answer(writer, _bad_gateway(exc))
            return False
        self.tally.add("forwarded")
        if fault is Fault.LOST:
            return False
        if fault is Fault.STALL:
            while await reader.read(64 * 1024):  # silent until the client gives up (or the proxy stops)
                pass
            return False
        if fault is Fault.SLOW:
            await delay(plan.slow_seconds)
        await delay(one_way)
        self.tally.add("delivered")  # before the client can see it, so its counts are up to date
        try:
            await send(writer, response.wire, self.down, conditions.bandwidth)
        except ConnectionError:
            self.tally.add("delivered", -1)
            raise
        return request.keep_alive() and response.keep_alive()

    async def _answer(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        await send(writer, data, self.down, self.conditions().bandwidth)


async def _closed(writer: asyncio.StreamWriter | None) -> None:
    """Wait until a closed connection's socket is released (so that a stopped proxy holds none)."""
    if writer is not None:
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(writer.wait_closed(), 1.0)


def _fault_answer(fault: Fault, retry_after: float | None, unavailable_retry_after: float | None) -> bytes:
    if fault is Fault.TOO_MANY_REQUESTS:
        headers = {} if retry_after is None else {"Retry-After": retry_after_text(retry_after)}
        return plain_response(
            429, "Too Many Requests", "Too many requests (injected by the proxy)\n", headers
        )
    headers = (
        {} if unavailable_retry_after is None else {"Retry-After": retry_after_text(unavailable_retry_after)}
    )
    return plain_response(
        503, "Service Unavailable", "Service unavailable (injected by the proxy)\n", headers
    )


def _bad_gateway(exc: OSError) -> bytes:
    text = f"The proxy could not reach the server: {exc}\n"
    return plain_response(502, "Bad Gateway", text, {"Connection": "close"})


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close the connection with a TCP reset (RST), not an orderly close."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class LoopThread:
    """An asyncio event loop on a daemon thread; coroutines are run on it from other threads."""

    def __init__(self, name: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._started = threading.Event()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.call_soon(self._started.set)
        self._loop.run_forever()

    def start(self) -> None:
        self._thread.start()
        if not self._started.wait(START_TIMEOUT):
            raise RuntimeError("the proxy's event loop did not start")

    def run(self, coroutine: Coroutine[Any, Any, Any], timeout: float = STOP_TIMEOUT) -> Any:
        """Run a coroutine on the loop and return its result (its exception is raised here)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def stop(self) -> None:
        """Stop the loop, join the thread and close the loop."""
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(STOP_TIMEOUT)
        if not self._loop.is_closed() and not self._loop.is_running():
            self._loop.close()
