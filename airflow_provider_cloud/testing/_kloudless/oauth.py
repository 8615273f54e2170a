"""
OAuth 2 pieces of the emulator: one-time codes, the scope -> service rule, redirects and OAuth error bodies.

[I] choices: ``GET /oauth`` connects a new account (service from the first scope word, ``all``/``any`` ->
``gdrive``) unless an ``account_id`` parameter names an existing one; codes last 10 minutes on the emulator
clock and are consumed by the first exchange attempt; errors carry the Kloudless error body plus the OAuth 2
``error`` and ``error_description``. The backend runs the three operations with these pieces.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from airflow_provider_cloud.testing._kloudless.errors import KloudlessApiError
from airflow_provider_cloud.testing._kloudless.records import TokenGrant, iso

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


class CodeStore:
    """The authorization codes in flight."""

    def __init__(self) -> None:
        self._codes: dict[str, AuthorizationCode] = {}

    def issue(self, account_id: int, *, redirect_uri: str, scope: str, now: datetime) -> str:
        """Return a new one-time code for an account."""
        code = secrets.token_urlsafe(18)
        self._codes[code] = AuthorizationCode(account_id, redirect_uri, scope, now + CODE_LIFETIME)
        return code

    def redeem(self, code: str, *, redirect_uri: str | None, now: datetime) -> AuthorizationCode:
        """Consume a code (even when the exchange then fails), or answer 400 invalid_grant."""
        found = self._codes.pop(code, None)
        if found is None or found.expires <= now:
            raise oauth_error(
                400, "invalid_grant", "The authorization code is unknown, already used or expired."
            )
        if redirect_uri != found.redirect_uri:
            raise oauth_error(400, "invalid_grant", "redirect_uri does not match the authorization request.")
        return found


def oauth_error(status: int, oauth_error: str, message: str) -> KloudlessApiError:
    """Return an OAuth failure: the Kloudless body plus ``error`` and ``error_description``."""
    kloudless_code = "unauthorized" if status == 401 else "invalid_parameters"
    return KloudlessApiError(status, kloudless_code, message, error=oauth_error, error_description=message)


def check_client(form: Mapping[str, str], *, app_id: str, api_key: str) -> None:
    """Check ``grant_type``, ``client_id`` and ``client_secret`` of a code exchange."""
    if form.get("grant_type") != "authorization_code":
        raise oauth_error(400, "unsupported_grant_type", "grant_type must be authorization_code.")
    if form.get("client_id") != app_id or not secrets.compare_digest(
        form.get("client_secret", "").encode(), api_key.encode()
    ):
        raise oauth_error(401, "invalid_client", "Unknown client_id or wrong client_secret.")


def service_for_scope(scope: str) -> tuple[str, tuple[str, ...]]:
    """Return the service and APIs of an account connected for ``scope`` (``box:normal.storage`` -> box)."""
    words = scope.split()
    head = words[0].split(":")[0].split(".")[0] if words else ""
    service = "gdrive" if head in _NOT_SERVICES else head
    if "calendar" in scope and "storage" not in scope:
        return service, ("calendar",)
    if "storage" in scope and "calendar" not in scope:
        return service, ("storage",)
    return service, ("storage", "calendar")


def redirect(redirect_uri: str, state: str | None, **params: str) -> str:
    """Return ``redirect_uri`` with ``params`` (and ``state``) added to its query."""
    if state is not None:
        params["state"] = state
    separator = "&" if "?" in redirect_uri else "?"
    return redirect_uri + separator + urlencode(params)


def token_answer(token: str, code: AuthorizationCode) -> dict[str, Any]:
    """Return the answer of ``POST /oauth/token``."""
    return {"access_token": token, "token_type": "bearer", "account_id": code.account_id, "scope": code.scope}


def verification(grant: TokenGrant, app_id: str) -> dict[str, Any]:
    """Return the answer of ``GET /oauth/token``."""
    return {
        "client_id": app_id,
        "account_id": grant.account_id,
        "scope": grant.scope,
        "token_type": "bearer",
        "created": iso(grant.created),
    }
