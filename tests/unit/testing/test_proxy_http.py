"""The proxy's HTTP/1.1 reading: heads, Content-Length and chunked bodies, responses to the end, bad input."""

from __future__ import annotations

import asyncio

import pytest

from airflow_provider_cloud.testing._proxy.http import (
    MAX_HEAD,
    ProtocolError,
    plain_response,
    read_request,
    read_response,
)


def reader_of(data: bytes, *, eof: bool = True) -> asyncio.StreamReader:
    reader = asyncio.StreamReader(limit=MAX_HEAD)
    reader.feed_data(data)
    if eof:
        reader.feed_eof()
    return reader


def run(coroutine):
    return asyncio.run(coroutine)


def request_of(data: bytes, go_on=None):
    """Read one request from ``data`` (the reader is made inside the loop, as asyncio wants)."""

    async def read():
        return await read_request(reader_of(data), go_on)

    return asyncio.run(read())


def response_of(data: bytes, method: str = "GET"):
    async def read():
        return await read_response(reader_of(data), method)

    return asyncio.run(read())


def test_requests_one_after_another_on_one_stream() -> None:
    data = (
        b"POST /a?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\nHost: h\r\n\r\n"
    )

    async def both():
        reader = reader_of(data)
        return [await read_request(reader), await read_request(reader), await read_request(reader)]

    first, second, end = run(both())
    assert (first.method, first.target, first.body, first.keep_alive()) == ("POST", "/a?x=1", b"hello", True)
    assert first.wire == data[: data.index(b"GET")]
    assert (second.method, second.body, second.head.get("host")) == ("GET", b"", "h")
    assert end is None


def test_a_chunked_request_keeps_its_framing_and_decodes_its_body() -> None:
    framed = b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n"
    data = b"PUT / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n" + framed
    request = request_of(data)
    assert (request.body, request.framed, request.wire) == (b"abcde", framed, data)


def test_expect_continue_is_answered_before_the_body() -> None:
    calls = []

    async def go_on() -> None:
        calls.append("100")

    data = b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok"
    request = request_of(data, go_on)
    assert calls == ["100"]
    assert request.head.raw(without=frozenset({"expect"})) == b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n"


def test_bare_line_feeds_and_header_case() -> None:
    request = request_of(b"GET / HTTP/1.0\nCONNECTION: Keep-Alive\n\n")
    assert request.keep_alive()
    assert not request_of(b"GET / HTTP/1.0\r\n\r\n").keep_alive()
    assert not request_of(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n").keep_alive()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(b"GARBAGE\r\n\r\n", "malformed request line", id="request-line"),
        pytest.param(b"GET / HTTP/2\r\n\r\n", "malformed request line", id="version"),
        pytest.param(b"GET / HTTP/1.1\r\nno colon\r\n\r\n", "malformed header line", id="header"),
        pytest.param(b"GET / HTTP/1.1\r\n bad: x\r\n\r\n", "malformed header line", id="folded"),
        pytest.param(b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n", "not a number", id="length"),
        pytest.param(b"POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\nabc", "ended inside a body", id="short"),
        pytest.param(
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "malformed chunk size", id="chunk"
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
            "ended inside a chunked",
            id="cut",
        ),
        pytest.param(b"GET / HTTP/1.1\r\nHost: x\r\n", "ended inside a message head", id="head-cut"),
        pytest.param(b"GET / HTTP/1.1\r\nX: " + b"y" * MAX_HEAD + b"\r\n\r\n", "too large", id="huge-head"),
    ],
)
def test_unreadable_requests(data: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        request_of(data)


def test_responses_by_length_chunks_and_to_the_end() -> None:
    by_length = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    chunked = b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n"
    to_end = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it"

    async def read_all():
        reader = reader_of(by_length + chunked)
        first, second = await read_response(reader, "GET"), await read_response(reader, "POST")
        third = await read_response(reader_of(to_end), "GET")
        return first, second, third

    first, second, third = run(read_all())
    assert (first.status, first.body, first.keep_alive()) == (200, b"ok", True)
    assert (second.status, second.body, second.wire) == (201, b"ab", chunked)
    assert (third.body, third.ends_with_close, third.keep_alive()) == (b"all of it", True, False)


def test_responses_without_a_body() -> None:
    async def read_all():
        reader = reader_of(
            b"HTTP/1.1 100 Continue\r\n\r\n"
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"  # to HEAD: no body despite the length
            b"HTTP/1.1 204 No Content\r\n\r\n"
            b"HTTP/1.1 304 Not Modified\r\nConnection: close\r\n\r\n"
        )
        return [await read_response(reader, m) for m in ("HEAD", "DELETE", "GET")], await read_response(
            reader, "GET"
        )

    (head, no_content, not_modified), end = run(read_all())
    assert [r.status for r in (head, no_content, not_modified)] == [200, 204, 304]
    assert head.body == no_content.body == not_modified.body == b""
    assert not not_modified.keep_alive()
    assert end is None


def test_a_malformed_status_line_is_unreadable() -> None:
    with pytest.raises(ProtocolError, match="malformed status line"):
        response_of(b"SPDY/3 200\r\n\r\n")


def test_plain_response() -> None:
    answer = plain_response(429, "Too Many Requests", "slow down\n", {"Retry-After": "1"})
    assert answer.startswith(b"HTTP/1.1 429 Too Many Requests\r\n")
    assert b"\r\nContent-Length: 10\r\n" in answer
    assert b"\r\nRetry-After: 1\r\n\r\nslow down\n" in answer
