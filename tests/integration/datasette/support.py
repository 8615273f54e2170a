"""Helpers of the DatasetteHook integration tests: hooks on connections of their own, what they sent, what is stored."""

from __future__ import annotations

import itertools
import json
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ProtocolError

from airflow_provider_cloud.hooks.datasette import DatasetteHook
from airflow_provider_cloud.testing.datasette import DatasetteServer

_conn_numbers = itertools.count(1)


def new_hook(
    server: DatasetteServer,
    monkeypatch: pytest.MonkeyPatch,
    *,
    token: str | None = None,
    extra: dict[str, Any] | None = None,
) -> DatasetteHook:
    """Return a hook on a connection of its own, defined through an ``AIRFLOW_CONN_...`` variable."""
    conn_id = f"ds_hook_test_{next(_conn_numbers)}"
    connection = server.connection_dict(token=token)
    connection["extra"].update(extra or {})
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(connection))
    hook = DatasetteHook(conn_id)
    assert hook.connection.host == server.url  # resolved now; cached on the hook afterwards
    return hook


def record_responses(hook: DatasetteHook) -> list[tuple[str, str, int]]:
    """Return a list that fills with ``(method, decoded path, status)`` of every response the hook gets."""
    seen: list[tuple[str, str, int]] = []

    def on_response(response: Any, *args: Any, **kwargs: Any) -> None:
        seen.append((response.request.method, unquote(urlsplit(response.url).path), response.status_code))

    hook.session.hooks["response"].append(on_response)
    return seen


def record_bodies(hook: DatasetteHook) -> list[int]:
    """Return a list that fills with the body size of every write request the hook sends."""
    sizes: list[int] = []

    def on_response(response: Any, *args: Any, **kwargs: Any) -> None:
        if response.request.method == "POST" and response.request.body:
            sizes.append(len(response.request.body))

    hook.session.hooks["response"].append(on_response)
    return sizes


def no_sleep(hook: DatasetteHook) -> list[float]:
    """Make the hook's retry waits instant and return the list of waits it asked for."""
    waits: list[float] = []
    hook._sleep = waits.append
    return waits


def stored(server: DatasetteServer, table: str, order: str = "id") -> list[dict[str, Any]]:
    """Read a whole table from the database file, bypassing the API."""
    quoted = '"' + table.replace('"', '""') + '"'
    return server.sql(f"select * from {quoted} order by {order}")


def table_in_file(server: DatasetteServer, table: str) -> bool:
    return bool(server.sql("select 1 from sqlite_master where type = 'table' and name = ?", [table]))


class LosingAdapter(HTTPAdapter):
    """
    A real adapter that loses chosen answers: ``lose(method, path_end, how)`` for the next matching request.

    ``after``: the request reaches the server, which acts, and the connection drops before the answer is read;
    ``before``: the connection drops before the request is sent (the server never sees it).
    """

    def __init__(self) -> None:
        super().__init__()
        self.losses: list[tuple[str, str, str]] = []
        self.lost: list[tuple[str, str, str]] = []

    def lose(self, method: str, path_end: str, how: str = "after") -> None:
        self.losses.append((method, path_end, how))

    def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        path = unquote(urlsplit(request.url).path)
        loss = next((x for x in self.losses if x[0] == request.method and path.endswith(x[1])), None)
        if loss is None:
            return super().send(request, *args, **kwargs)
        self.losses.remove(loss)
        self.lost.append(loss)
        if loss[2] == "after":
            super().send(request, *args, **kwargs).close()
        reset = ConnectionResetError(104, "Connection reset by peer")
        raise requests.ConnectionError(ProtocolError("Connection aborted.", reset), request=request)


def losing(hook: DatasetteHook) -> LosingAdapter:
    """Mount a :class:`LosingAdapter` on the hook's session (waits between retries skipped)."""
    adapter = LosingAdapter()
    hook.session.mount("http://", adapter)
    no_sleep(hook)
    return adapter
