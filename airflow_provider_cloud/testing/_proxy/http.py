"""
Just enough HTTP/1.1 to act per request on a keep-alive connection: heads, bodies, where a message ends.

Messages are read whole and kept as the bytes that came (head and body framing unchanged), so what is
forwarded is exactly what was sent; the decoded body is kept beside it (a chunked body's data without its
framing), for the fault decision's key. Bodies: ``Content-Length``, ``chunked`` (trailers included), or,
for a response with neither, everything until the server closes. Heads end at an empty line; a line may
end in CRLF or a bare LF.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

MAX_HEAD = 256 * 1024  # bytes of request line or status line plus headers
MAX_HEADERS = 200
_MAX_CHUNK_LINE = 4096
_READ_TO_END = 256 * 1024
_NO_BODY_STATUSES = frozenset({204, 304})


class ProtocolError(Exception):
    """A message the proxy cannot read: answered 400 (request) or 502 (response), then the connection closes."""


@dataclass
class Head:
    """A request or status line and its headers, as received."""

    start: str
    headers: list[tuple[str, str]]
    lines: list[bytes] = field(repr=False, default_factory=list)

    def get(self, name: str) -> str | None:
        """Return the last value of a header (case-blind), or ``None``."""
        name = name.lower()
        found = None
        for key, value in self.headers:
            if key.lower() == name:
                found = value
        return found

    def has_token(self, name: str, token: str) -> bool:
        """Tell whether a comma-separated header (``Connection``, ``Transfer-Encoding``) holds ``token``."""
        token = token.lower()
        return any(
            part.strip().lower() == token
            for key, value in self.headers
            if key.lower() == name.lower()
            for part in value.split(",")
        )

    def raw(self, *, without: frozenset[str] = frozenset()) -> bytes:
        """Return the head as received, or rebuilt without the headers named in ``without`` (lower case)."""
        if not without:
            return b"".join(self.lines)
        kept = [self.lines[0]] + [
            line
            for line, (key, _) in zip(self.lines[1:-1], self.headers, strict=True)
            if key.lower() not in without
        ]
        return b"".join([*kept, self.lines[-1]])


@dataclass
class Message:
    """One request or response: its head, its body bytes as framed on the wire, and the decoded body."""

    head: Head
    framed: bytes = b""
    body: bytes = b""
    #: A response read until the server closed: the client's connection must close after it too.
    ends_with_close: bool = False

    @property
    def wire(self) -> bytes:
        return self.head.raw() + self.framed


@dataclass
class Request(Message):
    method: str = ""
    target: str = ""
    version: str = "HTTP/1.1"

    def keep_alive(self) -> bool:
        """Tell whether the client expects the connection to stay open after this exchange."""
        if self.head.has_token("connection", "close"):
            return False
        return self.version != "HTTP/1.0" or self.head.has_token("connection", "keep-alive")


@dataclass
class Response(Message):
    status: int = 0

    def keep_alive(self) -> bool:
        return not (self.ends_with_close or self.head.has_token("connection", "close"))


async def read_head(reader: asyncio.StreamReader) -> Head | None:
    """Read a head; ``None`` at a clean end of stream (no byte of a new message)."""
    lines: list[bytes] = []
    size = 0
    while True:
        try:
            line = await reader.readline()
        except ValueError:  # a line longer than the reader's limit
            raise ProtocolError("the message head is too large") from None
        if not line:
            if not lines:
                return None
            raise ProtocolError("the stream ended inside a message head")
        if not lines and line in (b"\r\n", b"\n"):
            continue  # a stray empty line between messages (RFC 9112, section 2.2)
        size += len(line)
        if size > MAX_HEAD or len(lines) > MAX_HEADERS:
            raise ProtocolError("the message head is too large")
        lines.append(line)
        if line in (b"\r\n", b"\n"):
            break
    headers = []
    for line in lines[1:-1]:
        name, colon, value = line.decode("latin-1").partition(":")
        if not colon or not name or name != name.strip():
            raise ProtocolError(f"malformed header line {line[:80]!r}")
        headers.append((name, value.strip()))
    return Head(lines[0].decode("latin-1").rstrip("\r\n"), headers, lines)


async def read_request(
    reader: asyncio.StreamReader, go_on: Callable[[], Awaitable[None]] | None = None
) -> Request | None:
    """
    Read one request, body included; ``None`` when the client closed between requests.

    :param go_on: called before the body of a request that expects ``100-continue`` (to answer it).
    """
    head = await read_head(reader)
    if head is None:
        return None
    parts = head.start.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise ProtocolError(f"malformed request line {head.start[:80]!r}")
    request = Request(head, method=parts[0], target=parts[1], version=parts[2])
    if go_on is not None and head.has_token("expect", "100-continue"):
        await go_on()
    await _read_body(reader, request, until_close=False)
    return request


async def read_response(reader: asyncio.StreamReader, method: str) -> Response | None:
    """Read the final response to a ``method`` request (interim 1xx ones dropped); ``None`` if none came."""
    while True:
        head = await read_head(reader)
        if head is None:
            return None
        parts = head.start.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise ProtocolError(f"malformed status line {head.start[:80]!r}")
        status = int(parts[1])
        if 100 <= status < 200:
            continue  # interim answers go no further: the proxy has the whole request already
        response = Response(head, status=status)
        if method != "HEAD" and status not in _NO_BODY_STATUSES:
            await _read_body(reader, response, until_close=True)
        return response


async def _read_body(reader: asyncio.StreamReader, message: Message, *, until_close: bool) -> None:
    head = message.head
    if head.has_token("transfer-encoding", "chunked"):
        message.framed, message.body = await _read_chunked(reader)
        return
    length = head.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise ProtocolError(f"Content-Length is not a number: {length[:40]!r}")
        try:
            message.framed = message.body = await reader.readexactly(int(length))
        except asyncio.IncompleteReadError:
            raise ProtocolError("the stream ended inside a body") from None
        return
    if until_close:
        parts = []
        while chunk := await reader.read(_READ_TO_END):
            parts.append(chunk)
        message.framed = message.body = b"".join(parts)
        message.ends_with_close = True


async def _read_chunked(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    framed: list[bytes] = []
    data: list[bytes] = []
    try:
        while True:
            line = await reader.readline()
            if not line.endswith(b"\n") or len(line) > _MAX_CHUNK_LINE:
                raise ProtocolError("malformed chunk size line")
            framed.append(line)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise ProtocolError(f"malformed chunk size {line[:40]!r}") from None
            if size == 0:
                break
            chunk = await reader.readexactly(size)
            framed.append(chunk)
            data.append(chunk)
            framed.append(await reader.readline())  # the CRLF after the chunk
        while True:  # trailers, up to the empty line
            line = await reader.readline()
            if not line:
                raise ProtocolError("the stream ended inside a chunked body")
            framed.append(line)
            if line in (b"\r\n", b"\n"):
                break
    except asyncio.IncompleteReadError:
        raise ProtocolError("the stream ended inside a chunked body") from None
    return b"".join(framed), b"".join(data)


def plain_response(status: int, reason: str, text: str, headers: dict[str, str] | None = None) -> bytes:
    """Return a whole ``text/plain`` response the proxy answers itself (connection kept alive)."""
    body = text.encode()
    lines = [f"HTTP/1.1 {status} {reason}", "Content-Type: text/plain; charset=utf-8"]
    lines += [f"Content-Length: {len(body)}", "Server: NetworkConditionsProxy"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
