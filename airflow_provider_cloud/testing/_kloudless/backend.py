"""
All emulator state behind one lock: accounts, tokens, OAuth codes, storage, calendars, event streams, faults.

Methods mirror API operations and raise :class:`KloudlessApiError` with the documented status and
error_code. Callers hold :attr:`KloudlessBackend.lock` (an ``RLock``) around every use; the public helpers
take it themselves.
"""

from __future__ import annotations

import copy
import json
import secrets
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode

from airflow_provider_cloud.testing._kloudless.calendar import CalendarStore
from airflow_provider_cloud.testing._kloudless.errors import (
    DEFAULT_ERROR_CODE_BY_STATUS,
    KloudlessApiError,
    api_error,
    invalid_parameters,
    not_found,
)
from airflow_provider_cloud.testing._kloudless.feed import EventFeed
from airflow_provider_cloud.testing._kloudless.models import (
    ACTION_BY_EVENT_TYPE,
    EVENT_TYPES,
    MAX_PAGE_SIZE,
    AccountRecord,
    iso,
    opaque_id,
    parse_int,
    parse_iso,
)
from airflow_provider_cloud.testing._kloudless.storage import StorageTree

#: [I] Events per page when ``page_size`` is not given (the docs call page_size "advisory").
DEFAULT_EVENTS_PAGE_SIZE = 1000
#: [I] How long an OAuth authorization code stays valid.
CODE_LIFETIME = timedelta(minutes=10)
REQUEST_LOG_SIZE = 1000
_NOT_SERVICES = frozenset({"", "all", "any", "storage", "calendar", "cal", "crm"})


@dataclass
class AccountState:
    """One connected account and everything it owns."""

    record: AccountRecord
    storage: StorageTree
    calendars: CalendarStore
    feed: EventFeed


@dataclass(frozen=True)
class Principal:
    """Who is calling: the app (API key) or one account (Bearer token)."""

    scheme: Literal["apikey", "bearer"]
    account_id: int | None = None
    token: str | None = None


@dataclass(frozen=True)
class TokenGrant:
    """What a Bearer token gives access to."""

    account_id: int
    scope: str
    created: datetime


@dataclass(frozen=True)
class AuthorizationCode:
    """A one-time OAuth code waiting to be exchanged."""

    account_id: int
    redirect_uri: str
    scope: str
    expires: datetime


@dataclass(frozen=True)
class Fault:
    """One injected failure."""

    status: int
    error_code: str
    retry_after: float | None


def first(query: Mapping[str, list[str]], name: str) -> str | None:
    """Return the first value of a query parameter, or ``None``."""
    values = query.get(name)
    return values[0] if values else None


def _format_seconds(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


def _oauth_error(status: int, oauth_error: str, message: str) -> KloudlessApiError:
    """Return an OAuth error: the Kloudless error body plus the OAuth 2 ``error``/``error_description`` [I]."""
    kloudless_code = "unauthorized" if status == 401 else "invalid_parameters"
    return KloudlessApiError(status, kloudless_code, message, error=oauth_error, error_description=message)


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
        self._codes: dict[str, AuthorizationCode] = {}
        self._faults: deque[Fault] = deque()
        self._requests: deque[dict[str, Any]] = deque(maxlen=REQUEST_LOG_SIZE)
        self._clock_offset = timedelta()
        self._next_account_id = 1
        self._next_event_id = 1
        self.latency = 0.0

    def reset(self) -> None:
        """Drop accounts, tokens, codes, files, events, faults, latency, the clock offset and the request log."""
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

    def create_token(self, account_id: int, *, scope: str = "all") -> str:
        """Mint a Bearer token for one account."""
        with self.lock:
            self.state(account_id)
            token = secrets.token_urlsafe(24)
            self._tokens[token] = TokenGrant(account_id, scope, self.now())
            return token

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
            grant = self._tokens.get(credential)
            if grant is None or grant.account_id not in self._accounts:
                raise api_error("invalid_token", "Invalid or revoked Bearer token.")
            return Principal("bearer", grant.account_id, credential)
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

    # ---- OAuth -----------------------------------------------------------------------------------

    def issue_code(self, account_id: int, *, redirect_uri: str, scope: str = "all") -> str:
        """Create a one-time authorization code for an account."""
        with self.lock:
            self.state(account_id)
            code = secrets.token_urlsafe(18)
            self._codes[code] = AuthorizationCode(account_id, redirect_uri, scope, self.now() + CODE_LIFETIME)
            return code

    def oauth_authorize(self, query: Mapping[str, list[str]]) -> str:
        """Answer ``GET /oauth``: the ``Location`` to redirect the browser to (code, or error)."""
        redirect_uri = first(query, "redirect_uri")
        if not redirect_uri:
            raise invalid_parameters("'redirect_uri' is required.")
        state_value = first(query, "state")
        scope = first(query, "scope") or "all"
        if first(query, "client_id") != self.app_id:
            return _redirect(
                redirect_uri, state_value, error="invalid_client", error_description="Unknown client_id."
            )
        if first(query, "response_type") != "code":
            return _redirect(
                redirect_uri,
                state_value,
                error="unsupported_response_type",
                error_description="Only response_type=code is supported.",
            )
        account_ref = first(query, "account_id")
        if account_ref is not None:
            if not account_ref.isdigit() or int(account_ref) not in self._accounts:
                return _redirect(
                    redirect_uri,
                    state_value,
                    error="invalid_request",
                    error_description=f"No account {account_ref}.",
                )
            account_id = int(account_ref)
        else:
            account_id = self._account_for_scope(scope).record.id
        code = self.issue_code(account_id, redirect_uri=redirect_uri, scope=scope)
        return _redirect(redirect_uri, state_value, code=code)

    def _account_for_scope(self, scope: str) -> AccountState:
        """Connect a new account the way a user would on the authorization page [I]."""
        words = scope.split()
        head = words[0].split(":")[0].split(".")[0] if words else ""
        service = "gdrive" if head in _NOT_SERVICES else head
        apis: tuple[str, ...] = ("storage", "calendar")
        if "calendar" in scope and "storage" not in scope:
            apis = ("calendar",)
        elif "storage" in scope and "calendar" not in scope:
            apis = ("storage",)
        state = self.create_account(service=service, account="pending@example.com", apis=apis, scope=scope)
        state.record.account = f"oauth-user-{state.record.id}@example.com"
        return state

    def oauth_exchange(self, form: Mapping[str, str]) -> dict[str, Any]:
        """Answer ``POST /oauth/token``: exchange a one-time code for a Bearer token."""
        if form.get("grant_type") != "authorization_code":
            raise _oauth_error(400, "unsupported_grant_type", "grant_type must be authorization_code.")
        if form.get("client_id") != self.app_id or not secrets.compare_digest(
            form.get("client_secret", "").encode(), self.api_key.encode()
        ):
            raise _oauth_error(401, "invalid_client", "Unknown client_id or wrong client_secret.")
        code = self._codes.pop(form.get("code", ""), None)
        if code is None or code.expires <= self.now():
            raise _oauth_error(
                400, "invalid_grant", "The authorization code is unknown, already used or expired."
            )
        if form.get("redirect_uri") != code.redirect_uri:
            raise _oauth_error(400, "invalid_grant", "redirect_uri does not match the authorization request.")
        token = self.create_token(code.account_id, scope=code.scope)
        return {
            "access_token": token,
            "token_type": "bearer",
            "account_id": code.account_id,
            "scope": code.scope,
        }

    def oauth_verify(self, principal: Principal) -> dict[str, Any]:
        """Answer ``GET /oauth/token``: what the Bearer token is."""
        if principal.token is None or principal.account_id is None:
            raise api_error("authentication_required", "Token verification needs a Bearer token.")
        grant = self._tokens[principal.token]
        return {
            "client_id": self.app_id,
            "account_id": grant.account_id,
            "scope": grant.scope,
            "token_type": "bearer",
            "created": iso(grant.created),
        }

    # ---- faults and the request log --------------------------------------------------------------

    def fail_next(
        self, count: int, status: int, *, error_code: str | None, retry_after: float | None
    ) -> None:
        """Make the next ``count`` requests fail with ``status``."""
        if count < 0 or not 400 <= status <= 599:
            raise ValueError("count must be >= 0 and status an HTTP error status (400-599)")
        code = error_code or DEFAULT_ERROR_CODE_BY_STATUS.get(
            status, "internal_error" if status >= 500 else "bad_request"
        )
        if status == 429 and retry_after is None:
            retry_after = 1
        with self.lock:
            self._faults.extend([Fault(status, code, retry_after)] * count)

    def take_fault(self) -> KloudlessApiError | None:
        """Pop the next injected failure, as the error to answer."""
        if not self._faults:
            return None
        fault = self._faults.popleft()
        message = (
            "Too many requests: check the Retry-After header."
            if fault.status == 429
            else f"Injected failure (HTTP {fault.status})."
        )
        headers = {"Retry-After": _format_seconds(fault.retry_after)} if fault.retry_after is not None else {}
        return KloudlessApiError(fault.status, fault.error_code, message, headers=headers)

    def clear_faults(self) -> None:
        """Drop pending injected failures."""
        with self.lock:
            self._faults.clear()

    def record_request(self, entry: dict[str, Any]) -> None:
        """Keep a request in the bounded log."""
        with self.lock:
            self._requests.append(entry)

    def requests_seen(self) -> list[dict[str, Any]]:
        """Return a copy of the request log, oldest first."""
        with self.lock:
            return copy.deepcopy(list(self._requests))


def _redirect(redirect_uri: str, state: str | None, **params: str) -> str:
    if state is not None:
        params["state"] = state
    separator = "&" if "?" in redirect_uri else "?"
    return redirect_uri + separator + urlencode(params)


def parse_form(body: bytes) -> dict[str, str]:
    """Parse a request body as a form whatever its Content-Type (a JSON object is accepted too) [I]."""
    text = body.decode("utf-8", errors="replace").strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            return {str(key): str(value) for key, value in data.items()}
    return dict(parse_qsl(text, keep_blank_values=True))
