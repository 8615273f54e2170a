"""
Account endpoints of the Kloudless emulator: list (filtered, paged), retrieve, update, delete.

[I] choices: ``active`` and ``enabled`` both filter on the account's ``active`` flag (the account object has no
other); an update may change ``active`` and ``account`` (the display name); ``service`` and the other read-only
fields may be sent only unchanged (400 otherwise: never a silent no-op); upstream credentials (``token``,
``refresh_token``, ...) answer 501, as does importing an account (``POST /accounts``: ``unserved.py``), since
there is no upstream service to check them against. Deleting an account disconnects it: its tokens, files,
calendars and events are gone (204). A Bearer token reaches its own account only, the API key every account.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_cloud.testing._emulator.messages import Reply, Request, json_reply
from airflow_provider_cloud.testing._kloudless.backend import KloudlessBackend
from airflow_provider_cloud.testing._kloudless.context import account_of, object_list, raw_data
from airflow_provider_cloud.testing._kloudless.errors import invalid_parameters
from airflow_provider_cloud.testing._kloudless.params import first, json_body, page_args, paginate, parse_bool
from airflow_provider_cloud.testing._kloudless.unserved import not_implemented

#: Documented default page size of ``GET /accounts``.
DEFAULT_ACCOUNTS_PAGE_SIZE = 10
#: Upstream credentials an account update may carry: the emulator has no upstream service.
CREDENTIAL_FIELDS = frozenset(
    {"token", "token_secret", "refresh_token", "token_expiry", "refresh_token_expiry"}
)


def _filter(request: Request, name: str) -> bool | None:
    text = first(request.query, name)
    return None if text is None else parse_bool(name, text)


def list_accounts(backend: KloudlessBackend, request: Request, params: Mapping[str, str]) -> Reply:
    principal = backend.authenticate(request.header("Authorization"))
    states = backend.list_accounts(
        principal,
        active=[
            flag for flag in (_filter(request, "enabled"), _filter(request, "active")) if flag is not None
        ],
        admin=_filter(request, "admin"),
    )
    page, size = page_args(request, DEFAULT_ACCOUNTS_PAGE_SIZE)
    chunk, _ = paginate(states, page, size)
    objects = [s.record.to_json(raw=raw_data(request)) for s in chunk]
    return json_reply(200, object_list(objects, "meta", total=len(states), page=page))


def get_account(backend: KloudlessBackend, request: Request, params: Mapping[str, str]) -> Reply:
    state = account_of(backend, request, params)
    return json_reply(200, state.record.to_json(raw=raw_data(request)))


def update_account(backend: KloudlessBackend, request: Request, params: Mapping[str, str]) -> Reply:
    state = account_of(backend, request, params)
    body = json_body(request)
    credentials = sorted(CREDENTIAL_FIELDS & body.keys())
    if credentials:
        raise not_implemented(
            f"updating upstream credentials ({', '.join(credentials)})", "PATCH", request.path
        )
    current = state.record.to_json()
    changes: dict[str, Any] = {}
    for key, value in body.items():
        if key == "active":
            if not isinstance(value, bool):
                raise invalid_parameters("'active' must be true or false.")
            changes[key] = value
        elif key == "account":
            if not isinstance(value, str) or not value.strip():
                raise invalid_parameters("'account' must be a non-empty string.")
            changes[key] = value
        elif key not in current or current[key] != value:
            raise invalid_parameters(f"{key!r} cannot be changed on an account.")
    record = state.record
    for key, value in changes.items():
        setattr(record, key, value)
    record.modified = backend.now()
    return json_reply(200, record.to_json(raw=raw_data(request)))


def delete_account(backend: KloudlessBackend, request: Request, params: Mapping[str, str]) -> Reply:
    backend.delete_account(account_of(backend, request, params))
    return Reply(204, content_type=None)
