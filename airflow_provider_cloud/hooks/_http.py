"""
The one HTTP core every hook of this provider goes through.

``CloudApiHook`` owns one ``requests.Session`` per hook instance (keep-alive), explicit connect and
read timeouts, TLS verification, tenacity retries with exponential backoff and jitter, ``Retry-After``
(seconds or HTTP date, capped), and the mapping of failures to the typed errors of
:mod:`airflow_provider_cloud.exceptions`. Service hooks subclass it and say how to authenticate,
where the API lives and how their error bodies look.

What is retried:

- connection failures before the request was sent, and connect timeouts: always;
- read timeouts and connections dropped mid-request: only requests that are safe to repeat;
- 429 and 502/503/504: always (the service did not act on the request);
- other 5xx: only requests that are safe to repeat.

A request is safe to repeat when its method is GET, HEAD, OPTIONS, PUT or DELETE, or when the
caller says so (``idempotent=True``, e.g. an upsert by key).
"""

from __future__ import annotations

import email.utils
import json
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Self
from urllib.parse import urlsplit

import msgspec
import requests
import tenacity
from airflow.sdk import BaseHook
from airflow.sdk.log import amask_secret, mask_secret

from airflow_provider_cloud import __version__
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

if TYPE_CHECKING:
    from airflow.sdk import Connection

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
ALWAYS_RETRY_STATUSES = frozenset({429, 502, 503, 504})
USER_AGENT = f"airflow-provider-cloud/{__version__} python-requests/{requests.__version__}"
_BODY_SNIPPET = 300
_UTF8_NAMES = frozenset({"utf-8", "utf8"})
_JSON_DECODER = msgspec.json.Decoder()


@dataclass(frozen=True)
class RetryPolicy:
    """
    How often and how long the HTTP core retries.

    :param limit: retries after the first attempt (0 turns retrying off).
    :param backoff_base: first backoff in seconds; it doubles on each retry, with jitter.
    :param backoff_max: largest backoff between two attempts, in seconds.
    :param retry_after_max: largest ``Retry-After`` wait honoured, in seconds.
    """

    limit: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    retry_after_max: float = 60.0

    def backoff(self, retry_number: int, *, rng: Callable[[], float] = random.random) -> float:
        """Return the wait before retry ``retry_number`` (1-based): exponential, with up to 100 % jitter."""
        step = min(self.backoff_max, self.backoff_base * 2 ** (retry_number - 1))
        return min(self.backoff_max, step * (1.0 + rng()))


@dataclass(frozen=True)
class Timeouts:
    """Connect and read timeouts, in seconds."""

    connect: float = 10.0
    read: float = 60.0

    def as_requests(self) -> tuple[float, float]:
        return (self.connect, self.read)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Return the wait a ``Retry-After`` header asks for, in seconds: delta-seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def base_url_from_connection(conn: Connection, *, default_scheme: str = "https") -> str:
    """Build ``scheme://host[:port][/path]`` from a connection's host, schema and port fields."""
    host = (conn.host or "").strip().rstrip("/")
    if not host:
        raise ValueError(f"Connection {conn.conn_id!r} has no host: set it to the service's base URL")
    if "://" not in host:
        scheme = conn.schema if conn.schema in ("http", "https") else default_scheme
        host = f"{scheme}://{host}"
    parts = urlsplit(host)
    netloc = parts.netloc
    if conn.port and ":" not in netloc.rsplit("]", 1)[-1]:
        netloc = f"{netloc}:{conn.port}"
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"


def coerce_bool(value: object, *, default: bool) -> bool:
    """Read a boolean from a connection extra that may be a string (URI form) or a bool (JSON form)."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a boolean: {value!r}")


class CloudApiHook(BaseHook):
    """
    Shared HTTP core: session, auth, timeouts, retries and error mapping for every service hook.

    Connection extras read here (all optional): ``timeout`` (read timeout, seconds), ``connect_timeout``,
    ``verify`` (``false`` to turn TLS verification off, or a CA bundle path), ``retry_limit``,
    ``retry_backoff_max``, ``retry_after_max``. Arguments given to the hook win over extras.

    :param conn_id: the Airflow connection id.
    :param timeout: read timeout in seconds, or a ``(connect, read)`` pair.
    :param retry_limit: retries after the first attempt.
    :param retry_policy: a full :class:`RetryPolicy` (``retry_limit`` still wins over its ``limit``).
    """

    service_name: ClassVar[str] = "cloud"
    default_scheme: ClassVar[str] = "https"

    def __init__(
        self,
        conn_id: str,
        *,
        timeout: float | tuple[float, float] | None = None,
        retry_limit: int | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        super().__init__()
        self.conn_id = conn_id
        self._timeout_arg = timeout
        self._retry_limit_arg = retry_limit
        self._retry_policy_arg = retry_policy
        self._secrets: set[str] = set()
        self._sleep: Callable[[float], None] = time.sleep
        self._session_lock = threading.Lock()
        self._environments: dict[tuple[str, str], tuple[dict[str, str], bool | str]] = {}

    # -- connection ---------------------------------------------------------------------------

    @cached_property
    def connection(self) -> Connection:
        conn = self.get_connection(self.conn_id)
        self.register_secret(conn.password)
        return conn

    @classmethod
    async def async_create(cls, conn_id: str, **kwargs: Any) -> Self:
        """
        Build a hook inside a trigger, resolving the connection the async-safe way.

        The connection, its extras and the secret masking are all done with Airflow's async APIs, so
        nothing blocks the triggerer's event loop; use the hook's blocking methods via ``asyncio.to_thread``.
        """
        conn = await cls.aget_connection(conn_id)
        extra = await conn.aextra_dejson()
        hook = cls(conn_id, **kwargs)
        hook.__dict__["connection"] = conn
        hook.__dict__["extras"] = hook._normalize_extras(extra)
        for form in {conn.password, (conn.password or "").strip()}:
            if form:
                hook._secrets.add(form)
                await amask_secret(form)
        return hook

    @cached_property
    def extras(self) -> dict[str, Any]:
        """Connection extras, accepting the legacy ``extra__<conn_type>__<field>`` spelling too."""
        return self._normalize_extras(self.connection.extra_dejson)

    def _normalize_extras(self, extra: Mapping[str, Any] | None) -> dict[str, Any]:
        raw = dict(extra or {})
        prefix = f"extra__{self.connection.conn_type}__"
        for key in list(raw):
            if key.startswith(prefix):
                raw.setdefault(key[len(prefix) :], raw.pop(key))
        return raw

    def register_secret(self, value: str | None) -> None:
        r"""
        Mask a secret in Airflow's logs and keep it out of this hook's error messages.

        A value pasted with a trailing newline is registered without it as well: error texts often
        quote it with the newline escaped (``'...\\n'``), which the exact value would not match.
        """
        if not value:
            return
        for form in {value, value.strip()}:
            if form:
                self._secrets.add(form)
                mask_secret(form)

    def scrub(self, text: str) -> str:
        """Replace every secret this hook knows with ``***``."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text

    def _extra_number(self, name: str, default: float, cast: Callable[[Any], float] = float) -> Any:
        value = self.extras.get(name)
        if value is None or value == "":
            return default
        try:
            return cast(value)
        except (TypeError, ValueError):
            raise ValueError(
                f"Connection {self.conn_id!r}: extra {name!r} must be a number, got {value!r}"
            ) from None

    @cached_property
    def timeouts(self) -> Timeouts:
        arg = self._timeout_arg
        if isinstance(arg, tuple):
            return Timeouts(connect=float(arg[0]), read=float(arg[1]))
        read = float(arg) if arg is not None else self._extra_number("timeout", Timeouts.read)
        return Timeouts(connect=self._extra_number("connect_timeout", Timeouts.connect), read=read)

    @cached_property
    def retry_policy(self) -> RetryPolicy:
        policy = self._retry_policy_arg or RetryPolicy(
            limit=self._extra_number("retry_limit", RetryPolicy.limit, int),
            backoff_max=self._extra_number("retry_backoff_max", RetryPolicy.backoff_max),
            retry_after_max=self._extra_number("retry_after_max", RetryPolicy.retry_after_max),
        )
        if self._retry_limit_arg is not None:
            policy = replace(policy, limit=self._retry_limit_arg)
        if policy.limit < 0:
            raise ValueError(f"retry_limit must be 0 or more, got {policy.limit}")
        return policy

    @cached_property
    def verify(self) -> bool | str:
        value = self.extras.get("verify", self.extras.get("verify_ssl"))
        if isinstance(value, str) and value.strip().lower() not in (
            "true",
            "false",
            "1",
            "0",
            "yes",
            "no",
            "",
        ):
            return value  # a CA bundle path
        try:
            return coerce_bool(value, default=True)
        except ValueError:
            raise ValueError(
                f"Connection {self.conn_id!r}: extra 'verify' must be true, false or a path"
            ) from None

    @cached_property
    def base_url(self) -> str:
        return base_url_from_connection(self.connection, default_scheme=self.default_scheme)

    def auth_headers(self) -> dict[str, str]:
        """Headers that authenticate every request; service hooks override this."""
        return {}

    # -- session ------------------------------------------------------------------------------

    @cached_property
    def session(self) -> requests.Session:
        session = requests.Session()
        session.headers["User-Agent"] = USER_AGENT
        session.headers["Accept"] = "application/json"
        session.headers.update(self.auth_headers())
        session.verify = self.verify
        # Proxies and the CA bundle come from the environment once per host (``_environment``): left to
        # requests, every request would scan all of os.environ for proxy variables, twice.
        session.trust_env = False
        return session

    def _environment(self, url: str) -> tuple[dict[str, str], bool | str]:
        """
        Return the proxies and the TLS verification for ``url``, as requests takes them from the environment.

        ``HTTPS_PROXY``, ``NO_PROXY`` and the like, and ``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE`` when
        verification is on without a bundle of the connection's own; read once per scheme and host.
        """
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        found = self._environments.get(key)
        if found is None:
            proxies = requests.utils.get_environ_proxies(url)
            verify = self.verify
            if verify is True:
                verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
            found = self._environments[key] = (dict(proxies), verify)
        return found

    def get_conn(self) -> requests.Session:
        """Return the hook's ``requests.Session`` (one per hook instance, reused)."""
        return self.session

    def close(self) -> None:
        """Close the session and its pooled connections."""
        if "session" in self.__dict__:
            self.session.close()
            del self.__dict__["session"]

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- requests -----------------------------------------------------------------------------

    def url_for(self, path: str) -> str:
        """Return an absolute URL: ``path`` is joined to :attr:`base_url` unless it is absolute."""
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
        json_body: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        idempotent: bool | None = None,
        timeout: Timeouts | None = None,
    ) -> requests.Response:
        """
        Send one request with retries and return the successful response.

        Only hooks call this; their public methods return parsed data, never the response.

        :raises CloudApiError: a subclass matching the failure, after retries ran out.
        """
        method = method.upper()
        url = self.url_for(path)
        safe = method in SAFE_METHODS if idempotent is None else idempotent
        policy = self.retry_policy

        def send() -> requests.Response:
            return self._send_once(
                method,
                url,
                safe=safe,
                params=params,
                json_body=json_body,
                data=data,
                headers=headers,
                stream=stream,
                timeout=timeout or self.timeouts,
            )

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(policy.limit + 1),
            wait=self._wait_before_retry,
            retry=tenacity.retry_if_exception(lambda exc: isinstance(exc, CloudApiError) and exc.retryable),
            before_sleep=lambda state: self._log_retry(method, url, state),
            sleep=self._sleep,
            reraise=True,
        )
        return retrying(send)

    def _send_once(
        self,
        method: str,
        url: str,
        *,
        safe: bool,
        params: Any,
        json_body: Any,
        data: Any,
        headers: Mapping[str, str] | None,
        stream: bool,
        timeout: Timeouts,
    ) -> requests.Response:
        where = f"{method} {urlsplit(url).path}"
        proxies, verify = self._environment(url)
        try:
            with self._session_lock:  # background readers and writers share the session
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    json=json_body,
                    data=data,
                    headers=dict(headers) if headers else None,
                    stream=stream,
                    timeout=timeout.as_requests(),
                    proxies=proxies,
                    verify=verify,
                )
        except requests.ConnectTimeout as exc:
            raise ApiTimeoutError(
                f"{where}: no connection within {timeout.connect:g} s",
                service=self.service_name,
                errors=[self.scrub(str(exc))],
                retryable=True,
            ) from None
        except requests.Timeout as exc:
            raise ApiTimeoutError(
                f"{where}: no answer within {timeout.read:g} s",
                service=self.service_name,
                errors=[self.scrub(str(exc))],
                retryable=safe,
            ) from None
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            # ChunkedEncodingError: the connection broke while the body was being read.
            raise ApiConnectionError(
                f"{where}: could not reach {self.service_name}",
                service=self.service_name,
                errors=[self.scrub(str(exc))],
                retryable=safe or _failed_before_sending(exc),
            ) from None
        except requests.RequestException as exc:
            raise CloudApiError(
                f"{where}: the request failed",
                service=self.service_name,
                errors=[self.scrub(str(exc))],
                retryable=False,
            ) from None
        if response.status_code >= 400:
            try:
                self._raise_for_status(response, where, safe=safe)
            finally:
                response.close()
        return response

    def _raise_for_status(self, response: requests.Response, where: str, *, safe: bool) -> None:
        status = response.status_code
        payload = _json_or_none(response)
        errors = [self.scrub(e) for e in self.error_messages(payload, response) if e]
        request_id = self.request_id(payload, response)
        cls = self.error_class(status, errors)
        retryable = status in ALWAYS_RETRY_STATUSES or (status >= 500 and safe)
        message = f"{where} failed" if not errors else f"{where} failed: {errors[0]}"
        kwargs: dict[str, Any] = {
            "service": self.service_name,
            "status_code": status,
            "errors": errors,
            "request_id": request_id,
            "retryable": retryable,
        }
        if status in (429, 503):
            kwargs["retry_after"] = parse_retry_after(response.headers.get("Retry-After"))
        raise cls(message, **kwargs)

    def error_class(self, status: int, errors: list[str]) -> type[ApiResponseError]:
        """Pick the exception class for an error status; 401 with "expired" becomes TokenExpiredError."""
        cls = error_class_for_status(status)
        if cls is AuthenticationError and any("expired" in e.lower() for e in errors):
            return TokenExpiredError
        return cls

    def error_messages(self, payload: Any, response: requests.Response) -> list[str]:
        """Return the API's own error messages from an error response (services override as needed)."""
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
                messages.append(text[:_BODY_SNIPPET])
        return messages

    def request_id(self, payload: Any, response: requests.Response) -> str | None:
        """Return the request id the service gave, from headers or the body."""
        for header in ("X-Request-Id", "X-Request-ID", "Request-Id", "X-Amzn-Trace-Id"):
            if response.headers.get(header):
                return response.headers[header]
        return None

    def request_json(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send a request and return its JSON body."""
        response = self.request(method, path, **kwargs)
        try:
            return self.parse_json(response, f"{method.upper()} {urlsplit(response.url).path}")
        finally:
            response.close()

    def parse_json(self, response: requests.Response, where: str) -> Any:
        """Decode a JSON body or raise :class:`UnexpectedResponseError` naming the request."""
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
                service=self.service_name,
                status_code=response.status_code,
                errors=[self.scrub(response.text[:_BODY_SNIPPET])],
            ) from None

    def _wait_before_retry(self, state: tenacity.RetryCallState) -> float:
        policy = self.retry_policy
        exc = state.outcome.exception() if state.outcome else None
        asked = getattr(exc, "retry_after", None)
        if asked is not None:
            return float(min(asked, policy.retry_after_max))
        return policy.backoff(state.attempt_number)

    def _log_retry(self, method: str, url: str, state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        self.log.warning(
            "%s %s: %s; retry %d of %d in %.1f s",
            method,
            urlsplit(url).path,
            self.scrub(str(exc)),
            state.attempt_number,
            self.retry_policy.limit,
            wait,
        )


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _failed_before_sending(exc: requests.RequestException) -> bool:
    """Tell whether a connection error happened before any byte of the request reached the server."""
    text = repr(exc.args[0]) if exc.args else repr(exc)
    markers = ("NewConnectionError", "NameResolutionError", "Connection refused", "ConnectTimeout")
    return any(marker in text for marker in markers)
