"""
The OAuth 2 endpoints of the emulator: authorize redirect, one-time code exchange, token verification.

[I] choices: ``GET /oauth`` connects a new account (service from the first scope word, ``all``/``any`` →
``gdrive``) unless an ``account_id`` parameter names an existing one; codes last 10 minutes on the emulator
clock and are consumed by the first exchange attempt; errors carry the Kloudless error body plus the OAuth 2
``error`` and ``error_description``.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from airflow_provider_cloud.testing._kloudless.errors import KloudlessApiError, api_error, invalid_parameters
from airflow_provider_cloud.testing._kloudless.models import iso

if TYPE_CHECKING:
    from airflow_provider_cloud.testing._kloudless.backend import AccountState, KloudlessBackend, Principal

#: [I] How long an authorization code stays valid.
CODE_LIFETIME = timedelta(minutes=10)
_NOT_SERVICES = frozenset({"", "all", "any", "storage", "calendar", "cal", "crm"})


@dataclass(frozen=True)
class AuthorizationCode:
    """A one-time code waiting to be exchanged."""

    account_id: int
    redirect_uri: str
    scope: str
    expires: datetime


def first(query: Mapping[str, list[str]], name: str) -> str | None:
    """Return the first value of a query parameter, or ``None``."""
    values = query.get(name)
    return values[0] if values else None


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


def _oauth_error(status: int, oauth_error: str, message: str) -> KloudlessApiError:
    kloudless_code = "unauthorized" if status == 401 else "invalid_parameters"
    return KloudlessApiError(status, kloudless_code, message, error=oauth_error, error_description=message)


def _redirect(redirect_uri: str, state: str | None, **params: str) -> str:
    if state is not None:
        params["state"] = state
    separator = "&" if "?" in redirect_uri else "?"
    return redirect_uri + separator + urlencode(params)


class OAuthFlow:
    """Codes in flight, and the three OAuth operations, for one backend."""

    def __init__(self, backend: KloudlessBackend) -> None:
        self._backend = backend
        self._codes: dict[str, AuthorizationCode] = {}

    def issue_code(self, account_id: int, *, redirect_uri: str, scope: str = "all") -> str:
        """Create a one-time authorization code for an account."""
        backend = self._backend
        with backend.lock:
            backend.state(account_id)
            code = secrets.token_urlsafe(18)
            self._codes[code] = AuthorizationCode(
                account_id, redirect_uri, scope, backend.now() + CODE_LIFETIME
            )
            return code

    def authorize(self, query: Mapping[str, list[str]]) -> str:
        """Answer ``GET /oauth``: the ``Location`` to redirect the browser to (code, or error)."""
        redirect_uri = first(query, "redirect_uri")
        if not redirect_uri:
            raise invalid_parameters("'redirect_uri' is required.")
        state = first(query, "state")
        scope = first(query, "scope") or "all"
        if first(query, "client_id") != self._backend.app_id:
            return _redirect(
                redirect_uri, state, error="invalid_client", error_description="Unknown client_id."
            )
        if first(query, "response_type") != "code":
            return _redirect(
                redirect_uri,
                state,
                error="unsupported_response_type",
                error_description="Only response_type=code is supported.",
            )
        account_ref = first(query, "account_id")
        if account_ref is None:
            account_id = self._connect_account(scope).record.id
        elif account_ref.isdigit() and self._backend.has_account(int(account_ref)):
            account_id = int(account_ref)
        else:
            return _redirect(
                redirect_uri, state, error="invalid_request", error_description=f"No account {account_ref}."
            )
        code = self.issue_code(account_id, redirect_uri=redirect_uri, scope=scope)
        return _redirect(redirect_uri, state, code=code)

    def _connect_account(self, scope: str) -> AccountState:
        """Connect a new account the way a user would on the authorization page."""
        words = scope.split()
        head = words[0].split(":")[0].split(".")[0] if words else ""
        service = "gdrive" if head in _NOT_SERVICES else head
        apis: tuple[str, ...] = ("storage", "calendar")
        if "calendar" in scope and "storage" not in scope:
            apis = ("calendar",)
        elif "storage" in scope and "calendar" not in scope:
            apis = ("storage",)
        state = self._backend.create_account(service=service, account="", apis=apis, scope=scope)
        state.record.account = f"oauth-user-{state.record.id}@example.com"
        return state

    def exchange(self, form: Mapping[str, str]) -> dict[str, Any]:
        """Answer ``POST /oauth/token``: exchange a one-time code for a Bearer token."""
        backend = self._backend
        if form.get("grant_type") != "authorization_code":
            raise _oauth_error(400, "unsupported_grant_type", "grant_type must be authorization_code.")
        if form.get("client_id") != backend.app_id or not secrets.compare_digest(
            form.get("client_secret", "").encode(), backend.api_key.encode()
        ):
            raise _oauth_error(401, "invalid_client", "Unknown client_id or wrong client_secret.")
        code = self._codes.pop(form.get("code", ""), None)
        if code is None or code.expires <= backend.now():
            raise _oauth_error(
                400, "invalid_grant", "The authorization code is unknown, already used or expired."
            )
        if form.get("redirect_uri") != code.redirect_uri:
            raise _oauth_error(400, "invalid_grant", "redirect_uri does not match the authorization request.")
        token = backend.create_token(code.account_id, scope=code.scope)
        return {
            "access_token": token,
            "token_type": "bearer",
            "account_id": code.account_id,
            "scope": code.scope,
        }

    def verify(self, principal: Principal) -> dict[str, Any]:
        """Answer ``GET /oauth/token``: what the Bearer token is."""
        if principal.token is None:
            raise api_error("authentication_required", "Token verification needs a Bearer token.")
        grant = self._backend.grant(principal.token)
        return {
            "client_id": self._backend.app_id,
            "account_id": grant.account_id,
            "scope": grant.scope,
            "token_type": "bearer",
            "created": iso(grant.created),
        }
