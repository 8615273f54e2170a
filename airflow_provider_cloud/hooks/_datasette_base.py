"""
Datasette hook, part one: connection, server settings, databases, tables and their columns.

:class:`~airflow_provider_cloud.hooks.datasette.DatasetteHook` builds on it; reading and writing live in
``_datasette_read`` and ``datasette``.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any, ClassVar

from airflow_provider_cloud.exceptions import CloudApiError, NotFoundError, PermissionDeniedError
from airflow_provider_cloud.hooks._datasette_wire import tilde_encode
from airflow_provider_cloud.hooks.core import CloudApiHook
from airflow_provider_cloud.hooks.rowstore import DatasetInfo
from airflow_provider_cloud.rows.filters import Filter, parse_filters

_DEFAULT_MAX_ROWS = 100
_DEFAULT_MAX_BYTES = 2 * 1024 * 1024
_MAX_PAGE = 1000


class DatasetteBase(CloudApiHook):
    """Connection, settings and schema of a Datasette server."""

    service_name: ClassVar[str] = "Datasette"
    _database_arg: str | None
    _known_columns: dict[tuple[str, str], set[str]]

    def auth_headers(self) -> dict[str, str]:
        token = self.connection.password
        return {"Authorization": f"Bearer {token}"} if token else {}

    # -- server and schema ----------------------------------------------------------------------

    def test_connection(self) -> tuple[bool, str]:
        """Make one cheap authenticated call and report who the token acts as."""
        try:
            actor = self.get_actor()
            version = self.get_versions().get("datasette", {}).get("version", "unknown")
        except CloudApiError as exc:
            return False, str(exc)
        except ValueError as exc:
            return False, str(exc)
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
        """
        Return the server's settings; connection extras fill in only what the server hides.

        What the server reports wins over an extra: an extra above the server's real limit would get
        every first batch refused, and one below it would slow writes for no reason (``batch_size`` is the
        way to send smaller batches).
        """
        try:
            settings = dict(self.request_json("GET", "/-/settings.json") or {})
        except (NotFoundError, PermissionDeniedError):
            settings = {}
        for name in ("max_insert_rows", "max_post_body_bytes", "max_returned_rows"):
            if settings.get(name) in (None, "") and self.extras.get(name) not in (None, ""):
                settings[name] = int(self.extras[name])
        return settings

    @cached_property
    def max_insert_rows(self) -> int:
        return int(self.settings.get("max_insert_rows") or _DEFAULT_MAX_ROWS)

    @cached_property
    def max_post_body_bytes(self) -> int:
        return int(self.settings.get("max_post_body_bytes") or _DEFAULT_MAX_BYTES)

    @cached_property
    def max_page_size(self) -> int:
        return min(_MAX_PAGE, int(self.settings.get("max_returned_rows") or _MAX_PAGE))

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

    def _db(self, database: str | None) -> str:
        return tilde_encode(database or self.database)

    def _table_path(self, table: str, database: str | None) -> str:
        return f"/{self._db(database)}/{tilde_encode(table)}"

    def list_tables(self, *, database: str | None = None) -> list[str]:
        """Return the table names of a database that the token may see."""
        payload = self.request_json("GET", f"/{self._db(database)}.json")
        tables = payload.get("tables", []) if isinstance(payload, Mapping) else []
        return [t["name"] for t in tables if not t.get("hidden")]

    def table_exists(self, table: str, *, database: str | None = None) -> bool:
        """
        Tell whether a table exists (and the token may see it).

        Asks ``/-/schema.json``, which answers a missing table at once; the table page takes about a
        second to answer 404. Servers without that endpoint fall back to the table page.
        """
        path = self._table_path(table, database)
        try:
            self.request_json("GET", f"{path}/-/schema.json")
        except NotFoundError as exc:
            if any("Table not found" in e for e in exc.errors):
                return False
            try:
                self.request_json("GET", f"{path}.json", params={"_size": 0})
            except NotFoundError:
                return False
        return True

    def get_table_info(
        self, table: str, *, database: str | None = None, count: bool = False
    ) -> dict[str, Any]:
        """
        Return ``{"columns": {name: {type, notnull, default, is_pk}}, "primary_keys": [...], "count"}``.

        ``count`` is ``None`` unless asked for: counting a large table costs the server a full scan.
        """
        extras = "column_details,primary_keys" + (",count" if count else "")
        payload = self.request_json(
            "GET", f"{self._table_path(table, database)}.json", params={"_size": 0, "_extra": extras}
        )
        details = payload.get("column_details") or {}
        return {
            "columns": {
                name: {
                    "type": str(d.get("type") or "").lower(),
                    "notnull": bool(d.get("notnull")),
                    "default": d.get("default"),
                    "is_pk": bool(d.get("is_pk")),
                }
                for name, d in details.items()
            },
            "primary_keys": list(payload.get("primary_keys") or []),
            "count": payload.get("count"),
        }

    def get_columns(self, table: str, *, database: str | None = None) -> list[str]:
        columns = list(self.get_table_info(table, database=database)["columns"])
        self._known_columns[(database or self.database, table)] = set(columns)
        return columns

    def _filters(self, table: str, where: Mapping[str, Any] | None, database: str | None) -> list[Filter]:
        """
        Parse ``where`` and check its columns exist.

        Datasette ignores a filter on an unknown column (``?nope__gt=1`` matches every row), and SQLite reads
        an unknown double-quoted name as a string: either way a typo would select the wrong rows.
        """
        filters = parse_filters(where)
        if not filters:
            return filters
        names = {f.column for f in filters}
        known = self._known_columns.get((database or self.database, table))
        if known is None or not names <= known | {"rowid"}:
            known = set(self.get_columns(table, database=database))
        unknown = sorted(names - known - {"rowid"})
        if unknown:
            raise ValueError(
                f"table {table!r} has no column {', '.join(map(repr, unknown))}; it has {sorted(known)}"
            )
        return filters

    def describe(self, dataset: str, *, refresh: bool = False, database: str | None = None) -> DatasetInfo:
        """Return whether the table exists, its columns and types, and its primary key."""
        if not self.table_exists(dataset, database=database):
            return DatasetInfo(dataset, exists=False)
        info = self.get_table_info(dataset, database=database)
        keys = info["primary_keys"]
        return DatasetInfo(
            dataset,
            exists=True,
            columns={name: d["type"] for name, d in info["columns"].items()},
            keys=() if keys == ["rowid"] else tuple(keys),
        )

    def get_primary_keys(self, table: str, *, database: str | None = None) -> list[str]:
        """Return the table's primary key columns (``[]`` for a rowid table)."""
        keys = self.get_table_info(table, database=database)["primary_keys"]
        return [] if keys == ["rowid"] else keys
