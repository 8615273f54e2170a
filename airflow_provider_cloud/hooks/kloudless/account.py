"""
``AccountHook``: what every Kloudless request needs: the connection's settings, the account's URLs, error bodies.

:class:`~airflow_provider_cloud.hooks.kloudless.hook.KloudlessHook` builds on it with the API's operations
(events, storage, several files at once, raw pass-through, OAuth); both are one hook, split only to keep each
module short.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

import requests

from airflow_provider_cloud.exceptions import (
    ApiResponseError,
    BadRequestError,
    CloudApiError,
    CursorExpiredError,
)
from airflow_provider_cloud.hooks.core import CloudApiHook, base_url_from_connection
from airflow_provider_cloud.hooks.kloudless import wire
from airflow_provider_cloud.hooks.kloudless.settings import Settings


class AccountHook(CloudApiHook):
    """
    The connection's settings, URLs and requests under the account, and how Kloudless error bodies read.

    :param conn_id: the Airflow connection id (conn type ``kloudless``).
    :param account_id: ``"me"`` or a numeric account id; overrides the connection's ``account_id`` extra.
    :param api_version: the default API version; overrides the ``api_version`` extra.
    """

    def __init__(
        self,
        conn_id: str,
        *,
        account_id: str | int | None = None,
        api_version: int | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(conn_id, **kwargs)
        self._account_id_arg = account_id
        self._api_version_arg = api_version

    def ready(self) -> None:
        """
        Read the settings and open the session now, before threads of a window share the hook.

        (``cached_property`` takes no lock from Python 3.12 on: two threads reading one first would build two.)
        """
        self._account_path("", None)
        _ = self.session, self.retry_policy, self.timeouts

    # -- connection settings --------------------------------------------------------------------

    @cached_property
    def _settings(self) -> Settings:
        conn = self.connection
        has_host = bool((conn.host or "").strip())
        if not has_host and conn.port not in (None, 0, 443):
            raise ValueError(
                f"Connection {self.conn_id!r} has Port {conn.port} but no host: the public API is"
                f" {wire.DEFAULT_BASE_URL} (port 443); set the host to reach another server"
            )
        return Settings(
            conn_id=self.conn_id,
            host_url=base_url_from_connection(conn, default_scheme=self.default_scheme) if has_host else None,
            password=conn.password,
            extras=self.extras,
            account_id=self._account_id_arg,
            api_version=self._api_version_arg,
        )

    @cached_property
    def base_url(self) -> str:
        """Return the API base URL, e.g. ``https://api.kloudless.com`` (versions are added per request)."""
        return self._settings.base_url

    @cached_property
    def api_version(self) -> int:
        """Return the default API version: hook argument, ``api_version`` extra, host suffix, else 1."""
        return self._settings.api_version

    @cached_property
    def auth_scheme(self) -> str:
        """Return ``"Bearer"`` (a per-account token, the default) or ``"APIKey"`` (app-wide key)."""
        return self._settings.auth_scheme

    @cached_property
    def account_id(self) -> str:
        """Return the account the requests act on: ``me`` or a numeric id (never ``me`` with an API key)."""
        return self._settings.account_id

    @cached_property
    def app_id(self) -> str | None:
        """Return the ``app_id`` extra (the OAuth client id), if set."""
        return self._settings.app_id

    @cached_property
    def raw_headers(self) -> dict[str, str]:
        """Return the ``raw_headers`` extra: headers the service forwards to the upstream API."""
        return self._settings.raw_headers

    def auth_headers(self) -> dict[str, str]:
        """Return ``Authorization`` and the ``X-Kloudless-*`` headers the extras ask for."""
        return self._settings.headers()

    # -- URLs and requests ----------------------------------------------------------------------

    def api_url(self, path: str = "", *, api_version: int | str | None = None) -> str:
        """Return ``{base_url}/v{N}/{path}``, e.g. ``api_url("accounts")``."""
        version = self.api_version if api_version is None else wire.parse_api_version(api_version, "api_url")
        return wire.versioned_url(self.base_url, version, path)

    def account_url(self, api_version: int | str | None = None) -> str:
        """Return the URL of the account requests act on, e.g. ``https://api.kloudless.com/v1/accounts/me``."""
        return self.api_url(f"accounts/{self.account_id}", api_version=api_version)

    def _account_path(self, path: str, api_version: int | str | None) -> str:
        if path.startswith(("http://", "https://")):
            return path
        self._settings.credential()
        base = self.account_url(api_version)
        return f"{base}/{path.lstrip('/')}" if path.strip("/") else base

    def request_account(
        self, method: str, path: str = "", *, api_version: int | str | None = None, **kwargs: Any
    ) -> requests.Response:
        """Send a request to ``path`` under the account URL (an absolute URL as is) and return the response."""
        return self.request(method, self._account_path(path, api_version), **kwargs)

    def account_json(
        self, method: str, path: str = "", *, api_version: int | str | None = None, **kwargs: Any
    ) -> Any:
        """Send a request relative to the account URL and return its JSON body."""
        return self.request_json(method, self._account_path(path, api_version), **kwargs)

    async def aaccount_json(
        self, method: str, path: str = "", *, api_version: int | str | None = None, **kwargs: Any
    ) -> Any:
        """:meth:`account_json` without blocking the event loop (``CloudApiHook.arequest_json``), for triggers."""
        return await self.arequest_json(method, self._account_path(path, api_version), **kwargs)

    def test_connection(self) -> tuple[bool, str]:
        """Make one cheap call (``GET /v1/accounts/{id}``) and report the account the credentials reach."""
        try:
            account = self.get_account()
        except (CloudApiError, ValueError) as exc:
            return False, self.scrub(str(exc))
        return True, f"Connected to Kloudless at {self.base_url}: {wire.describe_account(account)}"

    def get_account(self, *, api_version: int | str | None = None) -> dict[str, Any]:
        """Return the account object (``id``, ``account``, ``service``, ``apis``, ...)."""
        return wire.account_object(self.account_json("GET", api_version=api_version))

    def iter_object_list(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        page_size: int | None = None,
        api_version: int | str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """
        Yield an ``object_list`` lazily, a page a request; ``path`` is under the account URL, or absolute.

        ``hook.iter_object_list(hook.api_url("accounts"))`` lists the application's accounts.
        """
        query = wire.first_query(params, page_size)
        url = self._account_path(path, api_version)
        yield from wire.iter_object_list(
            lambda page: self.request_json("GET", url, params=page), query, where=f"GET {urlsplit(url).path}"
        )

    # -- error hook points ------------------------------------------------------------------------

    def error_messages(self, payload: Any, response: requests.Response) -> list[str]:
        """Read a Kloudless error body (``wire.error_messages``), else the core's default reading."""
        found = wire.error_messages(payload)
        return super().error_messages(payload, response) if found is None else found

    def request_id(self, payload: Any, response: requests.Response) -> str | None:
        """Return the request id: the error body's ``id``, else a request-id header."""
        return wire.error_request_id(payload) or super().request_id(payload, response)

    def error_class(self, status: int, errors: list[str]) -> type[ApiResponseError]:
        """Map ``cursor_expired`` (or a 400 about a cursor past retention) to :class:`CursorExpiredError`."""
        cls = super().error_class(status, errors)
        if issubclass(cls, BadRequestError) and any(wire.is_cursor_expired(e) for e in errors):
            return CursorExpiredError
        return cls
