"""
``KloudlessHook``: the API's operations on one account; every method delegates to a helper.

The connection's settings, the account's URLs and error bodies are in ``account.py`` (its base class). The
helpers get plain values and, to send a request, a narrow callable such as ``request_json``; they return what
they learned and never hold the hook.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from datetime import datetime
from functools import partial
from typing import Any, ClassVar

from airflow_provider_cloud.hooks.kloudless import events, oauth, storage, transfers, wire
from airflow_provider_cloud.hooks.kloudless.account import AccountHook
from airflow_provider_cloud.hooks.kloudless.events import AFTER_AUTH, Cursor, EventBatch, EventStream
from airflow_provider_cloud.hooks.kloudless.storage import ROOT_FOLDER, PathLike
from airflow_provider_cloud.rows.paths import as_storage_path


class KloudlessHook(AccountHook):
    """
    Work with one Kloudless account through the v1 API: events, storage, raw pass-through, OAuth.

    The connection's fields and extras are described in ``settings.py``; its token or key is masked in
    Airflow's logs and scrubbed from every error. Files move several at once (:meth:`download_files`,
    :meth:`upload_files`: up to :attr:`window` in flight); events are read one page after another, always.

    :param kloudless_conn_id: the Airflow connection id (conn type ``kloudless``).
    :param account_id: ``"me"`` or a numeric account id; overrides the connection's ``account_id`` extra.
    :param api_version: the default API version; overrides the ``api_version`` extra.
    :param kwargs: passed to :class:`~airflow_provider_cloud.hooks.core.CloudApiHook` (``timeout``,
        ``retry_limit``, ``retry_policy``, ``window``).
    """

    conn_name_attr = "kloudless_conn_id"
    default_conn_name = "kloudless_default"
    conn_type = "kloudless"
    hook_name = "Kloudless"
    service_name: ClassVar[str] = wire.SERVICE
    #: Files in flight at once (:meth:`download_files`, :meth:`upload_files`): 16, chosen by measurement
    #: (``benchmarks/kloudless_files.py``; the figures and the reasons are in ``transfers.py``).
    default_window: ClassVar[int] = 16

    def __init__(
        self,
        kloudless_conn_id: str = default_conn_name,
        *,
        account_id: str | int | None = None,
        api_version: int | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(kloudless_conn_id, account_id=account_id, api_version=api_version, **kwargs)
        self.kloudless_conn_id = kloudless_conn_id

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

    async def aget_latest_cursor(self) -> Cursor:
        """:meth:`get_latest_cursor` without blocking the event loop (triggers)."""
        return events.latest_cursor(await self.aaccount_json("GET", "events/latest"))

    async def aget_oldest_cursor(self) -> Cursor:
        """:meth:`get_oldest_cursor` for the async path (no request either)."""
        return self.get_oldest_cursor()

    async def aget_events_page(
        self, cursor: Cursor | None, *, page_size: int | None = None
    ) -> dict[str, Any]:
        """:meth:`get_events_page` without blocking the event loop (triggers)."""
        payload = await self.aaccount_json("GET", "events", params=events.page_query(cursor, page_size))
        return events.events_page(payload, cursor)

    async def aread_events(
        self,
        cursor: Cursor,
        *,
        event_types: list[str] | None = None,
        max_events: int = events.DEFAULT_MAX_EVENTS,
        page_size: int | None = None,
    ) -> EventBatch:
        """
        Read at most ``max_events`` events of ``event_types`` after ``cursor`` without blocking (triggers).

        The batch :func:`~airflow_provider_cloud.hooks.kloudless.read_events` reads through :meth:`iter_events`,
        page by page on the hook's async client.

        :raises CursorExpiredError: the cursor is older than the events the service keeps.
        """
        return await events.aread_events(
            lambda at, size: self.aget_events_page(at, page_size=size),
            cursor,
            event_types=event_types,
            max_events=max_events,
            page_size=page_size,
        )

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

        Pages are read one after another, one request at a time, whatever the hook's :attr:`window`: a page's
        cursor is the position the next page starts from, so no page can be asked for before the one before
        it has answered.

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

    def create_folder(self, name: str, *, parent_id: str = ROOT_FOLDER) -> dict[str, Any]:
        """Create a folder in ``parent_id``; one already of that name is answered instead (so safe to repeat)."""
        body = {"parent_id": parent_id, "name": storage.check_name(name)}
        return dict(self.account_json("POST", "storage/folders", json_body=body, idempotent=True))

    def delete_folder(self, folder_id: str, *, recursive: bool = False) -> None:
        """Delete a folder (and, with ``recursive``, all it holds; else a folder with items is refused)."""
        params = {"recursive": "true"} if recursive else None
        self.request_account("DELETE", storage.item_path("folder", folder_id), params=params).close()

    def move_file(self, file_id: str, *, name: str, parent_id: str) -> dict[str, Any]:
        """Rename a file and/or move it into another folder (``PATCH``); return its new metadata."""
        body = {"name": storage.check_name(name), "parent_id": parent_id}
        return dict(self.account_json("PATCH", storage.item_path("file", file_id), json_body=body))

    def read_file_range(self, file_id: str, start: int, end: int) -> bytes:
        """
        Return bytes ``start`` to ``end`` (excluded) of a file: one ``GET .../contents`` with a ``Range`` header.

        A server that ignores ``Range`` answers 200 with the whole body: it is read only up to ``end``.
        """
        if end <= start:
            return b""
        path = f"{storage.item_path('file', file_id)}/contents"
        headers = {"Range": f"bytes={start}-{end - 1}"}
        response = self.request_account("GET", path, headers=headers, stream=True)
        with contextlib.closing(response):
            return storage.ranged_body(response, start, end)

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

    # -- several files at once (``transfers.py``) ------------------------------------------------------

    def get_files_metadata(self, file_ids: Iterable[str]) -> list[dict[str, Any]]:
        """Return several files' metadata (:meth:`get_file_metadata`), up to :attr:`window` at once, in order."""
        self.ready()
        return transfers.transfer_all(
            self.get_file_metadata, file_ids, window=self.window, name="kloudless-metadata"
        )

    def download_files(
        self, files: Iterable[tuple[str, PathLike]], *, missing_ok: bool = False
    ) -> list[dict[str, Any] | None]:
        """
        Download ``(file_id, destination)`` pairs, up to :attr:`window` at once, each by :meth:`download_file`.

        Return its results in the order given; with ``missing_ok`` a file gone (404) gives ``None`` in its
        place. The first failure stops new downloads and is raised once those in flight are done.
        """
        self.ready()

        def one(job: tuple[str, PathLike]) -> dict[str, Any]:
            return self.download_file(*job)

        transfer: Callable[[tuple[str, PathLike]], dict[str, Any] | None]
        transfer = transfers.missing_as_none(one) if missing_ok else one
        return transfers.transfer_all(transfer, files, window=self.window, name="kloudless-download")

    def upload_files(
        self,
        sources: Iterable[PathLike],
        *,
        parent_id: str = ROOT_FOLDER,
        overwrite: bool = False,
        since: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """
        Upload files into one folder under their own names, up to :attr:`window` at once; return their metadata.

        Each is :meth:`upload_file` (the same check of a lost answer, the same ``since`` rule), in the order
        given. Two sources of one name fail before anything is sent; the first failure stops new uploads.
        """
        paths = [as_storage_path(source) for source in sources]
        transfers.check_unique_names([(str(path), path.name) for path in paths], parent_id)
        self.ready()
        upload = partial(self.upload_file, parent_id=parent_id, overwrite=overwrite, since=since)
        return transfers.transfer_all(upload, paths, window=self.window, name="kloudless-upload")

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
