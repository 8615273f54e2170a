"""
From a failed exchange to the typed errors of :mod:`airflow_provider_cloud.exceptions`.

Two kinds of failure: no usable answer (``transport_error``: refused, reset, timed out), classified into a
:class:`Failure` by the sync path (``requests_failure``) or the async one (``async_http.httpx_failure``), and
an error status (``response_error``). Both decide ``retryable`` by the rules of ``policy.py`` and take texts already
scrubbed of secrets. The readers of error bodies here (``error_messages``, ``request_id``) are the
defaults; a service hook replaces them where its API answers otherwise.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Mapping
from typing import Any

import msgspec
import requests

from airflow_provider_cloud.exceptions import (
    ApiConnectionError,
    ApiResponseError,
    ApiTimeoutError,
    AuthenticationError,
    CloudApiError,
    TokenExpiredError,
    UnexpectedResponseError,
    error_class_for_status,
)
from airflow_provider_cloud.hooks.core.policy import Timeouts, parse_retry_after, status_is_retryable

BODY_SNIPPET = 300
_UTF8_NAMES = frozenset({"utf-8", "utf8"})
_JSON_DECODER = msgspec.json.Decoder()
_REQUEST_ID_HEADERS = ("X-Request-Id", "X-Request-ID", "Request-Id", "X-Amzn-Trace-Id")
_NOT_SENT_MARKERS = ("NewConnectionError", "NameResolutionError", "Connection refused", "ConnectTimeout")

Scrub = Callable[[str], str]


class Failure(enum.Enum):
    """How a request got no usable answer, whatever the HTTP library: what decides whether it is retried."""

    CONNECT_TIMEOUT = "connect timeout"  # no connection in time: nothing was sent
    NOT_SENT = "not sent"  # refused, DNS, no route: failed before any byte of the request left
    READ_TIMEOUT = "read timeout"  # sent, no answer in time: the server may have acted
    BROKEN = "broken"  # the connection broke while the request or its answer was on the wire
    OTHER = "other"  # anything else the library raised (an invalid URL, ...): never retried


def transport_error(
    failure: Failure,
    detail: str,
    *,
    where: str,
    service: str,
    timeouts: Timeouts,
    safe: bool,
    scrub: Scrub,
) -> CloudApiError:
    """Return the error for a request that got no answer; only what cannot have reached the server is always retried."""
    errors = [scrub(detail)]
    if failure is Failure.CONNECT_TIMEOUT:
        return ApiTimeoutError(
            f"{where}: no connection within {timeouts.connect:g} s",
            service=service,
            errors=errors,
            retryable=True,
        )
    if failure is Failure.READ_TIMEOUT:
        return ApiTimeoutError(
            f"{where}: no answer within {timeouts.read:g} s", service=service, errors=errors, retryable=safe
        )
    if failure in (Failure.NOT_SENT, Failure.BROKEN):
        return ApiConnectionError(
            f"{where}: could not reach {service}",
            service=service,
            errors=errors,
            retryable=safe or failure is Failure.NOT_SENT,
        )
    return CloudApiError(f"{where}: the request failed", service=service, errors=errors, retryable=False)


def requests_failure(exc: requests.RequestException) -> Failure:
    """Classify a ``requests`` error (the sync path)."""
    if isinstance(exc, requests.ConnectTimeout):
        return Failure.CONNECT_TIMEOUT
    if isinstance(exc, requests.Timeout):
        return Failure.READ_TIMEOUT
    if isinstance(exc, requests.ConnectionError | requests.exceptions.ChunkedEncodingError):
        # ChunkedEncodingError: the connection broke while the body was being read.
        return Failure.NOT_SENT if failed_before_sending(exc) else Failure.BROKEN
    return Failure.OTHER


def failed_before_sending(exc: requests.RequestException) -> bool:
    """Tell whether a connection error happened before any byte of the request reached the server."""
    text = repr(exc.args[0]) if exc.args else repr(exc)
    return any(marker in text for marker in _NOT_SENT_MARKERS)


def response_error(
    response: requests.Response,
    cls: type[ApiResponseError],
    *,
    where: str,
    service: str,
    errors: list[str],
    request_id: str | None,
    safe: bool,
) -> ApiResponseError:
    """Return the error for an error status, carrying the API's messages, the request id and ``Retry-After``."""
    status = response.status_code
    message = f"{where} failed" if not errors else f"{where} failed: {errors[0]}"
    retry_after = parse_retry_after(response.headers.get("Retry-After")) if status in (429, 503) else None
    return cls(
        message,
        service=service,
        status_code=status,
        errors=errors,
        request_id=request_id,
        retryable=status_is_retryable(status, safe=safe),
        retry_after=retry_after,
    )


def error_class(status: int, errors: list[str]) -> type[ApiResponseError]:
    """Pick the exception class for an error status; 401 with "expired" becomes TokenExpiredError."""
    cls = error_class_for_status(status)
    if cls is AuthenticationError and any("expired" in e.lower() for e in errors):
        return TokenExpiredError
    return cls


def error_messages(payload: Any, response: requests.Response) -> list[str]:
    """Return the API's own messages from an error body: ``errors``, else ``error``/``message``/``detail``."""
    messages: list[str] = []
    if isinstance(payload, Mapping):
        found = payload.get("errors")
        if isinstance(found, list):
            for item in found:
                if isinstance(item, Mapping):
                    text = item.get("msg") or item.get("message") or item.get("error")
                    name = item.get("name")
                    messages.append(f"{name}: {text}" if name and text else str(text or item))
                else:
                    messages.append(str(item))
        for key in ("error", "message", "detail"):
            value = payload.get(key)
            if isinstance(value, str) and value and not messages:
                messages.append(value)
    elif payload is None:
        text = (response.text or "").strip()
        if text:
            messages.append(text[:BODY_SNIPPET])
    return messages


def request_id(response: requests.Response) -> str | None:
    """Return the request id a response carries in one of the usual headers."""
    for header in _REQUEST_ID_HEADERS:
        if response.headers.get(header):
            return response.headers[header]
    return None


def json_or_none(response: requests.Response) -> Any:
    """Return a body as JSON, or ``None`` when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None


def decode_json(response: requests.Response, *, where: str, service: str, scrub: Scrub) -> Any:
    """Decode a JSON body (``None`` when empty) or raise :class:`UnexpectedResponseError` naming the request."""
    content = response.content
    if not content:
        return None
    if (response.encoding or "utf-8").lower().replace("_", "-") in _UTF8_NAMES:
        try:
            return _JSON_DECODER.decode(content)  # two to three times as fast as the json module
        except msgspec.DecodeError:
            pass  # NaN or Infinity (which the json module reads), or not JSON: decided below
    try:
        return response.json()
    except (json.JSONDecodeError, ValueError):
        raise UnexpectedResponseError(
            f"{where}: the response is not JSON",
            service=service,
            status_code=response.status_code,
            errors=[scrub(response.text[:BODY_SNIPPET])],
        ) from None
