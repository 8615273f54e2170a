"""
Hook for the Datasette 1.0 JSON API: self-hosted Datasette and Datasette Cloud.

Connection: host = base URL, password = API token (``dstok_…`` or ``dsatok_…``), extra ``database`` = the
default database; extras ``max_insert_rows`` and ``max_post_body_bytes`` stand in when the server's
``/-/settings.json`` is not readable, plus the HTTP-core extras (timeouts, ``verify``, retry limits).
The hook keeps the connection and the server's limits (``server``) and the facts of the tables it saw (cached
until it creates, alters or drops one, or runs SQL); ``reads``, ``writes`` and ``schema`` do the work.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any, ClassVar

from airflow_provider_cloud.exceptions import NotFoundError, PermissionDeniedError
from airflow_provider_cloud.hooks.datasette import ranges, reads, reconcile, schema, writes
from airflow_provider_cloud.hooks.datasette.server import DatasetteServerHook
from airflow_provider_cloud.hooks.datasette.wire import (
    SERVICE,
    database_path,
    filters_to_sql,
    quote_identifier,
    row_path,
    sort_params,
    table_path,
)
from airflow_provider_cloud.hooks.rowstore import DatasetInfo, WriteMode, WriteResult, check_write_mode
from airflow_provider_cloud.rows.filters import Filter, parse_filters


class DatasetteHook(DatasetteServerHook):
    """
    Read, write and clean up Datasette tables through the 1.0 JSON API.

    :param datasette_conn_id: the Airflow connection id (conn type ``datasette``).
    :param database: the database to use; defaults to the connection's ``database`` extra, else the
        server's only database.
    """

    conn_name_attr = "datasette_conn_id"
    default_conn_name = "datasette_default"
    conn_type = "datasette"
    hook_name = "Datasette"
    service_name: ClassVar[str] = SERVICE
    #: Writes and pages in flight by default; measured through the network-conditions proxy (README, Benchmarks).
    default_window: ClassVar[int] = 16

    def __init__(
        self, datasette_conn_id: str = default_conn_name, *, database: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(datasette_conn_id, database=database, **kwargs)
        self.datasette_conn_id = datasette_conn_id
        self._facts: dict[tuple[str, str], DatasetInfo] = {}

    def _path(self, table: str, database: str | None) -> str:
        return table_path(database or self.database, table)

    def list_tables(self, *, database: str | None = None) -> list[str]:
        """Return the table names of a database that the token may see."""
        payload = self.request_json("GET", f"{database_path(database or self.database)}.json")
        tables = payload.get("tables", []) if isinstance(payload, Mapping) else []
        return [t["name"] for t in tables if not t.get("hidden")]

    def describe(self, dataset: str, *, refresh: bool = False, database: str | None = None) -> DatasetInfo:
        """Return whether the table exists, its columns and types, and its primary key (see ``schema``)."""
        place = (database or self.database, dataset)
        if refresh or place not in self._facts:
            self._facts[place] = schema.read_facts(self.request_json, place[0], dataset)
        return self._facts[place]

    def _forget(self, table: str | None, database: str | None) -> None:
        """Drop the cached facts of a table this hook changed (``None``: of every table)."""
        places = list(self._facts) if table is None else [(database or self.database, table)]
        for place in places:
            self._facts.pop(place, None)

    def _checks(self, table: str, database: str) -> reconcile.Checks:
        """How to check a write to ``table`` whose answer was lost (see ``reconcile``)."""
        facts = partial(self.describe, table, refresh=True, database=database)
        return reconcile.Checks(self.request_json, facts, self.counts, lambda: self.max_page_size)

    def _existing(self, table: str, database: str | None) -> DatasetInfo:
        info = self.describe(table, database=database)
        if not info.exists:
            where = f"database {database or self.database!r}"
            raise NotFoundError(f"table {table!r} not found in {where}", service=SERVICE, status_code=404)
        return info

    def table_exists(self, table: str, *, database: str | None = None) -> bool:
        """Tell whether a table exists (and the token may see it)."""
        return self.describe(table, database=database).exists

    def get_table_info(
        self, table: str, *, database: str | None = None, count: bool = False
    ) -> dict[str, Any]:
        """
        Return ``{"columns": {name: {type, notnull, default, is_pk}}, "primary_keys": [...], "count"}``.

        Asks the table page each time. ``count`` is ``None`` unless asked for: counting a large table
        costs the server a full scan.
        """
        path = f"{self._path(table, database)}.json"
        return schema.table_info(self.request_json("GET", path, params=schema.page_params(count)))

    def get_columns(self, table: str, *, database: str | None = None) -> list[str]:
        """Return the table's column names, in table order."""
        return self._existing(table, database).column_names

    def get_primary_keys(self, table: str, *, database: str | None = None) -> list[str]:
        """Return the table's primary key columns (``[]`` for a rowid table)."""
        return list(self._existing(table, database).keys)

    def _filters(
        self, table: str, where: Mapping[str, Any] | None, database: str | None, named: Sequence[str] = ()
    ) -> list[Filter]:
        """Parse ``where``; check it and the ``named`` columns exist (asking again once before refusing)."""
        filters = parse_filters(where)
        if (filters or named) and schema.unknown_columns(
            where, named, self._existing(table, database).columns
        ):
            facts = self.describe(table, refresh=True, database=database)
            schema.refuse_unknown(table, where, named, facts.columns)
        return filters

    def count_rows(
        self, table: str, *, where: Mapping[str, Any] | None = None, database: str | None = None
    ) -> int:
        """Count the rows of a table that match ``where`` (exactly: see ``reads.count_rows``)."""
        filters = self._filters(table, where, database)
        counted = reads.count_rows(self.request_json, database or self.database, table, filters, log=self.log)
        if counted is None:
            columns = [f.column for f in filters] or None
            counted = sum(1 for _ in self.iter_rows(table, where=where, columns=columns, database=database))
        return counted

    def iter_rows(
        self,
        dataset: str,
        *,
        where: Mapping[str, Any] | None = None,
        columns: Sequence[str] | None = None,
        order_by: str | Sequence[str] | None = None,
        page_size: int | None = None,
        database: str | None = None,
        window: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """
        Yield the rows of a table lazily, in pages of the largest size by default (keyset paging).

        In key order (no ``order_by``, or the key) over an integer key or the rowid, pages of key ranges are
        read ``window`` at a time, yielded in key order (``ranges``); otherwise one page after another.

        :param where: filters in the DESIGN language, e.g. ``{"age__gte": 18}``. ``contains`` and
            ``startswith`` are checked again on each row: Datasette's ``LIKE`` ignores case and wildcards.
        :param columns: the columns to return (others, primary keys included, are left out).
        :param order_by: one column, ``"-col"`` for descending.
        :param window: pages read at once (default: the hook's ``window``).
        """
        named = [*(columns or ()), *(column for _, column in sort_params(order_by))]
        filters = self._filters(dataset, where, database, named)
        size = min(page_size or self.max_page_size, self.max_page_size)
        url = self.url_for(f"{self._path(dataset, database)}.json")
        yield from reads.iter_rows(
            self.request_json,
            url,
            filters,
            columns=columns,
            order_by=order_by,
            size=size,
            key_of=partial(self._range_key, dataset, database, order_by),
            window=self._window_for(window),
        )

    def _range_key(
        self, dataset: str, database: str | None, order_by: str | Sequence[str] | None
    ) -> str | None:
        return ranges.range_key(self.describe(dataset, database=database), order_by)

    def get_row(self, table: str, key: Sequence[Any] | Any, *, database: str | None = None) -> dict[str, Any]:
        """Return one row by its primary key value(s)."""
        return reads.get_row(self.request_json, database or self.database, table, key)

    def query(
        self, sql: str, params: Mapping[str, Any] | None = None, *, database: str | None = None
    ) -> list[dict[str, Any]]:
        """
        Run a read-only SQL query with named ``:params`` and return all its rows.

        :raises BadRequestError: when the server truncated the result (over ``max_returned_rows``):
            page with :meth:`iter_query` or :meth:`iter_rows` instead; results are never cut silently.
        """
        payload = reads.run_query(self.request_json, database or self.database, sql, params)
        return reads.rows_of_query(payload, lambda: self.settings.get("max_returned_rows", 1000))

    def iter_query(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        page_size: int | None = None,
        database: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Yield every row of a query, paging with LIMIT/OFFSET (give the query a stable ORDER BY)."""
        size = min(page_size or self.max_page_size, self.max_page_size)
        yield from reads.iter_query(lambda page: self.query(page, params, database=database), sql, size)

    def create_table(
        self,
        table: str,
        columns: Mapping[str, str] | Sequence[Mapping[str, Any]],
        *,
        pk: str | Sequence[str] | None = None,
        database: str | None = None,
    ) -> dict[str, Any]:
        """
        Create a table from column definitions; a lost answer is checked against its facts (``reconcile``).

        :param columns: ``{"name": "text"|"integer"|"float"|"blob"}`` or Datasette column dicts.
        :param pk: the primary key column, or several for a compound key; ``None`` for a rowid table.
        """
        db, body = database or self.database, writes.create_body(table, columns, pk)
        try:
            url = self.url_for(table_path(db, table))
            return reconcile.create_table(db, body, self._checks(table, db), log=self.log, table_url=url)
        finally:
            self._forget(table, database)

    def write_rows(
        self,
        dataset: str,
        rows: Iterable[Mapping[str, Any]],
        *,
        mode: WriteMode | str = "upsert",
        key: str | Sequence[str] | None = None,
        create: bool = False,
        alter: bool = False,
        batch_size: int | None = None,
        database: str | None = None,
        window: int | None = None,
    ) -> WriteResult:
        """
        Write rows in batches sized to the server's limits, one column set a batch (``batches``); return counts.

        :param mode: one of :data:`~airflow_provider_cloud.hooks.rowstore.WRITE_MODES` (default ``upsert``).
        :param key: the key column(s); with ``create`` it becomes the new table's primary key, otherwise
            it must match the table's primary key.
        :param create: create the table from the first batch's columns and types if it does not exist (and
            drop it again, if still empty, when the write fails). An ``insert`` whose answer is lost is checked.
        :param alter: add columns the table lacks instead of failing.
        :param batch_size: rows per request, at most the server's ``max_insert_rows``.
        :param window: requests in flight at most (default: the hook's ``window``); see ``sender``.
        """
        check_write_mode(mode)
        db, info, width = (
            database or self.database,
            self.describe(dataset, database=database),
            self._window_for(window),
        )
        checks = self._checks(dataset, db)
        write = writes.TableWrite(
            checks, db, info, mode=mode, key=key, create=create, alter=alter, log=self.log, window=width
        )
        limit = min(batch_size or self.max_insert_rows, self.max_insert_rows)
        try:
            return write.run(rows, max_rows=limit, max_bytes=self.max_post_body_bytes)
        finally:
            if write.learned_max_rows is not None:
                self.max_insert_rows = write.learned_max_rows
            if write.facts_changed:
                self._forget(dataset, database)

    def update_row(
        self,
        table: str,
        key: Sequence[Any] | Any,
        updates: Mapping[str, Any],
        *,
        alter: bool = False,
        database: str | None = None,
    ) -> dict[str, Any]:
        """Update some columns of one row and return the row as stored."""
        try:
            return writes.update_row(self.request_json, self._path(table, database), key, updates, alter)
        finally:
            if alter:
                self._forget(table, database)

    def delete_row(self, table: str, key: Sequence[Any] | Any, *, database: str | None = None) -> None:
        """Delete one row by its primary key value(s)."""
        path = f"{self._path(table, database)}/{row_path(key)}/-/delete"
        self.request_json("POST", path, idempotent=True)

    def delete_rows(
        self,
        dataset: str,
        *,
        where: Mapping[str, Any] | None = None,
        keys: Iterable[Sequence[Any] | Any] | None = None,
        dry_run: bool = False,
        database: str | None = None,
    ) -> int:
        """
        Delete rows by filter or by key and return how many were (or, in a dry run, would be) deleted.

        By filter, it runs one SQL ``delete`` when the token may (``execute-write-sql``), else it lists the
        matching keys and deletes row by row. ``where={}`` deletes every row; ``where=None`` needs ``keys``.
        """
        db = database or self.database
        if keys is not None:
            key_list = list(keys)
            return len(key_list) if dry_run else writes.delete_keys(self.request_json, db, dataset, key_list)
        if where is None:
            raise ValueError("delete_rows needs where=... (use where={} to delete every row) or keys=...")
        if dry_run:
            return self.count_rows(dataset, where=where, database=database)
        sql_where, params = filters_to_sql(self._filters(dataset, where, database))
        try:
            sql = f"delete from {quote_identifier(dataset)} where {sql_where}"
            return self.execute_write(sql, params, database=database)
        except PermissionDeniedError:
            self.log.info("The token may not run SQL writes; deleting rows of %s one by one", dataset)
        pks = self.get_primary_keys(dataset, database=database) or ["rowid"]
        rows = self.iter_rows(dataset, where=where, columns=pks, database=database)
        return writes.delete_keys(self.request_json, db, dataset, [[row[k] for k in pks] for row in rows])

    def execute_write(
        self, sql: str, params: Mapping[str, Any] | None = None, *, database: str | None = None
    ) -> int:
        """Run one writing SQL statement (needs ``execute-write-sql``) and return the rows it changed."""
        body = {"sql": sql, "params": dict(params or {})}
        try:
            path = f"{database_path(database or self.database)}/-/execute-write"
            payload = self.request_json("POST", path, json_body=body)
        finally:
            self._forget(None, database)  # arbitrary SQL may have changed any table
        return int(payload.get("rowcount") or 0)

    def drop_table(self, table: str, *, confirm: bool = False, database: str | None = None) -> int:
        """
        Drop a table and return how many rows it had.

        Without ``confirm=True`` nothing is dropped: the row count it would lose is returned.
        """
        path = f"{self._path(table, database)}/-/drop"
        if not confirm:
            return int(self.request_json("POST", path).get("row_count") or 0)
        count = self.count_rows(table, database=database)
        try:
            self.request_json("POST", path, json_body={"confirm": True}, idempotent=True)
        finally:
            self._forget(table, database)
        return count
