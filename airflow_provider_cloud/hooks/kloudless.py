"""
Hook for the Kloudless v1 API: events since a cursor, storage, the raw pass-through and OAuth helpers.

Connection (conn type ``kloudless``): host = API base URL (empty: ``https://api.kloudless.com``),
password = Bearer token (one account) or API key (the whole application). Extras:

- ``auth_scheme``: ``Bearer`` (default) or ``APIKey``;
- ``account_id``: ``me`` (default, the token's account) or a numeric id - required with an API key;
- ``api_version``: default 1 (every method also takes ``api_version=`` per call where it matters);
- ``raw_data`` (``X-Kloudless-Raw-Data``), ``as_user`` (``X-Kloudless-As-User``), ``raw_headers``
  (``X-Kloudless-Raw-Headers``, a JSON object), ``app_id`` (the OAuth client id, for token checks);
- the HTTP-core extras: ``timeout``, ``connect_timeout``, ``verify``, ``retry_limit``, ...

The token or key is masked in Airflow's logs and scrubbed from every error this hook raises.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any, ClassVar

from airflow_provider_cloud.exceptions import UnexpectedResponseError
from airflow_provider_cloud.hooks._kloudless_base import check_page_size
from airflow_provider_cloud.hooks._kloudless_events import AFTER_AUTH, Cursor, EventStream
from airflow_provider_cloud.hooks._kloudless_oauth import KloudlessOAuthMixin
from airflow_provider_cloud.hooks._kloudless_storage import KloudlessStorageMixin
from airflow_provider_cloud.hooks.core import SAFE_METHODS

__all__ = ["AFTER_AUTH", "EventStream", "KloudlessHook"]


class KloudlessHook(KloudlessStorageMixin, KloudlessOAuthMixin):
    """
    Work with one Kloudless account through the v1 API.

    Events (this module), storage (``list_folder``, ``get_file_metadata``, ``get_folder_metadata``,
    ``download_file``, ``upload_file``, ``delete_file``), OAuth (``authorization_url``, ``exchange_code``,
    ``verify_token``), the raw pass-through (``raw``) and generic access (``request_account``, ``account_json``,
    ``iter_object_list``, ``account_url``, ``api_url``).

    :param kloudless_conn_id: the Airflow connection id (conn type ``kloudless``).
    :param account_id: ``"me"`` or a numeric account id; overrides the connection's ``account_id`` extra.
    :param api_version: the default API version; overrides the ``api_version`` extra.
    :param kwargs: passed to :class:`~airflow_provider_cloud.hooks._http.CloudApiHook` (``timeout``,
        ``retry_limit``, ``retry_policy``).
    """

    conn_name_attr = "kloudless_conn_id"
    default_conn_name = "kloudless_default"
    conn_type = "kloudless"
    hook_name = "Kloudless"
    service_name: ClassVar[str] = "Kloudless"

    def __init__(
        self,
        kloudless_conn_id: str = default_conn_name,
        *,
        account_id: str | int | None = None,
        api_version: int | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(kloudless_conn_id, account_id=account_id, api_version=api_version, **kwargs)

    # -- events -------------------------------------------------------------------------------------

    def get_latest_cursor(self) -> Cursor:
        """Return the cursor after the newest event (``GET .../events/latest``): start here for new events only."""
        payload = self.account_json("GET", "events/latest")
        cursor = payload.get("cursor") if isinstance(payload, Mapping) else None
        if cursor is None or cursor == "" or isinstance(cursor, bool) or not isinstance(cursor, str | int):
            raise UnexpectedResponseError(
                "GET events/latest: the answer has no cursor", service=self.service_name
            )
        return cursor

    def get_oldest_cursor(self) -> Cursor:
        """
        Return a cursor before the oldest event the service still keeps.

        This is the documented special cursor ``"after-auth"`` (every retained event since the account was
        connected), so no request is needed; the first page read from it answers an ordinary cursor.
        Unlike ``from=<time>`` windows, whose follow-up cursors stay inside the window, it reads on to the
        newest event, and it never expires.
        """
        return AFTER_AUTH

    def get_events_page(self, cursor: Cursor | None, *, page_size: int | None = None) -> dict[str, Any]:
        """
        Read one page of events after ``cursor`` (``GET .../events?cursor=...&page_size=...``).

        Return the API's answer: ``{"objects": [event, ...], "cursor": <cursor after them>, "remaining":
        <events still waiting>, "count": <len(objects)>, ...}``. Caught up, it is an empty page with the same
        cursor. ``remaining`` is ``None`` if the service leaves it out. ``cursor=None`` starts at the oldest
        retained event.

        :raises CursorExpiredError: the cursor is older than the events the service keeps.
        """
        params: dict[str, Any] = {}
        if cursor is not None:
            params["cursor"] = str(cursor)
        size = check_page_size(page_size)
        if size is not None:
            params["page_size"] = size
        payload = self.account_json("GET", "events", params=params)
        objects = payload.get("objects") if isinstance(payload, Mapping) else None
        if not isinstance(objects, list):
            raise UnexpectedResponseError(
                "GET events: the answer is not a page of events (no 'objects' list)",
                service=self.service_name,
            )
        page = dict(payload)
        if page.get("cursor") in (None, "") and not objects:
            page["cursor"] = cursor
        remaining = page.get("remaining")
        page["remaining"] = None if remaining in (None, "") else int(remaining)
        page["count"] = int(page.get("count") or len(objects))
        return page

    def iter_events(
        self,
        cursor: Cursor | None,
        *,
        page_size: int | None = None,
        max_events: int | None = None,
        types: str | Collection[str] | None = None,
    ) -> EventStream:
        """
        Return the events after ``cursor`` as an :class:`EventStream`, read lazily page by page.

        ``stream.cursor`` is the cursor matching exactly the events consumed (see :class:`EventStream`),
        ``stream.previous_cursor`` the starting one, ``stream.count`` the events yielded::

            stream = hook.iter_events(stored_cursor, max_events=500, types={"add"})
            events = list(stream)
            store(stream.cursor)  # the next run starts right after these events

        :param page_size: events per request (1-1000; default 1000, lowered to fit ``max_events``).
        :param max_events: yield at most this many; pages are sized so the stream ends on a page boundary.
        :param types: keep only these event types; skipped events are consumed (the cursor moves past them).
        :raises CursorExpiredError: from iteration, when the cursor is older than the retained events.
        """
        check_page_size(page_size)
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
        """
        Send a request to the upstream service's own API through Kloudless (``POST .../raw``).

        :param method: the upstream method (``X-Kloudless-Raw-Method``).
        :param uri: the upstream path, e.g. ``/drive/v2/about`` (``X-Kloudless-Raw-URI``).
        :param data: the body to forward: bytes or text as is, anything else as JSON.
        :param headers: headers for the upstream request, sent in ``X-Kloudless-Raw-Headers`` (merged over
            the connection's ``raw_headers``).
        :return: the upstream answer: decoded JSON when it is JSON, else the raw bytes.

        The request is retried on server errors only when the upstream method is safe to repeat.
        """
        upstream = method.strip().upper()
        request_headers = {"X-Kloudless-Raw-Method": upstream, "X-Kloudless-Raw-URI": uri}
        if headers:
            request_headers["X-Kloudless-Raw-Headers"] = json.dumps({**self.raw_headers, **headers})
        body: Any = data
        if data is not None and not isinstance(data, bytes | bytearray | str):
            body = json.dumps(data)
            request_headers["Content-Type"] = "application/json"
        response = self.request_account(
            "POST",
            "raw",
            api_version=api_version,
            data=body,
            headers=request_headers,
            idempotent=upstream in SAFE_METHODS,
        )
        try:
            if "json" in (response.headers.get("Content-Type") or "").lower():
                return self.parse_json(response, "POST raw")
            return response.content
        finally:
            response.close()
