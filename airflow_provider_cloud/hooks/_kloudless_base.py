"""
The Kloudless v1 connection on the HTTP core: base URL, API version, auth, account URL, errors, paging.

:class:`KloudlessBaseHook` is what the public :class:`~airflow_provider_cloud.hooks.kloudless.KloudlessHook`
builds on; its storage and OAuth methods live in sibling modules as mixins of this class.

Connection fields: host = API base URL (default ``https://api.kloudless.com``; a trailing ``/v<N>`` is
taken as the API version), password = Bearer token or API key. Extras: ``auth_scheme`` (``Bearer`` or
``APIKey``), ``account_id`` (``me`` or a number), ``api_version``, ``raw_data``, ``as_user``, ``raw_headers``
(a JSON object), ``app_id``, plus the HTTP-core extras (timeouts, ``verify``, retry limits).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from functools import cached_property
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests

from airflow_provider_cloud.exceptions import (
    ApiResponseError,
    BadRequestError,
    CloudApiError,
    CursorExpiredError,
    NotFoundError,
    UnexpectedResponseError,
)
from airflow_provider_cloud.hooks.core import CloudApiHook, base_url_from_connection, coerce_bool

DEFAULT_BASE_URL = "https://api.kloudless.com"
DEFAULT_API_VERSION = 1
AUTH_SCHEMES = {"bearer": "Bearer", "apikey": "APIKey"}
#: The largest page the API serves (events, folder contents, accounts).
MAX_PAGE_SIZE = 1000
#: The ``error_code`` the service answers for an events cursor older than the retained events.
CURSOR_EXPIRED_CODE = "cursor_expired"
_ACCOUNT_ID = re.compile(r"^(?:\d+|me)$")
_VERSION_SUFFIX = re.compile(r"/v(\d+)$")
_RETENTION_WORDS = ("retention", "retained")


def check_page_size(page_size: int | None) -> int | None:
    """Return ``page_size`` after checking it is within 1-1000 (``None`` means the service's default)."""
    if page_size is None:
        return None
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be an integer from 1 to {MAX_PAGE_SIZE}, got {page_size!r}")
    return page_size


def _parse_api_version(value: object, where: str) -> int:
    text = str(value).strip().lower().removeprefix("v")
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{where}: api_version must be a positive integer such as 1, got {value!r}")
    return int(text)


class KloudlessBaseHook(CloudApiHook):
    """
    Talk to one Kloudless account: settings from the connection, account-relative requests, paging.

    :param kloudless_conn_id: the Airflow connection id (conn type ``kloudless``).
    :param account_id: ``"me"`` (the Bearer token's account) or a numeric account id; overrides the extra.
    :param api_version: the API version of every request (``1`` by default); overrides the extra.
    """

    service_name: ClassVar[str] = "Kloudless"

    def __init__(
        self,
        kloudless_conn_id: str = "kloudless_default",
        *,
        account_id: str | int | None = None,
        api_version: int | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(kloudless_conn_id, **kwargs)
        self.kloudless_conn_id = kloudless_conn_id
        self._account_id_arg = account_id
        self._api_version_arg = api_version

    # -- connection settings --------------------------------------------------------------------

    @cached_property
    def _host_parts(self) -> tuple[str, int | None]:
        """Return the base URL without a trailing ``/v<N>``, and that N if there was one."""
        if not (self.connection.host or "").strip():
            return DEFAULT_BASE_URL, None
        url = base_url_from_connection(self.connection, default_scheme=self.default_scheme)
        found = _VERSION_SUFFIX.search(url)
        if found:
            return url[: found.start()], int(found.group(1))
        return url, None

    @cached_property
    def base_url(self) -> str:
        """Return the API base URL, e.g. ``https://api.kloudless.com`` (versions are added per request)."""
        return self._host_parts[0]

    @cached_property
    def api_version(self) -> int:
        """Return the default API version: hook argument, ``api_version`` extra, host suffix, else 1."""
        where = f"Connection {self.conn_id!r}"
        for value in (self._api_version_arg, self.extras.get("api_version")):
            if value not in (None, ""):
                return _parse_api_version(value, where)
        return self._host_parts[1] or DEFAULT_API_VERSION

    @cached_property
    def auth_scheme(self) -> str:
        """Return ``"Bearer"`` (a per-account token, the default) or ``"APIKey"`` (app-wide key)."""
        value = str(self.extras.get("auth_scheme") or "Bearer").strip()
        scheme = AUTH_SCHEMES.get(value.lower().replace("-", "").replace("_", "").replace(" ", ""))
        if scheme is None:
            raise ValueError(
                f"Connection {self.conn_id!r}: auth_scheme must be 'Bearer' or 'APIKey', got {value!r}"
            )
        return scheme

    @cached_property
    def account_id(self) -> str:
        """
        Return the account the requests act on: ``me`` or a numeric id.

        With an API key there is no "me": the account must be named (the official SDK refuses it too).
        """
        value = self._account_id_arg
        if value in (None, ""):
            value = self.extras.get("account_id")
        text = "me" if value in (None, "") else str(value).strip()
        if not _ACCOUNT_ID.match(text):
            raise ValueError(
                f"Connection {self.conn_id!r}: account_id must be 'me' or a numeric account id, got {text!r}"
            )
        if text == "me" and self.auth_scheme == "APIKey":
            raise ValueError(
                f"Connection {self.conn_id!r} authenticates with an API key, which acts for the whole "
                "application: set the account_id extra (or the hook's account_id argument) to the numeric "
                "id of the account to use"
            )
        return text

    @cached_property
    def app_id(self) -> str | None:
        """Return the ``app_id`` extra (the OAuth client id), if set."""
        value = self.extras.get("app_id")
        return str(value).strip() if value not in (None, "") else None

    def _credential(self) -> str:
        """Return the token or API key, or say clearly that the connection has none."""
        secret = (self.connection.password or "").strip()
        if not secret:
            raise ValueError(
                f"Connection {self.conn_id!r} has no password: set it to a Bearer token or an API key"
            )
        return secret

    def auth_headers(self) -> dict[str, str]:
        """
        Return the headers of every request: ``Authorization`` and the configured ``X-Kloudless-*`` ones.

        ``raw_data`` → ``X-Kloudless-Raw-Data: true|false``, ``as_user`` → ``X-Kloudless-As-User``,
        ``raw_headers`` (a JSON object, or its text) → ``X-Kloudless-Raw-Headers``.
        """
        headers: dict[str, str] = {}
        if (self.connection.password or "").strip():
            headers["Authorization"] = f"{self.auth_scheme} {self._credential()}"
        where = f"Connection {self.conn_id!r}"
        raw_data = self.extras.get("raw_data")
        if raw_data not in (None, ""):
            try:
                headers["X-Kloudless-Raw-Data"] = "true" if coerce_bool(raw_data, default=False) else "false"
            except ValueError:
                raise ValueError(f"{where}: extra 'raw_data' must be true or false") from None
        as_user = self.extras.get("as_user")
        if as_user not in (None, ""):
            headers["X-Kloudless-As-User"] = str(as_user).strip()
        raw_headers = self.raw_headers
        if raw_headers:
            headers["X-Kloudless-Raw-Headers"] = json.dumps(raw_headers)
        return headers

    @cached_property
    def raw_headers(self) -> dict[str, str]:
        """Return the ``raw_headers`` extra: headers the service forwards to the upstream API."""
        value = self.extras.get("raw_headers")
        if value in (None, ""):
            return {}
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                value = None
        if not isinstance(value, Mapping):
            raise ValueError(
                f"Connection {self.conn_id!r}: extra 'raw_headers' must be a JSON object of header names "
                "to values"
            )
        return {str(key): str(item) for key, item in value.items()}

    # -- URLs and requests ----------------------------------------------------------------------

    def api_url(self, path: str = "", *, api_version: int | str | None = None) -> str:
        """Return ``{base_url}/v{N}/{path}``, e.g. ``api_url("accounts")``."""
        version = self.api_version if api_version is None else _parse_api_version(api_version, "api_url")
        url = f"{self.base_url}/v{version}"
        return f"{url}/{path.lstrip('/')}" if path.strip("/") else url

    def account_url(self, api_version: int | str | None = None) -> str:
        """Return the URL of the account requests act on, e.g. ``https://api.kloudless.com/v1/accounts/me``."""
        return self.api_url(f"accounts/{self.account_id}", api_version=api_version)

    def _account_path(self, path: str, api_version: int | str | None) -> str:
        if path.startswith(("http://", "https://")):
            return path
        self._credential()
        base = self.account_url(api_version)
        return f"{base}/{path.lstrip('/')}" if path.strip("/") else base

    def request_account(
        self, method: str, path: str = "", *, api_version: int | str | None = None, **kwargs: Any
    ) -> requests.Response:
        """
        Send a request relative to the account URL (``path`` like ``"storage/files/abc"``) and return the response.

        An absolute ``http(s)://`` path is used as is. Keyword arguments go to :meth:`CloudApiHook.request`.
        """
        return self.request(method, self._account_path(path, api_version), **kwargs)

    def account_json(
        self, method: str, path: str = "", *, api_version: int | str | None = None, **kwargs: Any
    ) -> Any:
        """Send a request relative to the account URL and return its JSON body."""
        return self.request_json(method, self._account_path(path, api_version), **kwargs)

    def test_connection(self) -> tuple[bool, str]:
        """Make one cheap call (``GET /v1/accounts/{id}``) and report the account the credentials reach."""
        try:
            account = self.get_account()
        except (CloudApiError, ValueError) as exc:
            return False, self.scrub(str(exc))
        service = account.get("service_name") or account.get("service") or "unknown service"
        who = account.get("account") or "unnamed"
        return (
            True,
            f"Connected to Kloudless at {self.base_url}: account {account.get('id')} ({who}, {service})",
        )

    def get_account(self, *, api_version: int | str | None = None) -> dict[str, Any]:
        """Return the account object (``id``, ``account``, ``service``, ``apis``, ...)."""
        payload = self.account_json("GET", api_version=api_version)
        if not isinstance(payload, Mapping):
            raise UnexpectedResponseError(
                "GET account: the answer is not an account object", service=self.service_name
            )
        return dict(payload)

    # -- paging -----------------------------------------------------------------------------------

    def iter_object_list(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        page_size: int | None = None,
        api_version: int | str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """
        Yield the objects of an ``object_list`` endpoint lazily, one page per request.

        The official SDK's generic rules: the next page is ``next_page`` when the key is present (``null``
        ends the list), else ``page + 1`` when ``page`` is an integer, else the list ends; a 404 on a next
        page ends it too. Each next request resends the first query with ``page`` replaced. For a bounded
        loop, an empty page or a ``next_page`` equal to the current page also ends the list.

        :param path: relative to the account URL (``"storage/folders/root/contents"``), or an absolute URL
            (``hook.api_url("accounts")`` for the application's accounts).
        """
        query = {key: value for key, value in (params or {}).items() if value is not None}
        size = check_page_size(page_size)
        if size is not None:
            query["page_size"] = size
        page: Any = query.get("page")
        first = True
        while True:
            try:
                payload = self.account_json("GET", path, api_version=api_version, params=query)
            except NotFoundError:
                if first:
                    raise
                return
            objects = payload.get("objects") if isinstance(payload, Mapping) else None
            if not isinstance(objects, list):
                raise UnexpectedResponseError(
                    f"GET {urlsplit(self._account_path(path, api_version)).path}: the answer is not an "
                    "object_list (no 'objects' list)",
                    service=self.service_name,
                )
            yield from objects
            next_page = _next_page(payload)
            if not objects or next_page is None or next_page == page:
                return
            page = next_page
            query["page"] = next_page
            first = False

    # -- errors -----------------------------------------------------------------------------------

    def error_messages(self, payload: Any, response: requests.Response) -> list[str]:
        """
        Read a Kloudless error body: ``{"status_code", "error_code", "message", "id"}``.

        Each message is ``"<error_code>: <message>"``; OAuth errors add ``error``/``error_description``.
        """
        if not isinstance(payload, Mapping) or not (
            payload.get("error_code") or payload.get("message") or payload.get("error_description")
        ):
            return super().error_messages(payload, response)
        code = payload.get("error_code") or payload.get("error")
        text = payload.get("message") or payload.get("error_description") or ""
        messages = [f"{code}: {text}" if code and text else str(code or text)]
        conflicting = payload.get("conflicting_resource_id")
        if conflicting:
            messages.append(f"conflicting_resource_id: {conflicting}")
        return messages

    def request_id(self, payload: Any, response: requests.Response) -> str | None:
        """Return the request id: the error body's ``id``, else a request-id header."""
        if isinstance(payload, Mapping) and payload.get("id") not in (None, ""):
            return str(payload["id"])
        return super().request_id(payload, response)

    def error_class(self, status: int, errors: list[str]) -> type[ApiResponseError]:
        """Map ``cursor_expired`` (or a 400 about a cursor past retention) to :class:`CursorExpiredError`."""
        cls = super().error_class(status, errors)
        if issubclass(cls, BadRequestError) and any(_is_cursor_expired(e) for e in errors):
            return CursorExpiredError
        return cls


def _is_cursor_expired(message: str) -> bool:
    lowered = message.lower()
    if lowered.startswith(f"{CURSOR_EXPIRED_CODE}:") or lowered == CURSOR_EXPIRED_CODE:
        return True
    return "cursor" in lowered and any(word in lowered for word in _RETENTION_WORDS)


def _next_page(payload: Mapping[str, Any]) -> Any:
    """Return the next page number by the SDK's rules, or ``None`` at the end."""
    if "next_page" in payload:
        return payload["next_page"]
    page = payload.get("page")
    if isinstance(page, int) and not isinstance(page, bool):
        return page + 1
    return None
