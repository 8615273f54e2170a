"""
A local emulator of the Kloudless v1 API (walkthrough and inferred choices: the README's "The emulators").

Paths are ``{url}/v1/...`` (:attr:`KloudlessEmulator.api_base`). [I] marks a choice made here because the
reference is silent.

**Implemented**

- Auth: ``Authorization: Bearer <token>`` (one account; mint with :meth:`~KloudlessEmulator.create_token`,
  or through OAuth) and ``Authorization: APIKey <key>`` (the whole app). Accounts by numeric id or ``me``
  (``me`` needs a Bearer token [I]); the 401/403 error_codes of each case [I].
- Accounts: ``GET /accounts`` (page, page_size 1-1000 default 10, ``active`` and ``enabled`` (both the
  ``active`` flag [I]), ``admin``; a Bearer token sees its own account only), ``GET /accounts/{id|me}``,
  ``PATCH`` (``active``, ``account``; read-only fields only unchanged, else 400 [I]) and ``DELETE`` (204; the
  account's tokens, files and events are gone).
- Events: ``GET .../events/latest`` → ``{"cursor": <int>}``; ``GET .../events`` with ``cursor`` (also
  ``after-auth``) or ``from`` [+ ``until``], and ``page_size`` 1-1000 → ``{"objects", "cursor", "count",
  "remaining", "type": "object_list", "api": "events"}``; caught up → empty page with the same cursor.
  Events: ``id`` (opaque, unique), ``event_id`` (int, unique), ``account``, ``action``, ``type`` (add, delete,
  update, rename, move, copy, restore), ``modified``, ``ip``, ``user_id``, ``metadata``. Retention by age
  and count; a cursor older than the retained events is 400 ``cursor_expired`` [I]; cursors are integers, or
  strings inside a ``from``/``until`` window [I]. The SDK's ``get_paging_iterator()`` stops on the first empty
  page and sets ``latest_cursor``.
- Storage: folder metadata, contents (page/page_size/recursive, ``page`` + ``next_page``; a page past the end
  is a 404), create (``conflict_if_exists``), rename/move (``PATCH`` name/parent_id), delete (``recursive``);
  file upload (``X-Kloudless-Metadata`` + raw body, ``overwrite``), metadata, download (streamed in chunks),
  overwrite (``PUT``), rename/move, delete. Every change emits its event (add, update, rename, move, delete).
  A move to another account (``PATCH`` with ``"account": <id>``, files and folders) copies the item there and
  deletes it here: this account sees ``delete`` events, the other ``add`` events, and the answer is the item in
  the other account [I]; a Bearer token cannot reach another account (403).
  Root id ``root``, status codes, ordering and page sizes [I].
- Calendar: ``GET .../cal/calendars``, ``.../cal/calendars/{id|primary}``, list/create/get/delete events of a
  calendar (creating or deleting emits an ``add`` / ``delete`` event).
- Pass-through: ``.../raw`` (any method) with ``X-Kloudless-Raw-Method`` and ``X-Kloudless-Raw-URI``; there
  is no upstream service, so the answer is a JSON echo of what would be forwarded [I]:
  ``{"emulated": true, "account", "service", "method", "uri", "headers", "body", "body_size"}``.
- OAuth: ``GET /oauth`` (302 to ``redirect_uri?code=...&state=...``, or ``?error=...``), ``POST /oauth/token``
  (the body is read as a form whatever the Content-Type, e.g. the SDK's ``application/form-urlencoded``;
  one-time codes) and ``GET /oauth/token`` (token verification). :meth:`~KloudlessEmulator.authorize` mints a
  code without the browser leg. The service an authorization connects, code lifetime and error bodies [I].
- Headers: ``X-Kloudless-Raw-Data: true`` adds a ``raw`` object to accounts and storage metadata;
  ``X-Kloudless-As-User`` becomes the ``user_id`` of the events a request causes; ``X-Kloudless-Raw-Headers``
  must be a JSON object (else 400) and is forwarded in the raw echo. :attr:`~KloudlessEmulator.requests_seen`
  keeps the last 1000 requests (method, path, query, headers with the Authorization credential masked).
- Errors: ``{"status_code", "error_code", "message", "id"}`` (+ ``conflicting_resource_id`` on 409), with the
  documented error_code table. Faults: :meth:`~KloudlessEmulator.fail_next`,
  :meth:`~KloudlessEmulator.rate_limit_next` (429 + ``Retry-After``), :meth:`~KloudlessEmulator.clear_faults`,
  :attr:`~KloudlessEmulator.latency` (added before each reply is written).
- ``/v1`` and ``/v2`` are served alike [I]; any other ``/vN`` answers 404.

**Not implemented**, answered 501 ``not_implemented`` naming what is missing (``_kloudless/unserved.py``; a
path the API does not have is a 404): importing an account (its upstream credentials), and updating upstream
credentials (``token``, ``refresh_token``, ...); comma-separated account ids; the Meta API; the Management API
(applications, API keys, webhooks); the services list; storage search; recent files; links; multipart uploads;
quotas; upload URLs; id conversion; raw id encoding; copying files and folders; links, permissions and
properties; thumbnails; the Task API; the Team API (users, groups); the CRM API; creating calendars; updating
or deleting calendars; updating calendar events; upstream cursors; time filters of calendar events. Not
emulated at all (no answer depends on them): scope enforcement (scopes are recorded only) and token expiry.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Self

from airflow_provider_cloud.testing._emulator.base import Emulator
from airflow_provider_cloud.testing._emulator.faults import Faults
from airflow_provider_cloud.testing._emulator.messages import RequestLog
from airflow_provider_cloud.testing._kloudless.backend import AccountState, KloudlessBackend
from airflow_provider_cloud.testing._kloudless.errors import CURSOR_EXPIRED, KloudlessApiError, injected_fault
from airflow_provider_cloud.testing._kloudless.records import iso, opaque_id
from airflow_provider_cloud.testing._kloudless.routes import KloudlessRoutes
from airflow_provider_cloud.testing._kloudless.storage import ROOT_ID

__all__ = ["CURSOR_EXPIRED", "KloudlessApiError", "KloudlessEmulator"]

REQUEST_LOG_SIZE = 1000


class KloudlessEmulator(Emulator):
    """A Kloudless v1 API on 127.0.0.1: start it, create accounts and tokens, point a client at :attr:`url`."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        app_id: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        retention_seconds: float = 86400,
        retention_max_events: int = 10000,
    ) -> None:
        self._backend = KloudlessBackend(
            api_key=api_key or secrets.token_urlsafe(24),
            app_id=app_id or "app-" + secrets.token_hex(6),
            retention_seconds=retention_seconds,
            retention_max_events=retention_max_events,
        )
        self._seen: RequestLog[dict[str, Any]] = RequestLog(REQUEST_LOG_SIZE, self._backend.lock)
        faults = Faults(self._backend.lock)
        routes = KloudlessRoutes(self._backend, faults=faults, seen=self._seen)
        super().__init__(
            routes,
            faults,
            host=host,
            port=port,
            name="Kloudless emulator",
            version="KloudlessEmulator/1.0",
            idle_timeout=60.0,
        )

    # ---- life cycle ----------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind the port, serve in a daemon thread and wait until it is serving (no-op if running)."""
        return self if self.running else super().start()

    @property
    def api_base(self) -> str:
        """Return the v1 API prefix, ``{url}/v1``."""
        return self.url + "/v1"

    @property
    def api_key(self) -> str:
        """Return the app's API key (``Authorization: APIKey <key>``, and the OAuth ``client_secret``)."""
        return self._backend.api_key

    @property
    def app_id(self) -> str:
        """Return the app id (the OAuth ``client_id``)."""
        return self._backend.app_id

    def reset(self) -> None:
        """Drop accounts, tokens, files, events, faults, latency, the clock offset and the request log (not the key)."""
        with self._backend.lock:
            self._backend.reset()
            self._faults.reset()
            self._seen.clear()

    # ---- accounts, tokens, OAuth ---------------------------------------------------------------

    def create_account(
        self,
        *,
        service: str = "gdrive",
        account: str = "user@example.com",
        admin: bool = False,
        active: bool = True,
        apis: Sequence[str] = ("storage", "calendar"),
        scope: str = "all",
    ) -> int:
        """Connect an account and return its numeric id."""
        state = self._backend.create_account(
            service=service, account=account, admin=admin, active=active, apis=tuple(apis), scope=scope
        )
        return state.record.id

    def account(self, account_id: int) -> dict[str, Any]:
        """Return the account object the API answers for this id."""
        with self._backend.lock:
            return self._state(account_id).record.to_json()

    def create_token(self, account_id: int, *, scope: str = "all", token: str | None = None) -> str:
        """Mint a Bearer token for one account; ``token`` chooses its value (a distinctive one to scan for)."""
        return self._backend.create_token(account_id, scope=scope, token=token)

    def revoke_token(self, token: str) -> bool:
        """Revoke a Bearer token (later requests get 401 invalid_token); return whether it existed."""
        return self._backend.revoke_token(token)

    def authorize(
        self, account_id: int, *, redirect_uri: str = "http://localhost/callback", scope: str = "all"
    ) -> str:
        """Return a one-time code for ``POST /v1/oauth/token``, as if the user had approved the app."""
        return self._backend.issue_code(account_id, redirect_uri=redirect_uri, scope=scope)

    # ---- events --------------------------------------------------------------------------------

    def produce_event(
        self,
        account_id: int,
        type: str = "add",
        metadata: dict[str, Any] | None = None,
        *,
        user_id: str | None = None,
        ip: str | None = None,
    ) -> dict[str, Any]:
        """Append an event to an account's stream (metadata defaults to a made-up file) and return it."""
        with self._backend.lock:
            state = self._state(account_id)
            if metadata is None:
                metadata = self._synthetic_file(state)
            return copy.deepcopy(self._backend.emit(state, type, metadata, user=user_id, ip=ip))

    def events(self, account_id: int) -> list[dict[str, Any]]:
        """Return the retained events of an account, oldest first."""
        with self._backend.lock:
            return self._backend.retained_events(self._state(account_id))

    def latest_cursor(self, account_id: int) -> int:
        """Return what ``GET .../events/latest`` answers for this account."""
        with self._backend.lock:
            return self._backend.latest_cursor(self._state(account_id))

    def now(self) -> datetime:
        """Return the emulator's clock (wall clock plus :meth:`advance_clock`)."""
        return self._backend.now()

    def advance_clock(self, seconds: float) -> None:
        """Move the clock forward: events older than the retention window are dropped, codes expire."""
        self._backend.advance_clock(seconds)

    # ---- storage -------------------------------------------------------------------------------

    def add_file(
        self, account_id: int, name: str, content: bytes, parent_id: str = ROOT_ID, *, overwrite: bool = False
    ) -> dict[str, Any]:
        """Upload a file as the API would (emits ``add``, or ``update`` with overwrite); return its metadata."""
        with self._backend.lock:
            state = self._state(account_id)
            node, _ = state.storage.upload(
                parent_id,
                name,
                content,
                now=self._backend.now(),
                user=state.record.user_id,
                overwrite=overwrite,
            )
            return state.storage.metadata(node)

    def add_folder(self, account_id: int, name: str, parent_id: str = ROOT_ID) -> dict[str, Any]:
        """Create a folder as the API would (emits ``add``; an existing one is returned); return its metadata."""
        with self._backend.lock:
            state = self._state(account_id)
            node, _ = state.storage.create_folder(
                parent_id, name, now=self._backend.now(), user=state.record.user_id
            )
            return state.storage.metadata(node)

    def file_content(self, account_id: int, file_id: str) -> bytes:
        """Return the bytes of a file."""
        with self._backend.lock:
            return self._state(account_id).storage.content(file_id)

    # ---- faults and inspection -----------------------------------------------------------------

    def fail_next(
        self,
        count: int = 1,
        status: int = 500,
        *,
        error_code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        """Make the next ``count`` requests fail with ``status`` (a 429 always carries ``Retry-After``)."""
        self._faults.add(count, injected_fault(status, error_code, retry_after))

    def rate_limit_next(self, count: int = 1, retry_after: float = 1) -> None:
        """Make the next ``count`` requests answer 429 too_many_requests with ``Retry-After``."""
        self._faults.add(count, injected_fault(429, "too_many_requests", retry_after))

    @property
    def requests_seen(self) -> list[dict[str, Any]]:
        """Return the last 1000 requests: method, path, query, headers (credentials masked), body_size."""
        return copy.deepcopy(self._seen.entries())

    # ---- helpers -------------------------------------------------------------------------------

    def _state(self, account_id: int) -> AccountState:
        return self._backend.state(account_id)

    def _synthetic_file(self, state: AccountState) -> dict[str, Any]:
        number = state.feed.latest_position + 1
        name = f"event-{number}.txt"
        stamp = iso(self._backend.now())
        return {
            "id": opaque_id("S", state.record.id, number),
            "raw_id": f"synthetic-{number}",
            "account": state.record.id,
            "name": name,
            "path": f"/{name}",
            "parent": {"id": ROOT_ID, "name": ""},
            "ancestors": [{"id": ROOT_ID, "name": ""}],
            "created": stamp,
            "modified": stamp,
            "downloadable": False,
            "type": "file",
            "mime_type": "text/plain",
            "size": 0,
            "api": "storage",
        }
