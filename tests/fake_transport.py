"""
A fake transport for ``requests``: canned answers, no network.

Mount it on a hook's session and script what the "server" does::

    fake = FakeTransport(
        Reply(429, headers={"Retry-After": "1"}),
        connection_refused,              # raised, shaped like requests' own HTTPAdapter error
        Reply(200, json={"ok": True}),
    )
    fake.mount(hook.session)
    hook.request_json("GET", "/db.json")
    assert [s.request.method for s in fake.sent] == ["GET", "GET", "GET"]

Each queued item is a :class:`Reply`, an exception instance, or a callable taking the
``PreparedRequest`` and returning either (e.g. :func:`connection_refused`). Give ``handler=`` instead
(or as well: it answers once the queue is empty) to answer by request, like httpx's ``MockTransport``.
With neither left, the transport fails the test loudly.

Responses are real ``requests.Response`` objects over a BytesIO-backed urllib3 ``HTTPResponse``, built
the way ``HTTPAdapter.build_response`` builds them, so ``.json()``, ``.iter_content()``, ``.headers``,
``.url`` and ``.close()`` behave as with a real server. Every request is recorded in :attr:`sent` with
the keyword arguments requests passed to the adapter (``timeout``, ``verify``, ``stream``, ...).
"""

from __future__ import annotations

import io
import json as jsonlib
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.client import responses as http_reasons
from typing import Any

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3 import HTTPResponse
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.util import parse_url

_NO_JSON = object()


@dataclass
class Reply:
    """
    What the fake server answers: a status, a body (``json=`` or ``body=``) and headers.

    ``json`` is serialised and gets ``Content-Type: application/json`` unless headers say otherwise;
    ``body`` is sent as is (``str`` is encoded as UTF-8).
    """

    status: int = 200
    json: Any = _NO_JSON
    body: bytes | str = b""
    headers: Mapping[str, str] = field(default_factory=dict)

    def content(self) -> bytes:
        if self.json is not _NO_JSON:
            return jsonlib.dumps(self.json).encode()
        return self.body.encode() if isinstance(self.body, str) else self.body

    def all_headers(self) -> dict[str, str]:
        headers = CaseInsensitiveDict(dict(self.headers))
        if self.json is not _NO_JSON:
            headers.setdefault("Content-Type", "application/json")
        headers.setdefault("Content-Length", str(len(self.content())))
        return dict(headers)


@dataclass
class Sent:
    """One request the transport received, with the arguments requests gave the adapter."""

    request: requests.PreparedRequest
    timeout: Any
    verify: Any
    stream: bool
    cert: Any
    proxies: Any

    @property
    def method(self) -> str:
        return self.request.method or ""

    @property
    def url(self) -> str:
        return self.request.url or ""

    @property
    def headers(self) -> Mapping[str, str]:
        return self.request.headers

    @property
    def path(self) -> str:
        return parse_url(self.url).path or "/"

    def json(self) -> Any:
        """Decode the request body as JSON (a body given as an iterable of bytes is joined)."""
        body = self.request.body
        if body is not None and not isinstance(body, bytes | str):
            body = b"".join(body)
        return jsonlib.loads(body.decode() if isinstance(body, bytes) else body or "null")


Answer = Reply | BaseException | Callable[[requests.PreparedRequest], "Reply | BaseException"]


class FakeTransport(BaseAdapter):
    """
    A ``requests`` adapter that answers from a queue or a handler, and records what it was sent.

    :param answers: replies, exceptions or callables, used once each, in order.
    :param handler: answers every request once the queue is empty.
    """

    def __init__(
        self,
        *answers: Answer,
        handler: Callable[[requests.PreparedRequest], Reply | BaseException] | None = None,
    ) -> None:
        super().__init__()
        self.queue: deque[Answer] = deque(answers)
        self.handler = handler
        self.sent: list[Sent] = []
        self.responses: list[requests.Response] = []
        self.closed = False

    def mount(self, session: requests.Session) -> FakeTransport:
        """Mount this transport on ``session`` for both ``http://`` and ``https://``."""
        session.mount("https://", self)
        session.mount("http://", self)
        return self

    def add(self, *answers: Answer) -> None:
        """Queue more answers."""
        self.queue.extend(answers)

    @property
    def methods(self) -> list[str]:
        return [s.method for s in self.sent]

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        self.sent.append(Sent(request, timeout, verify, stream, cert, proxies))
        if self.queue:
            answer: Answer = self.queue.popleft()
        elif self.handler is not None:
            answer = self.handler
        else:
            raise AssertionError(f"FakeTransport: no answer left for {request.method} {request.url}")
        if callable(answer) and not isinstance(answer, BaseException):
            answer = answer(request)
        if isinstance(answer, BaseException):
            if isinstance(answer, requests.RequestException) and answer.request is None:
                answer.request = request
            raise answer
        response = build_response(request, answer, connection=self)
        self.responses.append(response)
        return response

    def close(self) -> None:
        self.closed = True


def build_response(
    request: requests.PreparedRequest, reply: Reply, *, connection: BaseAdapter | None = None
) -> requests.Response:
    """Build a real ``requests.Response`` for ``reply``, as ``HTTPAdapter.build_response`` does."""
    raw = HTTPResponse(
        body=io.BytesIO(reply.content()),
        headers=reply.all_headers(),
        status=reply.status,
        reason=http_reasons.get(reply.status, "Unknown"),
        preload_content=False,
        decode_content=False,
        request_method=request.method,
        request_url=request.url,
    )
    response = requests.Response()
    response.status_code = reply.status
    response.headers = CaseInsensitiveDict(raw.headers)
    response.encoding = get_encoding_from_headers(response.headers)
    response.raw = raw
    response.reason = raw.reason or ""
    response.url = request.url or ""
    response.request = request
    response.connection = connection  # type: ignore[assignment]  # the stubs want an HTTPAdapter
    return response


def _pool(request: requests.PreparedRequest) -> HTTPConnectionPool:
    url = parse_url(request.url or "")
    if url.scheme == "https":
        return HTTPSConnectionPool(url.host or "localhost", url.port or 443)
    return HTTPConnectionPool(url.host or "localhost", url.port or 80)


def _connection(request: requests.PreparedRequest) -> HTTPConnection:
    url = parse_url(request.url or "")
    if url.scheme == "https":
        return HTTPSConnection(url.host or "localhost", url.port or 443)
    return HTTPConnection(url.host or "localhost", url.port or 80)


def connection_refused(request: requests.PreparedRequest) -> requests.ConnectionError:
    """Return the error requests raises when the server refuses the connection (nothing was sent)."""
    reason = NewConnectionError(
        _connection(request), "Failed to establish a new connection: [Errno 111] Connection refused"
    )
    return requests.ConnectionError(
        MaxRetryError(_pool(request), parse_url(request.url or "").request_uri, reason), request=request
    )


def connection_dropped(request: requests.PreparedRequest) -> requests.ConnectionError:
    """Return the error requests raises when the server closes the connection mid-request."""
    return requests.ConnectionError(
        ProtocolError("Connection aborted.", ConnectionResetError(104, "Connection reset by peer")),
        request=request,
    )


def connect_timeout(request: requests.PreparedRequest) -> requests.ConnectTimeout:
    """Return the error requests raises when no connection is made in time."""
    reason = ConnectTimeoutError(_connection(request), "Connection timed out. (connect timeout=10)")
    return requests.ConnectTimeout(
        MaxRetryError(_pool(request), parse_url(request.url or "").request_uri, reason), request=request
    )


def read_timeout(request: requests.PreparedRequest) -> requests.ReadTimeout:
    """Return the error requests raises when the server does not answer in time (it may have acted)."""
    return requests.ReadTimeout(
        ReadTimeoutError(_pool(request), request.url, "Read timed out. (read timeout=60)"), request=request
    )


def body_cut_short(request: requests.PreparedRequest) -> requests.exceptions.ChunkedEncodingError:
    """Return the error requests raises when the connection breaks while the body is being read."""
    return requests.exceptions.ChunkedEncodingError(
        ProtocolError("Connection broken: IncompleteRead(10 bytes read, 90 more expected)"), request=request
    )
