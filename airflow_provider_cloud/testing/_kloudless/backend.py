"""
All Kloudless state behind one lock: accounts, tokens, OAuth codes, storage, calendars, event streams.

Methods mirror API operations and raise :class:`KloudlessApiError` with the documented status and
error_code. Callers hold :attr:`KloudlessBackend.lock` (an ``RLock``) around every use; the public helpers
take it themselves.
"""

from __future__ import annotations

import copy
import secrets
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow_provider_cloud.testing._kloudless import oauth
from airflow_provider_cloud.testing._kloudless.calendar import CalendarStore
from airflow_provider_cloud.testing._kloudless.errors import api_error, invalid_parameters, not_found
from airflow_provider_cloud.testing._kloudless.feed import EventFeed
from airflow_provider_cloud.testing._kloudless.params import MAX_PAGE_SIZE, first, parse_int, parse_iso
from airflow_provider_cloud.testing._kloudless.records import (
    ACTION_BY_EVENT_TYPE,
    EVENT_TYPES,
    AccountRecord,
    Principal,
    TokenGrant,
    iso,
    opaque_id,
)
from airflow_provider_cloud.testing._kloudless.storage import StorageTree

#: [I] Events per page when ``page_size`` is not given (the docs call page_size "advisory").
DEFAULT_EVENTS_PAGE_SIZE = 1000


@dataclass
class AccountState:
    """One connected account and everything it owns."""

    record: AccountRecord
    storage: StorageTree
    calendars: CalendarStore
    feed: EventFeed


class KloudlessBackend:
    """The state of one emulator."""

    def __init__(
        self, *, api_key: str, app_id: str, retention_seconds: float, retention_max_events: int
    ) -> None:
        if retention_seconds <= 0 or retention_max_events < 1:
            raise ValueError("retention_seconds must be > 0 and retention_max_events >= 1")
        self.lock = threading.RLock()
        self.api_key = api_key
        self.app_id = app_id
        self.retention = timedelta(seconds=retention_seconds)
        self.retention_max_events = retention_max_events
        self._clear()

    def _clear(self) -> None:
        self._accounts: dict[int, AccountState] = {}
        self._tokens: dict[str, TokenGrant] = {}
        self._codes = oauth.CodeStore()
        self._clock_offset = timedelta()
        self._next_account_id = 1
        self._next_event_id = 1

    def reset(self) -> None:
        """Drop accounts, tokens, codes, files, events and the clock offset; ids start again at 1."""
        with self.lock:
            self._clear()

    # ---- clock -----------------------------------------------------------------------------------

    def now(self) -> datetime:
        """Return the emulator's time: the wall clock plus what :meth:`advance_clock` added."""
        return datetime.now(UTC) + self._clock_offset

    def advance_clock(self, seconds: float) -> None:
        """Move the emulator's clock forward (events age, codes expire) without sleeping."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self.lock:
            self._clock_offset += timedelta(seconds=seconds)
            for state in self._accounts.values():
                self._prune(state)

    # ---- accounts and tokens ---------------------------------------------------------------------

    def create_account(
        self,
        *,
        service: str = "gdrive",
        account: str = "user@example.com",
        admin: bool = False,
        active: bool = True,
        apis: tuple[str, ...] = ("storage", "calendar"),
        scope: str = "all",
    ) -> AccountState:
        """Connect a new account with the next numeric id."""
        with self.lock:
            account_id = self._next_account_id
            self._next_account_id += 1
            record = AccountRecord(
                id=account_id,
                account=account,
                service=service,
                user_id=f"user-{account_id}",
                created=self.now(),
                active=active,
                admin=admin,
                apis=tuple(apis),
                scope=scope,
            )

            def emit_for_account(event_type: str, metadata: dict[str, Any], user: str) -> None:
                self.emit(self._accounts[account_id], event_type, metadata, user=user)

            state = AccountState(
                record,
                StorageTree(record, emit_for_account),
                CalendarStore(record, emit_for_account),
                EventFeed(account_id),
            )
            self._accounts[account_id] = state
            return state

    def state(self, account_id: int) -> AccountState:
        """Return an account's state, or answer 404."""
        state = self._accounts.get(account_id)
        if state is None:
            raise not_found(f"No account with id {account_id}.")
        return state

    def accounts(self) -> list[AccountState]:
        """Return every account, by id."""
        return [self._accounts[key] for key in sorted(self._accounts)]

    def list_accounts(
        self, principal: Principal, *, active: Sequence[bool] = (), admin: bool | None = None
    ) -> list[AccountState]:
        """Answer ``GET /accounts``: every account for the app, its own for a Bearer token; filtered."""
        states = self.accounts() if principal.account_id is None else [self.state(principal.account_id)]
        for wanted in active:
            states = [s for s in states if s.record.active == wanted]
        if admin is not None:
            states = [s for s in states if s.record.admin == admin]
        return states

    def delete_account(self, state: AccountState) -> None:
        """Disconnect an account: its tokens stop working; its files, calendars and events are gone."""
        with self.lock:
            self._accounts.pop(state.record.id, None)

    def passthrough(
        self, state: AccountState, method: str, uri: str, headers: Mapping[str, str], body: bytes
    ) -> dict[str, Any]:
        """Answer ``.../raw``: echo the upstream request the real API would forward (there is no upstream)."""
        return {
            "emulated": True,
            "account": state.record.id,
            "service": state.record.service,
            "method": method.strip().upper(),
            "uri": uri,
            "headers": dict(headers),
            "body": body.decode("utf-8", errors="replace"),
            "body_size": len(body),
        }

    def create_token(self, account_id: int, *, scope: str = "all", token: str | None = None) -> str:
        """Mint a Bearer token for one account (``token``: this value, e.g. a distinctive one to scan for)."""
        with self.lock:
            self.state(account_id)
            if token is not None and (not token or token in self._tokens):
                raise ValueError("a chosen token must be non-empty and not in use")
            token = token or secrets.token_urlsafe(24)
            self._tokens[token] = TokenGrant(account_id, scope, self.now())
            return token

    def grant(self, token: str) -> TokenGrant:
        """Return what a Bearer token grants, or answer 401 invalid_token."""
        grant = self._tokens.get(token)
        if grant is None or grant.account_id not in self._accounts:
            raise api_error("invalid_token", "Invalid or revoked Bearer token.")
        return grant

    def has_account(self, account_id: int) -> bool:
        """Return whether an account with this id exists."""
        return account_id in self._accounts

    def revoke_token(self, token: str) -> bool:
        """Revoke a Bearer token; return whether it existed."""
        with self.lock:
            return self._tokens.pop(token, None) is not None

    # ---- auth ------------------------------------------------------------------------------------

    def authenticate(self, authorization: str | None) -> Principal:
        """Check the ``Authorization`` header (``Bearer <token>`` or ``APIKey <key>``)."""
        if not authorization or not authorization.strip():
            raise api_error(
                "authentication_required", "Authentication required: send an Authorization header."
            )
        scheme, _, credential = authorization.strip().partition(" ")
        credential = credential.strip()
        if scheme.lower() == "apikey":
            if not secrets.compare_digest(credential.encode(), self.api_key.encode()):
                raise api_error("unauthorized", "Invalid API key.")
            return Principal("apikey")
        if scheme.lower() == "bearer":
            return Principal("bearer", self.grant(credential).account_id, credential)
        raise api_error("unauthorized", f"Unsupported authorization scheme {scheme!r}: use Bearer or APIKey.")

    def resolve(self, principal: Principal, account_ref: str) -> AccountState:
        """Resolve ``me`` or a numeric account id for this caller."""
        if account_ref == "me":
            if principal.account_id is None:
                raise invalid_parameters(
                    "The account id 'me' needs a Bearer token; with an API key, use the numeric account id."
                )
            return self.state(principal.account_id)
        account_id = int(account_ref)
        if principal.scheme == "bearer" and principal.account_id != account_id:
            raise api_error("permission_denied", f"This token does not grant access to account {account_id}.")
        return self.state(account_id)

    # ---- OAuth ------------------------------------------------------------------------------------

    def issue_code(self, account_id: int, *, redirect_uri: str, scope: str = "all") -> str:
        """Create a one-time authorization code for an account."""
        with self.lock:
            self.state(account_id)
            return self._codes.issue(account_id, redirect_uri=redirect_uri, scope=scope, now=self.now())

    def authorize(self, query: Mapping[str, list[str]]) -> str:
        """Answer ``GET /oauth``: the ``Location`` to redirect the browser to (a code, or an error)."""
        redirect_uri = first(query, "redirect_uri")
        if not redirect_uri:
            raise invalid_parameters("'redirect_uri' is required.")
        state = first(query, "state")
        scope = first(query, "scope") or "all"
        if first(query, "client_id") != self.app_id:
            return oauth.redirect(
                redirect_uri, state, error="invalid_client", error_description="Unknown client_id."
            )
        if first(query, "response_type") != "code":
            description = "Only response_type=code is supported."
            return oauth.redirect(
                redirect_uri, state, error="unsupported_response_type", error_description=description
            )
        account_ref = first(query, "account_id")
        if account_ref is None:
            service, apis = oauth.service_for_scope(scope)
            account = self.create_account(service=service, account="", apis=apis, scope=scope).record
            account.account = f"oauth-user-{account.id}@example.com"
            account_id = account.id
        elif account_ref.isdigit() and self.has_account(int(account_ref)):
            account_id = int(account_ref)
        else:
            description = f"No account {account_ref}."
            return oauth.redirect(redirect_uri, state, error="invalid_request", error_description=description)
        code = self.issue_code(account_id, redirect_uri=redirect_uri, scope=scope)
        return oauth.redirect(redirect_uri, state, code=code)

    def exchange_code(self, form: Mapping[str, str]) -> dict[str, Any]:
        """Answer ``POST /oauth/token``: exchange a one-time code for a Bearer token."""
        oauth.check_client(form, app_id=self.app_id, api_key=self.api_key)
        code = self._codes.redeem(form.get("code", ""), redirect_uri=form.get("redirect_uri"), now=self.now())
        return oauth.token_answer(self.create_token(code.account_id, scope=code.scope), code)

    def verify_token(self, principal: Principal) -> dict[str, Any]:
        """Answer ``GET /oauth/token``: what the Bearer token is."""
        if principal.token is None:
            raise api_error("authentication_required", "Token verification needs a Bearer token.")
        return oauth.verification(self.grant(principal.token), self.app_id)

    # ---- events ----------------------------------------------------------------------------------

    def emit(
        self,
        state: AccountState,
        event_type: str,
        metadata: Mapping[str, Any] | None,
        *,
        user: str | None = None,
        ip: str | None = None,
    ) -> dict[str, Any]:
        """Append an event to an account's stream and return it."""
        if event_type not in EVENT_TYPES:
            raise invalid_parameters(f"Unknown event type {event_type!r}; one of {sorted(EVENT_TYPES)}.")
        with self.lock:
            event_id = self._next_event_id
            self._next_event_id += 1
            now = self.now()
            account_id = state.record.id

            def build(position: int) -> dict[str, Any]:
                return {
                    "id": opaque_id("", account_id, event_id),
                    "event_id": event_id,
                    "account": account_id,
                    "action": ACTION_BY_EVENT_TYPE[event_type],
                    "type": event_type,
                    "modified": iso(now),
                    "ip": ip,
                    "user_id": user or state.record.user_id,
                    "metadata": copy.deepcopy(dict(metadata)) if metadata is not None else None,
                }

            body = state.feed.append(now, build)
            self._prune(state)
            return body

    def _prune(self, state: AccountState) -> None:
        state.feed.prune(self.now(), self.retention, self.retention_max_events)

    def latest_cursor(self, state: AccountState) -> int:
        """Answer ``/events/latest``."""
        self._prune(state)
        return state.feed.latest_position

    def list_events(self, state: AccountState, query: Mapping[str, list[str]]) -> dict[str, Any]:
        """Answer ``GET .../events`` (cursor, or from/until; page_size 1-1000)."""
        cursor, start, until = first(query, "cursor"), first(query, "from"), first(query, "until")
        size_text = first(query, "page_size")
        size = (
            DEFAULT_EVENTS_PAGE_SIZE
            if size_text is None
            else parse_int("page_size", size_text, low=1, high=MAX_PAGE_SIZE)
        )
        if cursor is not None and (start is not None or until is not None):
            raise invalid_parameters("'cursor' cannot be used with 'from' or 'until'.")
        if until is not None and start is None:
            raise invalid_parameters("'until' must be used along with 'from'.")
        self._prune(state)
        if start is not None:
            start_at = parse_iso("from", start)
            until_at = parse_iso("until", until) if until is not None else None
            if until_at is not None and until_at <= start_at:
                raise invalid_parameters("'until' must be later than 'from'.")
            page = state.feed.page_in_window(start_at, until_at, size)
        elif cursor is not None:
            page = state.feed.page_after_cursor(cursor, size)
        else:
            page = state.feed.page_after_cursor(str(state.feed.oldest_valid_cursor), size)
        return copy.deepcopy(page.to_json())

    def retained_events(self, state: AccountState) -> list[dict[str, Any]]:
        """Return copies of the retained events of an account, oldest first."""
        with self.lock:
            self._prune(state)
            return copy.deepcopy(state.feed.retained())
