"""
``KloudlessHook``: the connection's settings and the account's URLs; every method delegates to a helper.

The helpers get plain values and, to send a request, a narrow callable such as ``request_json``; they
return what they learned and never hold the hook.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterator, Mapping
from datetime import datetime
from functools import cached_property, partial
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests

from airflow_provider_cloud.exceptions import (
    ApiResponseError,
    BadRequestError,
    CloudApiError,
    CursorExpiredError,
)
from airflow_provider_cloud.hooks.core import CloudApiHook, base_url_from_connection
from airflow_provider_cloud.hooks.kloudless import events, oauth, storage, wire
from airflow_provider_cloud.hooks.kloudless.events import AFTER_AUTH, Cursor, EventStream
from airflow_provider_cloud.hooks.kloudless.settings import Settings
from airflow_provider_cloud.hooks.kloudless.storage import ROOT_FOLDER, PathLike
from airflow_provider_cloud.rows.paths import as_storage_path


class KloudlessHook(CloudApiHook):
    """
    Work with one Kloudless account through the v1 API: events, storage, raw pass-through, OAuth.

    The connection's fields and extras are described in ``settings.py``; its token or key is masked in
    Airflow's logs and scrubbed from every error.

    :param kloudless_conn_id: the Airflow connection id (conn type ``kloudless``).
    :param account_id: ``"me"`` or a numeric account id; overrides the connection's ``account_id`` extra.
    :param api_version: the default API version; overrides the ``api_version`` extra.
    :param kwargs: passed to :class:`~airflow_provider_cloud.hooks.core.CloudApiHook` (``timeout``,
        ``retry_limit``, ``retry_policy``).
    """

    conn_name_attr = "kloudless_conn_id"
    default_conn_name = "kloudless_default"
    conn_type = "kloudless"
    hook_name = "Kloudless"
    service_name: ClassVar[str] = wire.SERVICE

    def __init__(
        self,
        kloudless_conn_id: str = default_conn_name,
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
    def _settings(self) -> Settings:
        conn = self.connection
        has_host = bool((conn.host or "").strip())
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

    # -- events -------------------------------------------------------------------------------------

    def get_latest_cursor(self) -> Cursor:
        """Return the cursor after the newest event (``GET .../events/latest``): start here for new events only."""
        return events.latest_cursor(self.account_json("GET", "events/latest"))

    def get_oldest_cursor(self) -> Cursor:
        """Return the cursor before the oldest event the service still keeps, :data:`AFTER_AUTH` (no request)."""
        return AFTER_AUTH

    def get_events_page(self, cursor: Cursor | None, *, page_size: int | None = None) -> dict[str, Any]:
        """
        Read one page ``{"objects", "cursor", "remaining", "count", ...}`` of events after ``cursor``.

        ``None`` starts at the oldest retained event; caught up, the page is empty with the same cursor.

        :raises CursorExpiredError: the cursor is older than the events the service keeps.
        """
        payload = self.account_json("GET", "events", params=events.page_query(cursor, page_size))
        return events.events_page(payload, cursor)

    def iter_events(
        self,
        cursor: Cursor | None,
        *,
        page_size: int | None = None,
        max_events: int | None = None,
        types: str | Collection[str] | None = None,
    ) -> EventStream:
        """
        Return the events after ``cursor`` as an :class:`EventStream` (same arguments), read page by page.

        ``stream.cursor`` is the cursor matching exactly the events consumed::

            stream = hook.iter_events(stored_cursor, max_events=500, types={"add"})
            events = list(stream)
            store(stream.cursor)  # the next run starts right after these events

        :raises CursorExpiredError: from iteration, when the cursor is older than the retained events.
        """
        return EventStream(
            lambda at, size: self.get_events_page(at, page_size=size),
            cursor,
            page_size=page_size,
            max_events=max_events,
            types=types,
        )

    # -- pass-through ---------------------------------------------------------------------------------

    def raw(
        self,
        method: str,
        uri: str,
        *,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        api_version: int | str | None = None,
    ) -> Any:
        """Send ``method uri`` on to the upstream API (``POST .../raw``); return its JSON, else its bytes."""
        sent = wire.raw_request(method, uri, data=data, headers=headers, raw_headers=self.raw_headers)
        response = self.request_account("POST", "raw", api_version=api_version, **sent)
        with contextlib.closing(response):
            if "json" in (response.headers.get("Content-Type") or "").lower():
                return self.parse_json(response, "POST raw")
            return response.content

    # -- storage ----------------------------------------------------------------------------------

    def list_folder(
        self, folder_id: str = ROOT_FOLDER, *, recursive: bool = False, page_size: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Yield the metadata of a folder's files and folders lazily, page by page (all levels if ``recursive``)."""
        return self.iter_object_list(
            f"{storage.item_path('folder', folder_id)}/contents",
            params={"recursive": "true"} if recursive else None,
            page_size=wire.check_page_size(page_size),
        )

    def get_file_metadata(self, file_id: str) -> dict[str, Any]:
        """Return a file's metadata (``id``, ``name``, ``size``, ``parent``, ``modified``, ...)."""
        return dict(self.account_json("GET", storage.item_path("file", file_id)))

    def get_folder_metadata(self, folder_id: str = ROOT_FOLDER) -> dict[str, Any]:
        """Return a folder's metadata."""
        return dict(self.account_json("GET", storage.item_path("folder", folder_id)))

    def delete_file(self, file_id: str) -> None:
        """Delete a file."""
        self.request_account("DELETE", storage.item_path("file", file_id)).close()

    def download_file(self, file_id: str, destination: PathLike) -> dict[str, Any]:
        """
        Stream a file's contents to ``destination`` (a local path or any ``ObjectStoragePath``).

        The destination appears only once complete; a failure leaves it as it was (``storage.download``).
        Return ``{"file_id", "path", "size"}``.
        """
        target = as_storage_path(destination)
        path = f"{storage.item_path('file', file_id)}/contents"
        size = storage.download(
            lambda: self.request_account("GET", path, stream=True),
            target,
            where=path,
            policy=self.retry_policy,
            sleep=self._sleep,
            warn=self.log.warning,
            scrub=self.scrub,
        )
        self.log.info("Downloaded Kloudless file %s to %s (%d bytes)", file_id, target, size)
        return {"file_id": file_id, "path": str(target), "size": size}

    def upload_file(
        self,
        source: PathLike,
        *,
        parent_id: str = ROOT_FOLDER,
        name: str | None = None,
        overwrite: bool = False,
        since: datetime | None = None,
    ) -> dict[str, Any]:
        """
        Stream a file (a local path or any ``ObjectStoragePath``) into a Kloudless folder; return its metadata.

        ``overwrite`` replaces a file of that name (else a 409 ``ConflictError``) and is safe to retry. A plain
        upload whose answer is lost is checked: the file it made (same name and size, created since it began:
        ``uploads.py``) counts as done, else it is sent again. ``since`` (a retried task's) makes such a file
        created since then count as this upload's instead of a 409.
        """
        params = {"overwrite": "true"} if overwrite else None
        send = partial(self.account_json, "POST", "storage/files", params=params, idempotent=overwrite)
        listing = None if overwrite else partial(self.list_folder, parent_id, page_size=wire.MAX_PAGE_SIZE)
        done = storage.upload(send, source, parent_id=parent_id, name=name, listing=listing, since=since)
        how = "Found already uploaded" if done.found else "Uploaded"
        self.log.info("%s %s to Kloudless as %s (%d bytes)", how, done.source, done.metadata["id"], done.size)
        return done.metadata

    # -- OAuth ----------------------------------------------------------------------------------------

    def authorization_url(
        self,
        *,
        client_id: str | None = None,
        redirect_uri: str,
        scope: str = "all",
        extra_params: Mapping[str, Any] | None = None,
    ) -> tuple[str, str]:
        """
        Return ``(url, state)``: the page to send the user to, and the random state to check on the way back.

        :param client_id: the application id (default: the connection's ``app_id`` extra).
        :param scope: space-separated scopes, e.g. ``"storage"`` or ``"box:normal.storage"``.
        :param extra_params: more query parameters (``extra_data``, ``account_id``, ...).
        """
        return oauth.authorization_url(
            self.api_url("oauth"),
            client_id=self._settings.client_id(client_id, "client_id"),
            redirect_uri=redirect_uri,
            scope=scope,
            extra_params=extra_params,
        )

    def exchange_code(
        self,
        *,
        code: str,
        state: str | None,
        expected_state: str | None,
        client_id: str | None = None,
        redirect_uri: str,
    ) -> dict[str, Any]:
        """
        Exchange the redirect's code for a Bearer token (needs the API key), after checking the state.

        Return the answer (``access_token``, ``account_id``, ``scope``, ...), its tokens masked at once: store
        it in a connection, never in XCom.

        :raises AuthenticationError: ``state`` differs from ``expected_state`` (nothing is sent).
        """
        self.register_secret(code)
        oauth.check_state(state, expected_state)
        answer = oauth.exchange_code(
            self.request_json,
            self.api_url("oauth/token"),
            code=code,
            redirect_uri=redirect_uri,
            api_key=self._settings.api_key("exchanging a code"),
            client_id=self._settings.client_id(client_id, "client_id"),
        )
        for secret in oauth.token_secrets(answer):
            self.register_secret(secret)
        return answer

    def verify_token(self, token: str, *, app_id: str | None = None) -> dict[str, Any]:
        """
        Return what the service says of a Bearer token (``client_id``, ``account_id``, ``scope``, ...).

        :param app_id: the application the token must belong to (default: the ``app_id`` extra).
        :raises AuthenticationError: the service does not know the token, or it was issued to another app.
        """
        if not token:
            raise ValueError("verify_token needs a token")
        self.register_secret(token)
        expected = self._settings.client_id(app_id, "app_id")
        url = self.api_url("oauth/token", api_version=oauth.VERIFY_TOKEN_API_VERSION)
        return oauth.verify_token(self.request_json, url, token, app_id=expected)
