"""
The connection-level half of :class:`~airflow_provider_cloud.hooks.cloudtables.CloudTablesHook`.

Where the API lives, how the key is sent, pacing, and failure detection. Choices where the reference leaves
room:

- The API key goes in the ``key`` HTTP header on every request (the docs allow a header; it keeps the key out
  of URLs, proxy logs and error texts), never in a URL or a body.
- ``clientId``/``clientName`` go in the form body of ``POST /access`` (where the docs list them) and in the
  query string of every other call, as the official Python client sends them, so that data changes are
  attributed too; the service ignores them where it has no use for them. (The Node client sends them on
  ``/access`` only.)
- ``conditions`` are sent only on calls given some, as one JSON string (a form cannot carry objects): in the
  form body of POST and PUT, in the query string of GET and DELETE (some proxies drop bodies of GET and
  DELETE; the Node client puts them in the query there too).
- Failures: a non-2xx status (the HTTP core), or a body with ``success: false`` or any of ``error``,
  ``errors``, ``fieldErrors`` whatever the status. A failure in a 2xx body gets its class from what it says
  (field errors: :class:`BadRequestError`; "does not exist": :class:`NotFoundError`, ...).
- The API writes one row per request under a rate limit of 500 requests per 15 minutes, so the hook paces
  itself (:class:`RequestPacer`, per hook instance, every attempt of every request) instead of running into
  429s; a 429 that still comes (another client using the same key) is waited out by the HTTP core. Tasks
  that share one key at the same time should split the limit between them (``rate_limit`` extras).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any, ClassVar, cast

import requests

from airflow_provider_cloud.exceptions import (
    ApiResponseError,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    RateLimitError,
    UnexpectedResponseError,
)
from airflow_provider_cloud.hooks._cloudtables_pacing import PacedProgress, RequestPacer
from airflow_provider_cloud.hooks._cloudtables_rows import role_list
from airflow_provider_cloud.hooks._cloudtables_schema import DatasetSchema
from airflow_provider_cloud.hooks._cloudtables_wire import (
    CloudTablesEndpoint,
    body_failed,
    conditions_param,
    endpoint_from_connection,
    error_messages,
)
from airflow_provider_cloud.hooks.core import CloudApiHook
from airflow_provider_cloud.hooks.core.extras import extra_number
from airflow_provider_cloud.rows.progress import ProgressLogger

_LOG_WAITS_FROM = 5.0  # seconds: pacing waits at least this long are logged


class CloudTablesBaseHook(CloudApiHook):
    """
    Endpoint, key header, audit parameters, pacing and failure detection for the CloudTables API.

    :param conn_id: the Airflow connection id.
    :param rate_limit: requests per ``rate_window`` (default: the ``rate_limit`` extra, else 500); ``0``
        turns pacing off.
    :param rate_window: seconds (default: the ``rate_window`` extra, else 900).
    :param progress_every: seconds between progress lines of long writes and deletes.
    """

    service_name: ClassVar[str] = "CloudTables"

    def __init__(
        self,
        conn_id: str,
        *,
        rate_limit: int | None = None,
        rate_window: float | None = None,
        progress_every: float = 30.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(conn_id, **kwargs)
        self._rate_limit_arg = rate_limit
        self._rate_window_arg = rate_window
        self.progress_every = progress_every
        self._schemas: dict[str, DatasetSchema] = {}
        self._dataset_ids: dict[str, str] = {}
        self._point_names: dict[str, str] = {}

    # -- connection ------------------------------------------------------------------------------

    @cached_property
    def endpoint(self) -> CloudTablesEndpoint:
        conn = self.connection
        return endpoint_from_connection(
            conn.host, port=conn.port, schema=conn.schema, extras=self.extras, conn_id=self.conn_id
        )

    @cached_property
    def base_url(self) -> str:
        return self.endpoint.base

    def auth_headers(self) -> dict[str, str]:
        key = (self.connection.password or "").strip()
        return {"key": key} if key else {}

    @cached_property
    def client_params(self) -> list[tuple[str, str]]:
        """Return ``clientId``/``clientName`` from the connection, as set."""
        return [
            (name, str(self.extras[name])) for name in ("clientId", "clientName") if self.extras.get(name)
        ]

    @cached_property
    def default_roles(self) -> list[str]:
        return role_list(self.extras.get("roles"))

    @cached_property
    def pacer(self) -> RequestPacer | None:
        """Return the request pacer, or ``None`` when the rate limit is 0 (pacing off)."""
        limit = self._rate_limit_arg
        if limit is None:
            limit = extra_number(self.extras, "rate_limit", 500, conn_id=self.conn_id, cast=int)
        window = self._rate_window_arg or extra_number(
            self.extras, "rate_window", 900.0, conn_id=self.conn_id
        )
        if limit == 0:
            return None
        return RequestPacer(int(limit), float(window), sleep=self._sleep, on_wait=self._log_wait)

    def _log_wait(self, seconds: float) -> None:
        if seconds >= _LOG_WAITS_FROM:
            assert self.pacer is not None
            self.log.info(
                "Pacing to %d requests per %g s: waiting %.1f s", self.pacer.limit, self.pacer.window, seconds
            )

    # -- HTTP core hook points -------------------------------------------------------------------

    def attempt_slot(self) -> contextlib.AbstractContextManager[Any]:
        """Send each attempt inside a pacing slot (retries are paced too: each reaches the service)."""
        return self.pacer.slot() if self.pacer is not None else contextlib.nullcontext()

    def error_messages(self, payload: Any, response: requests.Response) -> list[str]:
        """Return ``error``, ``errors[].msg`` and ``fieldErrors`` (named data points), plus a hint on 401."""
        messages = error_messages(payload, self._point_names) or super().error_messages(payload, response)
        if response.status_code == 401:
            messages.append(f"the API key was refused: check the password of connection {self.conn_id!r}")
        return messages

    def check_body(self, payload: Any, response: requests.Response, where: str) -> None:
        """Raise when a JSON body reports a failure, whatever the status (the API sends 200s)."""
        if not body_failed(payload):
            return
        errors = [self.scrub(m) for m in self.error_messages(payload, response)]
        cls = _class_for_failed_body(payload, errors)
        raise cls(
            f"{where} failed: {errors[0]}" if errors else f"{where} failed",
            service=self.service_name,
            status_code=response.status_code,
            errors=errors,
            request_id=self.request_id(payload, response),
            retryable=False,
        )

    def _api(
        self,
        method: str,
        *path: str | int,
        form: Sequence[tuple[str, str]] = (),
        conditions: Sequence[Mapping[str, Any]] = (),
        client_in_query: bool = True,
    ) -> Any:
        query = list(self.client_params) if client_in_query else []
        body = list(form)
        if conditions:
            (body if method in ("POST", "PUT") else query).append(
                ("conditions", conditions_param(conditions))
            )
        return self.request_json(
            method,
            self.endpoint.api_path(*map(str, path)),
            params=query or None,
            data=body or None,
        )

    def progress(self, total: int | None, what: str = "rows") -> ProgressLogger:
        """Return a progress logger for ``total`` paced requests, its ETA following the pacer."""
        if self.pacer is None:
            return ProgressLogger(_logger(self), what=what, total=total, every_seconds=self.progress_every)
        pacer = self.pacer
        return PacedProgress(
            _logger(self),
            estimate=lambda left: max(pacer.seconds_for(left), left * pacer.mean_request_seconds),
            what=what,
            total=total,
            every_seconds=self.progress_every,
        )


def response_data(payload: Any, service: str) -> dict[str, Any]:
    """Return the ``data`` row of a row read or write, or raise :class:`UnexpectedResponseError`."""
    data = payload.get("data") if isinstance(payload, Mapping) else None
    if not isinstance(data, Mapping):
        raise UnexpectedResponseError("the answer has no 'data' row", service=service)
    return dict(data)


def _class_for_failed_body(payload: Mapping[str, Any], errors: list[str]) -> type[ApiResponseError]:
    """Pick an error class for a failure reported in a 2xx body, from what it says."""
    if payload.get("fieldErrors"):
        return BadRequestError
    text = " ".join(errors).lower()
    if "api key" in text:
        return AuthenticationError
    if "rate limit" in text:
        return RateLimitError
    if any(words in text for words in ("does not exist", "not found", "no such")):
        return NotFoundError
    return BadRequestError


def _logger(hook: CloudApiHook) -> logging.Logger:
    """Return the hook's logger typed as ProgressLogger wants it (Airflow's logger has the same methods)."""
    return cast(logging.Logger, hook.log)
