"""
``CloudApiHook``: the one HTTP core every hook of this provider goes through.

One ``requests.Session`` per hook instance (keep-alive), and for triggers one ``httpx.AsyncClient`` per
event loop (``async_http.py``: :meth:`CloudApiHook.arequest`, same rules), explicit connect and read timeouts, TLS
verification, tenacity retries with backoff and ``Retry-After`` (``policy.py``), failures mapped to typed
errors (``errors.py``), secrets masked and scrubbed (``secrets.py``). A service hook subclasses it and
fills in its hook points: ``auth_headers`` (how to authenticate), ``base_url`` (where the API lives),
``error_messages``/``request_id``/``error_class`` (how its error bodies look), ``check_body`` (a failure
reported in a 2xx body) and ``attempt_slot`` (around each attempt that reaches the service: pacing).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Self
from urllib.parse import urlsplit

import requests
import tenacity

from airflow_provider_cloud.exceptions import ApiResponseError
from airflow_provider_cloud.hooks.core import errors
from airflow_provider_cloud.hooks.core.async_http import AsyncHttp
from airflow_provider_cloud.hooks.core.connected import ConnectedHook
from airflow_provider_cloud.hooks.core.policy import (
    RequestCounts,
    Timeouts,
    is_safe,
)
from airflow_provider_cloud.hooks.core.reconciling import Reconcile, Reconciled, send_or_check
from airflow_provider_cloud.hooks.core.session import EnvironmentCache, new_session

if TYPE_CHECKING:
    pass


class CloudApiHook(ConnectedHook):
    """
    Shared HTTP core: session, auth, timeouts, retries and error mapping for every service hook.

    Connection extras read here (all optional): ``timeout`` (read timeout, seconds), ``connect_timeout``,
    ``verify`` (``false`` to turn TLS verification off, or a CA bundle path), ``ca_bundle`` (a CA bundle
    path), ``retry_limit``, ``retry_backoff_max``, ``retry_after_max``. Arguments given to the hook win over extras.

    :param conn_id: the Airflow connection id.
    :param timeout: read timeout in seconds, or a ``(connect, read)`` pair.
    :param retry_limit: retries after the first attempt.
    :param retry_policy: a full :class:`RetryPolicy` (``retry_limit`` still wins over its ``limit``).
    :param window: requests in flight at most where the hook sends independent requests side by side
        (``window.py``); the connection extra ``window`` sets it too.
    """

    service_name: ClassVar[str] = "cloud"

    def __init__(self, conn_id: str, **kwargs: Any) -> None:
        super().__init__(conn_id, **kwargs)  # the settings' arguments, read by ``ConnectedHook``
        self.counts = RequestCounts()
        self._sleep: Callable[[float], None] = time.sleep
        self._asleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        self._async_http: AsyncHttp | None = None
        self._environment = EnvironmentCache()

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

    async def aclose(self) -> None:
        """Close the async client (:meth:`arequest`) and the session."""
        http, self._async_http = self._async_http, None
        if http is not None:
            await http.aclose()
        self.close()

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
        return self.retry_policy.run(
            self._attempt,
            method,
            url,
            arguments,
            safe,
            timeout or self.timeouts,
            reconcile,
            before_sleep=lambda state: self._log_retry(method, url, state),
            sleep=self._sleep,
        )

    def _attempt(
        self,
        method: str,
        url: str,
        arguments: dict[str, Any],
        safe: bool,
        timeout: Timeouts,
        reconcile: Reconcile | None,
    ) -> requests.Response:
        return send_or_check(
            lambda: self._send(method, url, arguments, safe, timeout),
            reconcile,
            where=f"{method} {urlsplit(url).path}",
            count=self.counts.add,
            warn=self.log.warning,
        )

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
                errors.requests_failure(exc),
                str(exc),
                where=where,
                service=self.service_name,
                timeouts=timeout,
                safe=safe,
                scrub=self.scrub,
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
        except Reconciled as done:
            return done.payload
        with contextlib.closing(response):
            return self.parse_json(response, f"{method.upper()} {urlsplit(response.url).path}")

    # -- the async path (triggers) ---------------------------------------------------------------

    def async_http(self) -> AsyncHttp:
        """Return the hook's side of the running event loop's async client (``async_http.py``), made on first use."""
        if self._async_http is None:
            proxies, verify = self._environment.for_url(self.base_url, self.verify)
            self._async_http = AsyncHttp(
                headers=self.auth_headers(),
                verify=verify,
                proxy=requests.utils.select_proxy(self.base_url, proxies),
                window=self.window,
                service=self.service_name,
                scrub=self.scrub,
                error_for=lambda response, where, safe: self._error_for(response, where, safe=safe),
                count=self.counts.add,
            )
        self._async_http.check_loop()
        return self._async_http

    async def arequest(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        timeout: Timeouts | None = None,  # noqa: ASYNC109 (each attempt's connect and read timeouts, as in request)
    ) -> requests.Response:
        """
        :meth:`request` without blocking the event loop: the same retries, waits, errors and scrubbing.

        For reading (triggers only read): no streaming, no form bodies, no reconciliation of lost writes,
        and no ``attempt_slot`` (pacing is a worker's: the paced hooks are not used in triggers).
        """
        method = method.upper()
        url = self.url_for(path)
        arguments = {"params": params, "json": json_body, "headers": dict(headers) if headers else None}
        return await self.retry_policy.arun(
            self.async_http().send,
            method,
            url,
            arguments,
            is_safe(method, idempotent),
            timeout or self.timeouts,
            before_sleep=lambda state: self._log_retry(method, url, state),
            sleep=self._asleep,
        )

    async def arequest_json(self, method: str, path: str, **kwargs: Any) -> Any:
        """:meth:`request_json` on the async path (:meth:`arequest`)."""
        response = await self.arequest(method, path, **kwargs)
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
