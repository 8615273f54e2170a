"""
``CloudApiHook``: the one HTTP core every hook of this provider goes through.

One ``requests.Session`` per hook instance (keep-alive), explicit connect and read timeouts, TLS
verification, tenacity retries with backoff and ``Retry-After`` (``policy.py``), failures mapped to typed
errors (``errors.py``), secrets masked and scrubbed (``secrets.py``). A service hook subclasses it and
fills in its hook points: ``auth_headers`` (how to authenticate), ``base_url`` (where the API lives),
``error_messages``/``request_id``/``error_class`` (how its error bodies look), ``check_body`` (a failure
reported in a 2xx body) and ``attempt_slot`` (around each attempt that reaches the service: pacing).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Self
from urllib.parse import urlsplit

import requests
import tenacity
from airflow.sdk import BaseHook

from airflow_provider_cloud.exceptions import ApiResponseError, CloudApiError, UnsupportedConnectionError
from airflow_provider_cloud.hooks.core import errors
from airflow_provider_cloud.hooks.core.extras import (
    base_url_from_connection,
    normalize_extras,
    read_retry_policy,
    read_timeouts,
    read_verify,
)
from airflow_provider_cloud.hooks.core.policy import (
    RequestCounts,
    RetryPolicy,
    Timeouts,
    is_safe,
    outcome_unknown,
)
from airflow_provider_cloud.hooks.core.secrets import Secrets
from airflow_provider_cloud.hooks.core.session import EnvironmentCache, new_session
from airflow_provider_cloud.hooks.core.window import check_window

if TYPE_CHECKING:
    from airflow.sdk import Connection


#: Checks whether a write whose answer was lost happened: what stands for the answer if it did, else ``None``.
Reconcile = Callable[[], Any]


class _Reconciled(Exception):
    """Carries the checked outcome of a write whose answer was lost out of the retry loop."""

    def __init__(self, payload: Any) -> None:
        super().__init__("reconciled")
        self.payload = payload


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
    :param window: requests in flight at most where the hook sends independent requests side by side
        (``window.py``); the connection extra ``window`` sets it too.
    """

    service_name: ClassVar[str] = "cloud"
    default_scheme: ClassVar[str] = "https"
    #: Requests in flight when neither the hook nor the connection says (1: one after another).
    default_window: ClassVar[int] = 1

    def __init__(
        self,
        conn_id: str,
        *,
        timeout: float | tuple[float, float] | None = None,
        retry_limit: int | None = None,
        retry_policy: RetryPolicy | None = None,
        window: int | None = None,
    ) -> None:
        super().__init__()
        self.conn_id = conn_id
        self._window_arg = window
        self._timeout_arg = timeout
        self._retry_limit_arg = retry_limit
        self._retry_policy_arg = retry_policy
        self.secrets = Secrets()
        self.counts = RequestCounts()
        self._sleep: Callable[[float], None] = time.sleep
        self._environment = EnvironmentCache()

    # -- connection ---------------------------------------------------------------------------

    @cached_property
    def connection(self) -> Connection:
        conn = self.get_connection(self.conn_id)
        self.secrets.add(conn.password)
        self._check_type(conn)
        return conn

    def _check_type(self, conn: Connection) -> None:
        """Refuse a connection of another service's type: its token would only earn a misleading 401 or 500."""
        expected = getattr(type(self), "conn_type", None)
        if expected and conn.conn_type and conn.conn_type != expected:
            raise UnsupportedConnectionError(
                f"Connection {conn.conn_id!r} has type {conn.conn_type!r}; {type(self).__name__} needs a "
                f"connection of type {expected!r}"
            )

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
        hook._check_type(conn)
        hook.__dict__["connection"] = conn
        hook.__dict__["extras"] = normalize_extras(extra, conn.conn_type)
        await hook.secrets.aadd(conn.password)
        return hook

    @cached_property
    def extras(self) -> dict[str, Any]:
        """Connection extras, accepting the legacy ``extra__<conn_type>__<field>`` spelling too."""
        return normalize_extras(self.connection.extra_dejson, self.connection.conn_type)

    def register_secret(self, value: str | None) -> None:
        """Mask a secret in Airflow's logs and keep it out of this hook's error messages."""
        self.secrets.add(value)

    def scrub(self, text: str) -> str:
        """Replace every secret this hook knows with ``***``."""
        return self.secrets.scrub(text)

    @cached_property
    def timeouts(self) -> Timeouts:
        return read_timeouts(self.extras, self._timeout_arg, conn_id=self.conn_id)

    @cached_property
    def retry_policy(self) -> RetryPolicy:
        return read_retry_policy(
            self.extras, self._retry_policy_arg, self._retry_limit_arg, conn_id=self.conn_id
        )

    @cached_property
    def verify(self) -> bool | str:
        return read_verify(self.extras, conn_id=self.conn_id)

    @cached_property
    def base_url(self) -> str:
        return base_url_from_connection(self.connection, default_scheme=self.default_scheme)

    # -- hook points ----------------------------------------------------------------------------

    def auth_headers(self) -> dict[str, str]:
        """Headers that authenticate every request; service hooks override this."""
        return {}

    def attempt_slot(self) -> contextlib.AbstractContextManager[Any]:
        """Return what each attempt that reaches the service runs inside (pacing); nothing by default."""
        return contextlib.nullcontext()

    def error_messages(self, payload: Any, response: requests.Response) -> list[str]:
        """Return the API's own error messages from an error response."""
        return errors.error_messages(payload, response)

    def request_id(self, payload: Any, response: requests.Response) -> str | None:
        """Return the request id the service gave, from headers or the body."""
        return errors.request_id(response)

    def error_class(self, status: int, errors_found: list[str]) -> type[ApiResponseError]:
        """Pick the exception class for an error status."""
        return errors.error_class(status, errors_found)

    def check_body(self, payload: Any, response: requests.Response, where: str) -> None:
        """Raise if a decoded 2xx body reports a failure (some APIs do); nothing by default."""

    # -- session ------------------------------------------------------------------------------

    @cached_property
    def window(self) -> int:
        """Requests in flight at most: the hook argument, the ``window`` extra, else the service's default."""
        if self._window_arg is not None:
            return check_window(self._window_arg, "window")
        found = self.extras.get("window")
        if found in (None, ""):
            return self.default_window
        return check_window(found, f"Connection {self.conn_id!r}: extra 'window'")

    @cached_property
    def session(self) -> requests.Session:
        """The keep-alive session: its connection pool holds a connection for each request of a window."""
        return new_session(self.auth_headers(), self.verify, pool=self.window)

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
        return self._request(
            method,
            path,
            None,
            params=params,
            json_body=json_body,
            data=data,
            headers=headers,
            stream=stream,
            idempotent=idempotent,
            timeout=timeout,
        )

    def _request(
        self,
        method: str,
        path: str,
        reconcile: Reconcile | None,
        *,
        params: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
        json_body: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        idempotent: bool | None = None,
        timeout: Timeouts | None = None,
    ) -> requests.Response:
        method = method.upper()
        url = self.url_for(path)
        safe = is_safe(method, idempotent)
        arguments: dict[str, Any] = {
            "params": params,
            "json": json_body,
            "data": data,
            "headers": dict(headers) if headers else None,
            "stream": stream,
        }
        retrying = self.retry_policy.retrying(
            before_sleep=lambda state: self._log_retry(method, url, state), sleep=self._sleep
        )
        return retrying(self._attempt, method, url, arguments, safe, timeout or self.timeouts, reconcile)

    def _attempt(
        self,
        method: str,
        url: str,
        arguments: dict[str, Any],
        safe: bool,
        timeout: Timeouts,
        reconcile: Reconcile | None,
    ) -> requests.Response:
        try:
            return self._send(method, url, arguments, safe, timeout)
        except CloudApiError as exc:
            if reconcile is None or not outcome_unknown(exc):
                raise
            where = f"{method} {urlsplit(url).path}"
            try:
                payload = reconcile()
            except CloudApiError as check:  # still in doubt: never resend a write that may have happened
                self.log.warning(
                    "%s: %s; checking whether the write happened failed too: %s", where, exc, check
                )
                raise exc from check
            if payload is not None:
                self.counts.add("reconciled")
                self.log.warning("%s: %s; the write happened (checked), so it counts as done", where, exc)
                raise _Reconciled(payload) from None
            self.counts.add("resent")
            self.log.warning("%s: %s; the write did not happen (checked), so it is sent again", where, exc)
            exc.retryable = True
            raise

    def _send(
        self, method: str, url: str, arguments: dict[str, Any], safe: bool, timeout: Timeouts
    ) -> requests.Response:
        where = f"{method} {urlsplit(url).path}"
        self.counts.add("attempts")
        proxies, verify = self._environment.for_url(url, self.verify)
        try:
            with self.attempt_slot():  # the session is shared by the threads of a window (see ``session``)
                response = self.session.request(
                    method, url, timeout=timeout.as_requests(), proxies=proxies, verify=verify, **arguments
                )
        except requests.RequestException as exc:
            raise errors.transport_error(
                exc, where=where, service=self.service_name, timeouts=timeout, safe=safe, scrub=self.scrub
            ) from None
        if response.status_code >= 400:
            with contextlib.closing(response):
                raise self._error_for(response, where, safe=safe)
        return response

    def _error_for(self, response: requests.Response, where: str, *, safe: bool) -> ApiResponseError:
        payload = errors.json_or_none(response)
        found = [self.scrub(e) for e in self.error_messages(payload, response) if e]
        return errors.response_error(
            response,
            self.error_class(response.status_code, found),
            where=where,
            service=self.service_name,
            errors=found,
            request_id=self.request_id(payload, response),
            safe=safe,
        )

    def request_json(
        self, method: str, path: str, *, reconcile: Reconcile | None = None, **kwargs: Any
    ) -> Any:
        """
        Send a request and return its JSON body.

        :param reconcile: for a write not safe to repeat, how to check whether it happened when its answer is
            lost (no answer, or a 5xx): returns what stands for the answer if it did (the write counts as done),
            ``None`` if it did not (the write is sent again, within the retry limit).
        """
        try:
            response = self._request(method, path, reconcile, **kwargs)
        except _Reconciled as done:
            return done.payload
        with contextlib.closing(response):
            return self.parse_json(response, f"{method.upper()} {urlsplit(response.url).path}")

    def parse_json(self, response: requests.Response, where: str) -> Any:
        """Decode a JSON body or raise :class:`UnexpectedResponseError` naming the request."""
        payload = errors.decode_json(response, where=where, service=self.service_name, scrub=self.scrub)
        self.check_body(payload, response, where)
        return payload

    def _log_retry(self, method: str, url: str, state: tenacity.RetryCallState) -> None:
        self.counts.add("retries")
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
