"""
The settings of one Kloudless connection, read from plain values (hook arguments win over extras).

Connection (conn type ``kloudless``): host = API base URL (empty: ``https://api.kloudless.com``; a trailing
``/v<N>`` is taken as the API version), password = Bearer token (one account) or API key (the whole
application). Extras:

- ``auth_scheme``: ``Bearer`` (default) or ``APIKey``;
- ``account_id``: ``me`` (default, the token's account) or a numeric id - required with an API key;
- ``api_version``: default 1 (methods also take ``api_version=`` per call where it matters);
- ``raw_data`` (``X-Kloudless-Raw-Data``), ``as_user`` (``X-Kloudless-As-User``), ``raw_headers``
  (``X-Kloudless-Raw-Headers``, a JSON object), ``app_id`` (the OAuth client id, for token checks);
- the HTTP-core extras: ``timeout``, ``connect_timeout``, ``verify``, ``retry_limit``, ...

Each setting is read and checked on first use, not all at once: an API-key connection reaches the
application-wide URLs without an account id, and a bad extra fails only what needs it, naming it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cached_property
from typing import Any

from airflow_provider_cloud.hooks.kloudless import wire


class Settings:
    """
    The connection's settings, each a property read on first use.

    :param host_url: the connection's base URL, or ``None`` when it has no host (the public API).
    """

    def __init__(
        self,
        *,
        conn_id: str,
        host_url: str | None,
        password: str | None,
        extras: Mapping[str, Any],
        account_id: str | int | None,
        api_version: int | str | None,
    ) -> None:
        self.where = f"Connection {conn_id!r}"
        self._conn_id = conn_id
        self._host_url = host_url
        self._password = (password or "").strip()
        self._extras = extras
        self._account_id_arg = account_id
        self._api_version_arg = api_version

    @cached_property
    def _host_parts(self) -> tuple[str, int | None]:
        return (wire.DEFAULT_BASE_URL, None) if self._host_url is None else wire.split_version(self._host_url)

    @cached_property
    def base_url(self) -> str:
        return self._host_parts[0]

    @cached_property
    def api_version(self) -> int:
        for value in (self._api_version_arg, self._extras.get("api_version")):
            if value not in (None, ""):
                return wire.parse_api_version(value, self.where)
        return self._host_parts[1] or wire.DEFAULT_API_VERSION

    @cached_property
    def auth_scheme(self) -> str:
        return wire.parse_auth_scheme(self._extras.get("auth_scheme"), self.where)

    @cached_property
    def account_id(self) -> str:
        value = self._account_id_arg
        if value in (None, ""):
            value = self._extras.get("account_id")
        return wire.parse_account_id(value, auth_scheme=self.auth_scheme, where=self.where)

    @cached_property
    def app_id(self) -> str | None:
        value = self._extras.get("app_id")
        return str(value).strip() if value not in (None, "") else None

    @cached_property
    def raw_headers(self) -> dict[str, str]:
        return wire.parse_raw_headers(self._extras.get("raw_headers"), self.where)

    def credential(self) -> str:
        """Return the token or API key, or say clearly that the connection has none."""
        if not self._password:
            raise ValueError(f"{self.where} has no password: set it to a Bearer token or an API key")
        return self._password

    def api_key(self, purpose: str) -> str:
        """Return the application's API key, or say that ``purpose`` needs a connection holding one."""
        if self.auth_scheme != "APIKey":
            raise ValueError(
                f"{self.where}: {purpose} needs the application's API key (it is the client_secret); "
                "use a connection with auth_scheme APIKey and the key as password"
            )
        return self.credential()

    def client_id(self, given: str | None, argument: str) -> str:
        """Return the OAuth client id: ``given``, else the ``app_id`` extra."""
        chosen = given or self.app_id
        if not chosen:
            raise ValueError(
                f"Give {argument}= (the application id) or set the app_id extra of connection {self._conn_id!r}"
            )
        return chosen

    def headers(self) -> dict[str, str]:
        """Return ``Authorization`` (with a password) and the ``X-Kloudless-*`` headers of the extras."""
        headers: dict[str, str] = {}
        if self._password:
            headers["Authorization"] = f"{self.auth_scheme} {self.credential()}"
        extras = self._extras
        headers.update(
            wire.option_headers(
                raw_data=extras.get("raw_data"), as_user=extras.get("as_user"), where=self.where
            )
        )
        if self.raw_headers:
            headers["X-Kloudless-Raw-Headers"] = json.dumps(self.raw_headers)
        return headers
