"""
A network-conditions proxy: put latency, a bandwidth cap and seeded faults between a client and its server.

Example::

    from airflow_provider_cloud.testing.proxy import FaultPlan, NetworkConditionsProxy

    plan = FaultPlan(too_many_requests=0.05, unavailable=0.05, reset=0.03, lost=0.03, retry_after=0.1)
    with NetworkConditionsProxy(server.url, latency=0.05, faults=plan, seed=1) as proxy:
        ...  # point the connection's host at proxy.url
        print(proxy.counts)  # requests seen, forwarded, delivered, faulted by kind

It is a real HTTP/1.1 reverse proxy on 127.0.0.1 (port 0 by default: a free one), served by an asyncio loop
on a daemon thread; use it as a context manager, or call :meth:`~NetworkConditionsProxy.start` and
:meth:`~NetworkConditionsProxy.stop`. :attr:`~NetworkConditionsProxy.url` is the upstream URL with the
proxy's address, path kept, so it replaces the server's URL anywhere. Requests go upstream unchanged
(``Host`` included, so servers that build absolute URLs, like Datasette's ``next_url``, point back through
the proxy). Plain ``http://`` upstreams only.

Per request, in order: a scripted outcome (:meth:`~NetworkConditionsProxy.script`), else the plan's rates
(:class:`FaultPlan`, reproducible by ``seed`` whatever order requests arrive in: see ``_proxy/faults.py``).
The faults are listed in :class:`Fault`. Latency is per round trip, half on the way in and half on the way
out (``_proxy/link.py``); ``bandwidth`` caps bytes per second in each direction, shared by all connections.
Everything can be changed while the proxy runs (:attr:`~NetworkConditionsProxy.faults`, ``latency``,
``jitter``, ``bandwidth``). Faults are logged at INFO on ``airflow_provider_cloud.testing.proxy``.

Limits: messages are held whole (store and forward) before they go on, which suits API calls, not streams
that never end; a request is not forwarded before all of it has arrived; HTTP/1.1 only (no upgrade, no
HTTP/2, no TLS); the proxy shares the process, and its GIL, with the client under test. This module uses the
standard library only and imports nothing from Airflow.
"""

from __future__ import annotations

from types import TracebackType
from urllib.parse import urlsplit

from airflow_provider_cloud.testing._proxy.counts import FaultRecord, ProxyCounts, Tally
from airflow_provider_cloud.testing._proxy.faults import (
    Decider,
    Fault,
    FaultPlan,
    Predicate,
    RequestInfo,
    matching,
)
from airflow_provider_cloud.testing._proxy.link import Conditions
from airflow_provider_cloud.testing._proxy.server import HOST, LoopThread, ProxyServer

__all__ = [
    "Fault",
    "FaultPlan",
    "FaultRecord",
    "NetworkConditionsProxy",
    "ProxyCounts",
    "RequestInfo",
    "matching",
]


class NetworkConditionsProxy:
    """
    A reverse proxy on 127.0.0.1 that adds latency, caps bandwidth and injects faults, reproducibly.

    :param upstream_url: the server's base URL (``http://host:port[/path]``).
    :param latency: seconds added to each round trip (half each way).
    :param jitter: up to this many more seconds per round trip (uniform, from the request's seeded draw).
    :param bandwidth: bytes per second in each direction, shared by all connections (``None``: no cap).
    :param faults: the chances of each fault (default: none).
    :param seed: the seed of every decision (faults and jitter).
    :param port: the port to bind on 127.0.0.1 (0: a free one).
    """

    def __init__(
        self,
        upstream_url: str,
        *,
        latency: float = 0.0,
        jitter: float = 0.0,
        bandwidth: float | None = None,
        faults: FaultPlan | None = None,
        seed: int = 0,
        port: int = 0,
    ) -> None:
        parts = urlsplit(upstream_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"the proxy forwards to a plain http:// URL, not {upstream_url!r}")
        if not 0 <= port <= 65535:
            raise ValueError(f"not a port: {port}")
        self.upstream_url = upstream_url
        self._upstream = (parts.hostname, parts.port or 80)
        self._path = parts.path.rstrip("/")
        self._conditions = Conditions(latency, jitter, bandwidth)
        self._decider = Decider(faults or FaultPlan(), seed)
        self._tally = Tally()
        self._requested_port = port
        self._port: int | None = None
        self._loop: LoopThread | None = None
        self._server: ProxyServer | None = None

    # -- life cycle ---------------------------------------------------------------------------------

    def start(self) -> NetworkConditionsProxy:
        """Bind 127.0.0.1, serve from a daemon thread, and return once it accepts connections."""
        if self._loop is not None:
            raise RuntimeError("the proxy is already running")
        loop = LoopThread(name="network-conditions-proxy")
        server = ProxyServer(self._upstream, self._decider, self._tally, lambda: self._conditions)
        loop.start()
        try:
            self._port = loop.run(server.start(self._requested_port))
        except BaseException:
            loop.stop()
            raise
        self._loop, self._server = loop, server
        return self

    def stop(self) -> None:
        """Close every connection (stalled ones included) and the listening socket; join the thread."""
        loop, server = self._loop, self._server
        if loop is None or server is None:
            return
        try:
            loop.run(server.close())
        finally:
            loop.stop()
            self._loop = self._server = None

    def __enter__(self) -> NetworkConditionsProxy:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._loop is not None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the proxy has not been started")
        return self._port

    @property
    def url(self) -> str:
        """The upstream URL with the proxy's address: ``http://127.0.0.1:PORT[/path]``."""
        return f"http://{HOST}:{self.port}{self._path}"

    def __repr__(self) -> str:
        where = f"{HOST}:{self._port}" if self._port else "not started"
        return f"<NetworkConditionsProxy {where} -> {self.upstream_url}>"

    # -- conditions ---------------------------------------------------------------------------------

    @property
    def faults(self) -> FaultPlan:
        return self._decider.plan

    @faults.setter
    def faults(self, plan: FaultPlan) -> None:
        if not isinstance(plan, FaultPlan):
            raise TypeError(f"faults must be a FaultPlan, not {type(plan).__name__}")
        self._decider.plan = plan

    @property
    def latency(self) -> float:
        return self._conditions.latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        c = self._conditions
        self._conditions = Conditions(seconds, c.jitter, c.bandwidth)

    @property
    def jitter(self) -> float:
        return self._conditions.jitter

    @jitter.setter
    def jitter(self, seconds: float) -> None:
        c = self._conditions
        self._conditions = Conditions(c.latency, seconds, c.bandwidth)

    @property
    def bandwidth(self) -> float | None:
        return self._conditions.bandwidth

    @bandwidth.setter
    def bandwidth(self, bytes_per_second: float | None) -> None:
        c = self._conditions
        self._conditions = Conditions(c.latency, c.jitter, bytes_per_second)

    def script(self, *outcomes: Fault | str | None, only: Predicate | None = None) -> None:
        """
        Queue exact outcomes for the next requests ``only`` accepts (all by default); ``None``: no fault.

        ``proxy.script(Fault.LOST, only=matching("POST", r"/-/create$"))`` loses the answer to the next
        table creation and nothing else. Calls add up; the script is used before the plan's rates.
        """
        self._decider.script(outcomes, only)

    @property
    def pending_script(self) -> int:
        """Scripted outcomes not used yet."""
        return self._decider.pending

    def clear_script(self) -> None:
        self._decider.clear_script()

    # -- what happened ------------------------------------------------------------------------------

    @property
    def counts(self) -> ProxyCounts:
        """A snapshot of the counters: requests seen, forwarded, delivered, faulted by kind."""
        return self._tally.snapshot()

    @property
    def faulted_requests(self) -> list[FaultRecord]:
        """The faulted requests, oldest first (the last 10,000)."""
        return self._tally.records()

    def reset_counts(self) -> None:
        self._tally.reset()
