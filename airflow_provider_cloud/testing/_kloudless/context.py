"""What every endpoint of the Kloudless emulator reads from a request: the account, who acts, raw data; list bodies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_cloud.testing._emulator.messages import Request
from airflow_provider_cloud.testing._kloudless.backend import AccountState, KloudlessBackend


def account_of(backend: KloudlessBackend, request: Request, params: Mapping[str, str]) -> AccountState:
    """Return the account the path names (``me`` or an id), as the request's credentials may reach it."""
    return backend.resolve(backend.authenticate(request.header("Authorization")), params["account"])


def acting_user(request: Request, state: AccountState) -> str:
    """Return the user a change is made as: ``X-Kloudless-As-User``, else the account's own user."""
    return request.header("X-Kloudless-As-User") or state.record.user_id


def raw_data(request: Request) -> bool:
    """Tell whether ``X-Kloudless-Raw-Data: true`` asks for the ``raw`` objects."""
    return (request.header("X-Kloudless-Raw-Data") or "").strip().lower() == "true"


def object_list(objects: list[dict[str, Any]], api: str, **extra: Any) -> dict[str, Any]:
    """Return a list body: ``objects``, ``count``, the extras, ``"type": "object_list"`` and the ``api``."""
    return {"objects": objects, "count": len(objects), **extra, "type": "object_list", "api": api}
