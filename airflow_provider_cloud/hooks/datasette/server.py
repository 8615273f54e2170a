"""
The Datasette server a hook talks to: its connection, token, limits and databases, and the window of a call.

``DatasetteHook`` (``hook.py``) adds tables and rows on top. A call may ask for a larger window than the
hook's (``write_rows(window=...)``): the session's pool then grows to hold a connection for each request in
flight (it blocks rather than open more, see the core's ``session``), and stays that size.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any

from requests.adapters import HTTPAdapter

from airflow_provider_cloud.assets import datasette_uri, public_base
from airflow_provider_cloud.exceptions import CloudApiError, NotFoundError, PermissionDeniedError
from airflow_provider_cloud.hooks.core import CloudApiHook, check_window
from airflow_provider_cloud.hooks.datasette.wire import (
    DEFAULT_MAX_INSERT_ROWS,
    DEFAULT_MAX_POST_BODY_BYTES,
    MAX_PAGE_SIZE,
    settings_with_extras,
    table_path,
)


class DatasetteServerHook(CloudApiHook):
    """
    The server's side of :class:`~airflow_provider_cloud.hooks.datasette.DatasetteHook`.

    :param database: the database to use; defaults to the connection's ``database`` extra, else the
        server's only database.
    """

    def __init__(self, conn_id: str, *, database: str | None = None, **kwargs: Any) -> None:
        super().__init__(conn_id, **kwargs)
        self._database_arg = database

    def _window_for(self, asked: int | None) -> int:
        """Return the window of one call: ``asked``, else the hook's; the session's pool grows to hold it."""
        if asked is None:
            return self.window
        size = check_window(asked, "window")
        if size > self._pool:
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=size, pool_block=True)
            for prefix in ("http://", "https://"):
                self.session.mount(prefix, adapter)
            self._pool = size
        return size

    @cached_property
    def _pool(self) -> int:
        return self.window

    def auth_headers(self) -> dict[str, str]:
        token = self.connection.password
        return {"Authorization": f"Bearer {token}"} if token else {}

    def test_connection(self) -> tuple[bool, str]:
        """Make one cheap authenticated call and report who the token acts as."""
        try:
            actor = self.get_actor()
            version = self.get_versions().get("datasette", {}).get("version", "unknown")
        except (CloudApiError, ValueError) as exc:
            return False, self.scrub(str(exc))
        if actor is None:
            if self.connection.password:
                return False, "Datasette did not recognise the token: requests would be anonymous"
            return True, f"Connected to Datasette {version} at {self.base_url} anonymously (no token set)"
        return True, f"Connected to Datasette {version} at {self.base_url} as actor {actor.get('id')!r}"

    def get_actor(self) -> dict[str, Any] | None:
        """Return the actor the token acts as (``None`` for anonymous)."""
        payload = self.request_json("GET", "/-/actor.json")
        return payload.get("actor") if isinstance(payload, Mapping) else None

    def get_versions(self) -> dict[str, Any]:
        """Return the server's ``/-/versions.json``."""
        return dict(self.request_json("GET", "/-/versions.json") or {})

    @cached_property
    def settings(self) -> dict[str, Any]:
        """Return the server's settings; connection extras fill in what it hides (``settings_with_extras``)."""
        try:
            found = dict(self.request_json("GET", "/-/settings.json") or {})
        except (NotFoundError, PermissionDeniedError):
            found = {}
        return settings_with_extras(found, self.extras)

    @cached_property
    def max_insert_rows(self) -> int:
        """Rows per write: the server's setting, or what a refused write taught (see ``write_rows``)."""
        return int(self.settings.get("max_insert_rows") or DEFAULT_MAX_INSERT_ROWS)

    @cached_property
    def max_post_body_bytes(self) -> int:
        return int(self.settings.get("max_post_body_bytes") or DEFAULT_MAX_POST_BODY_BYTES)

    @cached_property
    def max_page_size(self) -> int:
        return min(MAX_PAGE_SIZE, int(self.settings.get("max_returned_rows") or MAX_PAGE_SIZE))

    def list_databases(self) -> list[str]:
        """Return the names of the server's databases (the internal one left out)."""
        payload = self.request_json("GET", "/-/databases.json")
        items = payload.get("databases", []) if isinstance(payload, Mapping) else payload
        return [d["name"] for d in items or [] if d.get("name") != "_internal"]

    @cached_property
    def database(self) -> str:
        """Return the database in use: the hook argument, the ``database`` extra or the only one."""
        name = self._database_arg or self.extras.get("database") or self.connection.schema
        if name and name not in ("http", "https"):
            return str(name)
        names = self.list_databases()
        if len(names) == 1:
            return names[0]
        raise ValueError(
            f"Connection {self.conn_id!r}: set the 'database' extra; the server has {names or 'no databases'}"
        )

    def asset_uri(self, table: str, *, database: str | None = None) -> str:
        """Return the table's asset URI: ``datasette://host[:port]/database/table`` (``assets``)."""
        return datasette_uri(self.base_url, database or self.database, table)

    def table_page_url(self, table: str, *, database: str | None = None) -> str:
        """Return the table's page on the server, for people: the base URL without user info, never a token."""
        return public_base(self.base_url) + table_path(database or self.database, table)
