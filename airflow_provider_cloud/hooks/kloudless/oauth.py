"""
OAuth 2 with Kloudless, as the official SDK does it: the authorization URL, the code exchange, token checks.

1. :func:`authorization_url` builds ``{base}/v1/oauth?client_id=...&response_type=code&redirect_uri=...
   &scope=...&state=<random>`` and returns the state to keep (in the user's session).
2. The browser comes back to ``redirect_uri?code=...&state=...``; :func:`check_state` compares the states
   before anything is sent, then :func:`exchange_code` POSTs the form ``grant_type=authorization_code, code,
   redirect_uri, client_id, client_secret=<API key>`` with ``Authorization: APIKey <key>``: it needs the
   application's API key.
3. :func:`verify_token` asks ``GET /v1/oauth/token`` (always v1, as the SDK does) what a Bearer token is
   and checks it was issued to this application.

The hook masks every token or code obtained (:func:`token_secrets` names them in an answer).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from airflow_provider_cloud.exceptions import AuthenticationError, UnexpectedResponseError
from airflow_provider_cloud.hooks.kloudless.wire import SERVICE

_RESERVED_PARAMS = frozenset({"client_id", "response_type", "redirect_uri", "scope", "state"})
#: ``request_json(method, url, **kwargs) -> JSON``: the HTTP core's request, with retries and typed errors.
RequestJson = Callable[..., Any]
#: The API version of token verification, whatever the connection says (the SDK hard-codes it too).
VERIFY_TOKEN_API_VERSION = 1


def new_state() -> str:
    """Return a fresh, unguessable OAuth ``state`` (URL-safe base64, 192 bits)."""
    return secrets.token_urlsafe(24)


def states_match(received: str | None, expected: str | None) -> bool:
    """Compare two OAuth states in constant time; a missing one never matches."""
    if not received or not expected:
        return False
    return secrets.compare_digest(received.encode(), expected.encode())


def authorization_url(
    endpoint: str, *, client_id: str, redirect_uri: str, scope: str, extra_params: Mapping[str, Any] | None
) -> tuple[str, str]:
    """
    Return ``(url, state)``: the page at ``endpoint`` to send the user to, and the state to check later.

    ``extra_params`` that are dicts or lists are sent as JSON; they cannot replace the named parameters.
    """
    clashes = _RESERVED_PARAMS.intersection(extra_params or {})
    if clashes:
        raise ValueError(f"extra_params cannot set {sorted(clashes)}: use the named arguments")
    state = new_state()
    params: dict[str, str] = {
        "client_id": client_id,
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": state,
    }
    for key, value in (extra_params or {}).items():
        params[key] = json.dumps(value) if isinstance(value, Mapping | list | tuple) else str(value)
    return f"{endpoint}?{urlencode(params)}", state


def check_state(state: str | None, expected_state: str | None) -> None:
    """Refuse a redirect whose state is not the one the authorization started with."""
    if not states_match(state, expected_state):
        raise AuthenticationError(
            "OAuth state mismatch: the redirect's state is not the one this authorization started with "
            "(a forged or stale callback); the code was not exchanged",
            service=SERVICE,
        )


def exchange_code(
    request_json: RequestJson, url: str, *, code: str, redirect_uri: str, api_key: str, client_id: str
) -> dict[str, Any]:
    """POST the code exchange to ``url`` (``oauth/token``); return the answer holding the token."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": client_id,
        "client_secret": api_key,
    }
    payload = request_json("POST", url, data=form, headers={"Authorization": f"APIKey {api_key}"})
    token = payload.get("access_token") if isinstance(payload, Mapping) else None
    if not isinstance(token, str) or not token:
        raise UnexpectedResponseError("POST oauth/token: the answer has no access_token", service=SERVICE)
    return dict(payload)


def token_secrets(payload: Mapping[str, Any]) -> list[str]:
    """Return the tokens in a token answer: ``access_token``, and a ``refresh_token`` should one come."""
    return [value for key, value in payload.items() if key.endswith("token") and isinstance(value, str)]


def verify_token(request_json: RequestJson, url: str, token: str, *, app_id: str) -> dict[str, Any]:
    """Ask ``url`` (``oauth/token``) what ``token`` is; return the answer if it was issued to ``app_id``."""
    payload = request_json("GET", url, headers={"Authorization": f"Bearer {token}"})
    if not isinstance(payload, Mapping):
        raise UnexpectedResponseError("GET oauth/token: the answer is not a JSON object", service=SERVICE)
    issued_to = payload.get("client_id")
    if issued_to is None or not states_match(str(issued_to), app_id):
        raise AuthenticationError(
            f"The token was issued to application {issued_to!r}, not {app_id!r}", service=SERVICE
        )
    return dict(payload)
