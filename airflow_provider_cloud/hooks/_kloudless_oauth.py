"""
OAuth 2 helpers of :class:`~airflow_provider_cloud.hooks.kloudless.KloudlessHook`, as the official SDK does them.

1. :meth:`~KloudlessOAuthMixin.authorization_url` builds ``{base}/v1/oauth?client_id=...&response_type=code
   &redirect_uri=...&scope=...&state=<random>`` and returns the state to keep (in the user's session).
2. The browser comes back to ``redirect_uri?code=...&state=...``; :meth:`~KloudlessOAuthMixin.exchange_code`
   compares the states first (a mismatch is refused before any request) and then POSTs the form
   ``grant_type=authorization_code, code, redirect_uri, client_id, client_secret=<API key>`` with
   ``Authorization: APIKey <key>``: it needs a connection whose password is the application's API key.
3. :meth:`~KloudlessOAuthMixin.verify_token` asks ``GET /v1/oauth/token`` (always v1, as the SDK does) what a
   Bearer token is and checks it was issued to this application.

Every token or code obtained is masked in Airflow's logs and scrubbed from this hook's errors.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from airflow_provider_cloud.exceptions import AuthenticationError, UnexpectedResponseError
from airflow_provider_cloud.hooks._kloudless_base import KloudlessBaseHook

_RESERVED_PARAMS = frozenset({"client_id", "response_type", "redirect_uri", "scope", "state"})
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


class KloudlessOAuthMixin(KloudlessBaseHook):
    """OAuth helper methods of the Kloudless hook."""

    def _client_id(self, client_id: str | None, argument: str) -> str:
        chosen = client_id or self.app_id
        if not chosen:
            raise ValueError(
                f"Give {argument}= (the application id) or set the app_id extra of connection {self.conn_id!r}"
            )
        return chosen

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
        :param extra_params: more query parameters (``extra_data``, ``account_id``, ...); dicts and lists are
            sent as JSON. They cannot replace ``client_id``, ``response_type``, ``redirect_uri``, ``scope`` or
            ``state``.
        """
        clashes = _RESERVED_PARAMS.intersection(extra_params or {})
        if clashes:
            raise ValueError(f"extra_params cannot set {sorted(clashes)}: use the named arguments")
        state = new_state()
        params: dict[str, str] = {
            "client_id": self._client_id(client_id, "client_id"),
            "response_type": "code",
            "redirect_uri": redirect_uri,
            "scope": scope,
            "state": state,
        }
        for key, value in (extra_params or {}).items():
            params[key] = json.dumps(value) if isinstance(value, Mapping | list | tuple) else str(value)
        return f"{self.api_url('oauth')}?{urlencode(params)}", state

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
        Exchange the code the redirect brought back for a Bearer token, after checking the state.

        Return the service's answer (``access_token``, ``token_type``, ``account_id``, ``scope``, ...); the
        token is masked at once. Store it in a connection, never in XCom.

        :raises AuthenticationError: ``state`` differs from ``expected_state`` (no request is sent), or the
            service refused the client id or API key.
        :raises BadRequestError: the code is unknown, used or expired, or ``redirect_uri`` differs.
        """
        self.register_secret(code)
        if not states_match(state, expected_state):
            raise AuthenticationError(
                "OAuth state mismatch: the redirect's state is not the one this authorization started with "
                "(a forged or stale callback); the code was not exchanged",
                service=self.service_name,
            )
        if self.auth_scheme != "APIKey":
            raise ValueError(
                f"Connection {self.conn_id!r}: exchanging a code needs the application's API key (it is the "
                "client_secret); use a connection with auth_scheme APIKey and the key as password"
            )
        api_key = self._credential()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": self._client_id(client_id, "client_id"),
            "client_secret": api_key,
        }
        payload = self.request_json(
            "POST",
            self.api_url("oauth/token"),
            data=form,
            headers={"Authorization": f"APIKey {api_key}"},
        )
        token = payload.get("access_token") if isinstance(payload, Mapping) else None
        if not isinstance(token, str) or not token:
            raise UnexpectedResponseError(
                "POST oauth/token: the answer has no access_token", service=self.service_name
            )
        for key, value in payload.items():
            if key.endswith("token") and isinstance(value, str):
                self.register_secret(value)  # access_token, and a refresh_token should one come
        return dict(payload)

    def verify_token(self, token: str, *, app_id: str | None = None) -> dict[str, Any]:
        """
        Ask the service what a Bearer token is, and check it belongs to application ``app_id``.

        Return the answer (``client_id``, ``account_id``, ``scope``, ...).

        :param app_id: the application id (default: the connection's ``app_id`` extra).
        :raises AuthenticationError: the service does not know the token, or it was issued to another app.
        """
        if not token:
            raise ValueError("verify_token needs a token")
        self.register_secret(token)
        expected = self._client_id(app_id, "app_id")
        payload = self.request_json(
            "GET",
            self.api_url("oauth/token", api_version=VERIFY_TOKEN_API_VERSION),
            headers={"Authorization": f"Bearer {token}"},
        )
        if not isinstance(payload, Mapping):
            raise UnexpectedResponseError(
                "GET oauth/token: the answer is not a JSON object", service=self.service_name
            )
        issued_to = payload.get("client_id")
        if issued_to is None or not states_match(str(issued_to), expected):
            raise AuthenticationError(
                f"The token was issued to application {issued_to!r}, not {expected!r}",
                service=self.service_name,
            )
        return dict(payload)
