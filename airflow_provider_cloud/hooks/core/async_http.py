"""
The async path of the HTTP core (triggers): one ``httpx.AsyncClient`` per event loop, shared by its hooks.

Only the transport differs from the sync path. An attempt sends with httpx instead of requests, then hands
the answer on as a ``requests.Response`` (:func:`as_requests_response`), so the error mapping, the hook
points (``error_messages``, ``request_id``, ``error_class``, ``check_body``), the JSON decoding and the
scrubbing are the very functions the sync path calls; a transport failure is classified into the same
:class:`~airflow_provider_cloud.hooks.core.errors.Failure` kinds, and the retry loop runs under the same
:class:`~airflow_provider_cloud.hooks.core.policy.RetryPolicy` rules (``CloudApiHook.arequest``).

Decisions:

- The query string is encoded by requests (``PreparedRequest.prepare_url``), so both paths send the same URL
  for the same ``params`` (httpx would send ``None`` values as empty ones, requests drops them).
- TLS contexts are made once per ``verify`` value and shared by every client in the process: building one
  loads the CA bundle (tens of milliseconds and about a megabyte), which a triggerer holding a thousand
  triggers, each with its own client, cannot afford per client. ``verify`` and the proxy come from the same
  environment reading as the sync path (``session.EnvironmentCache``), for the hook's base URL.
- One client per event loop (and ``verify``/proxy), shared by all its hooks: a triggerer holding a thousand
  triggers keeps at most :data:`LOOP_CONNECTIONS` connections, not one per trigger, a trigger started again
  reuses a warm connection, and a poll's burst of work on the loop is bounded by the pool. The client holds
  no credential (each hook sends its own headers) and refuses cookies. Each hook still keeps at most its
  ``window`` of requests in flight. The last hook to close closes the client.
- Redirects are followed (as requests does). A client belongs to the event loop it was made on.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any
from urllib.parse import urlsplit

import certifi
import httpx
import requests
from requests.structures import CaseInsensitiveDict

from airflow_provider_cloud import __version__
from airflow_provider_cloud.exceptions import CloudApiError
from airflow_provider_cloud.hooks.core.errors import Failure, Scrub, transport_error
from airflow_provider_cloud.hooks.core.policy import Timeouts

USER_AGENT = f"airflow-provider-cloud/{__version__} python-httpx/{httpx.__version__}"
#: Connections at most of the client all hooks of one event loop share (a triggerer's, for all its triggers).
#: httpcore scans its whole pool on every request, so a larger pool costs CPU on every poll: 32 let one loop
#: make about 200 polls a second at a few milliseconds each and leaves room for slower services
#: (benchmarks/triggerer.py; 16 and 64 measured too).
LOOP_CONNECTIONS = 32

#: ``error_for(response, where, safe)``: the hook's mapping of an error status to a typed error.
ErrorFor = Callable[[requests.Response, str, bool], CloudApiError]


def httpx_failure(exc: Exception) -> Failure:
    """Classify an httpx error (the async path) into the kinds the sync path's requests errors fall into."""
    if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
        return Failure.CONNECT_TIMEOUT
    if isinstance(exc, httpx.TimeoutException):
        return Failure.READ_TIMEOUT
    if isinstance(exc, httpx.ConnectError):
        return Failure.NOT_SENT
    if isinstance(exc, httpx.NetworkError | httpx.RemoteProtocolError | httpx.ProxyError):
        return Failure.BROKEN
    return Failure.OTHER


@cache
def ssl_context(verify: bool | str) -> ssl.SSLContext:
    """Return the TLS context for a ``verify`` value (requests' meaning: on with certifi's bundle, off, or a CA path)."""
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if verify is True:
        return ssl.create_default_context(cafile=certifi.where())
    if os.path.isdir(verify):
        return ssl.create_default_context(capath=verify)
    return ssl.create_default_context(cafile=verify)


def new_async_client(*, verify: bool | str, proxy: str | None, pool: int) -> httpx.AsyncClient:
    """
    Return a keep-alive client with at most ``pool`` connections, for the hooks of one event loop.

    It holds nothing of one hook: credentials go with each request, and cookies are refused (a jar shared by
    hooks of several connections must not carry one's session to another).
    """
    size = max(pool, 1)
    return httpx.AsyncClient(
        headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
        verify=ssl_context(verify),
        proxy=proxy,
        limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
        follow_redirects=True,
        trust_env=False,
    )


@dataclass
class _Shared:
    client: httpx.AsyncClient
    #: Requests inside the client at most: the rest wait here, not in httpcore's queue (see ``send``).
    slots: asyncio.Semaphore
    users: int = 0


_SHARED: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[tuple[bool | str, str | None], _Shared]
] = weakref.WeakKeyDictionary()


def _acquire(verify: bool | str, proxy: str | None) -> tuple[tuple[bool | str, str | None], _Shared]:
    """Return the running loop's client for ``verify`` and ``proxy`` (made on first use), counted as used once more."""
    found = _SHARED.setdefault(asyncio.get_running_loop(), {})
    key = (verify, proxy)
    shared = found.get(key)
    if shared is None or shared.client.is_closed:
        client = new_async_client(verify=verify, proxy=proxy, pool=LOOP_CONNECTIONS)
        shared = found[key] = _Shared(client, asyncio.Semaphore(LOOP_CONNECTIONS))
    shared.users += 1
    return key, shared


def as_requests_response(response: httpx.Response) -> requests.Response:
    """Return a read httpx answer as the ``requests.Response`` the core's error mapping and decoding take."""
    converted = requests.Response()
    converted.status_code = response.status_code
    converted.headers = CaseInsensitiveDict(response.headers.items())
    converted._content = response.content
    converted._content_consumed = True  # type: ignore[attr-defined]
    converted.encoding = requests.utils.get_encoding_from_headers(converted.headers)
    converted.url = str(response.url)
    converted.reason = response.reason_phrase
    return converted


def timeout_for(timeouts: Timeouts) -> httpx.Timeout:
    """Return httpx's timeouts for the core's: connect (also waiting for a pooled connection), and read."""
    return httpx.Timeout(
        connect=timeouts.connect, read=timeouts.read, write=timeouts.read, pool=timeouts.connect
    )


class AsyncHttp:
    """
    One hook's side of its event loop's client, and one attempt of a request (the hook runs the retries).

    :param headers: what authenticates the hook's requests (sent with each; the client is shared).
    :param window: the hook's requests in flight at most.
    :param error_for: maps an error status to the typed error (the hook's hook points).
    :param count: counts an attempt in the hook's ``counts``.
    """

    def __init__(
        self,
        *,
        headers: Mapping[str, str],
        verify: bool | str,
        proxy: str | None,
        window: int,
        service: str,
        scrub: Scrub,
        error_for: ErrorFor,
        count: Callable[[str], None],
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self._key, self._shared = _acquire(verify, proxy)
        self._headers = dict(headers)
        self._slots = asyncio.Semaphore(max(window, 1))
        self._service = service
        self._scrub = scrub
        self._error_for = error_for
        self._count = count
        self._closed = False

    @property
    def client(self) -> httpx.AsyncClient:
        """The event loop's client this hook sends on."""
        return self._shared.client

    def check_loop(self) -> None:
        """Refuse to be used from another event loop than the one the client was made on."""
        if asyncio.get_running_loop() is not self.loop:
            raise RuntimeError(
                "this hook's async client belongs to another event loop: make one hook per event loop"
            )

    async def send(
        self,
        method: str,
        url: str,
        arguments: dict[str, Any],
        safe: bool,
        timeout: Timeouts,  # noqa: ASYNC109 (the attempt's connect and read timeouts, not a deadline)
    ) -> requests.Response:
        """Send one attempt and return its answer, or raise the typed error for it (as ``CloudApiHook._send``)."""
        target = requests.PreparedRequest()
        target.prepare_url(url, arguments.get("params"))
        headers = {**self._headers, **(arguments.get("headers") or {})}
        where = f"{method} {urlsplit(url).path}"
        self._count("attempts")
        try:
            # httpcore scans every queued request on each change of its pool: a thousand polls queued there
            # at once cost more CPU than they do. They queue on the loop's semaphore instead (no timeout: as
            # a thread pool's queue), and at most as many requests as connections enter the client.
            async with self._slots, self._shared.slots:
                response = await self.client.request(
                    method,
                    target.url or url,
                    headers=headers,
                    json=arguments.get("json"),
                    timeout=timeout_for(timeout),
                )
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise transport_error(
                httpx_failure(exc),
                f"{type(exc).__name__}: {exc}",
                where=where,
                service=self._service,
                timeouts=timeout,
                safe=safe,
                scrub=self._scrub,
            ) from None
        answer = as_requests_response(response)
        # The answer is read and its stream closed: drop the stream's reference back to the response (httpx's
        # BoundAsyncStream), the one link that puts the exchange's forty-odd objects in a reference cycle. Freed
        # at once by reference counting, they never reach the cyclic collector, whose full collections stop a
        # triggerer's loop for hundreds of milliseconds when a thousand polls keep it busy (benchmarks/triggerer.py).
        response.stream = httpx.ByteStream(b"")
        if answer.status_code >= 400:
            raise self._error_for(answer, where, safe)
        return answer

    async def aclose(self) -> None:
        """Let go of the loop's client; the last hook to let go closes it and its pooled connections."""
        if self._closed:
            return
        self._closed = True
        self._shared.users -= 1
        if self._shared.users <= 0:
            found = _SHARED.get(self.loop, {})
            if found.get(self._key) is self._shared:
                del found[self._key]
            await self._shared.client.aclose()
