"""
Hook for the Datasette 1.0 JSON API: self-hosted Datasette and Datasette Cloud.

Connection: host = base URL (``https://myspace.datasette.cloud``, ``http://127.0.0.1:8001``), password = API
token (``dstok_…`` or ``dsatok_…``), extra ``database`` = the default database. Optional extras:
``max_insert_rows`` and ``max_post_body_bytes`` when the server's ``/-/settings.json`` is not readable, and the
HTTP-core extras (timeouts, ``verify``, retry limits).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from airflow_provider_cloud.exceptions import (
    ApiResponseError,
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
    RowDataError,
)
from airflow_provider_cloud.hooks._batches import Batch, BatchPlanner
from airflow_provider_cloud.hooks._datasette_read import DatasetteReads
from airflow_provider_cloud.hooks._datasette_wire import (
    filters_to_sql,
    infer_column_types,
    quote_identifier,
    row_path,
)
from airflow_provider_cloud.hooks._datasette_writer import BatchWriter
from airflow_provider_cloud.hooks.rowstore import WriteMode, WriteResult, check_write_mode
from airflow_provider_cloud.rows.batching import RowBlocks

COLUMN_TYPES = ("text", "integer", "float", "blob")


class DatasetteHook(DatasetteReads):
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
    service_name: ClassVar[str] = "Datasette"

    def __init__(
        self, datasette_conn_id: str = default_conn_name, *, database: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(datasette_conn_id, **kwargs)
        self.datasette_conn_id = datasette_conn_id
        self._database_arg = database
        self._known_columns: dict[tuple[str, str], set[str]] = {}

    # -- writing ---------------------------------------------------------------------------------

    def create_table(
        self,
        table: str,
        columns: Mapping[str, str] | Sequence[Mapping[str, Any]],
        *,
        pk: str | Sequence[str] | None = None,
        database: str | None = None,
    ) -> dict[str, Any]:
        """
        Create a table from column definitions.

        :param columns: ``{"name": "text"|"integer"|"float"|"blob"}`` or Datasette column dicts.
        :param pk: the primary key column, or several for a compound key; ``None`` for a rowid table.
        """
        defs = (
            [{"name": n, "type": t} for n, t in columns.items()]
            if isinstance(columns, Mapping)
            else [dict(c) for c in columns]
        )
        for d in defs:
            if d.get("type", "text") not in COLUMN_TYPES:
                raise ValueError(f"column {d.get('name')!r}: type must be one of {COLUMN_TYPES}")
        body: dict[str, Any] = {"table": table, "columns": defs}
        if isinstance(pk, str):
            body["pk"] = pk
        elif pk:
            body["pks"] = list(pk)
        return dict(self.request_json("POST", f"/{self._db(database)}/-/create", json_body=body))

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
    ) -> WriteResult:
        """
        Write rows in batches sized to the server's limits and return counts.

        Rows are grouped by column set so that no column is written as NULL by accident.

        :param mode: ``insert`` (fails on an existing key), ``ignore`` (keeps existing rows), ``replace``
            (replaces whole rows) or ``upsert`` (updates the given columns by key, inserts new keys).
        :param key: the key column(s); with ``create`` it becomes the new table's primary key, otherwise
            it must match the table's primary key.
        :param create: create the table from the first batch's columns and types if it does not exist.
        :param alter: add columns the table lacks instead of failing.
        :param batch_size: rows per request, at most the server's ``max_insert_rows``.
        """
        check_write_mode(mode)
        keys = [key] if isinstance(key, str) else list(key or [])
        exists = self.table_exists(dataset, database=database)
        if not exists and not create:
            raise NotFoundError(
                f"table {dataset!r} does not exist in database {database or self.database!r} "
                "(pass create=True to create it)",
                service=self.service_name,
                status_code=404,
            )
        if exists:
            keys = self._check_key(dataset, keys, mode, database)
        elif mode == "upsert" and not keys:
            raise ValueError("upsert into a new table needs key=... to create its primary key")
        limit = min(batch_size or self.max_insert_rows, self.max_insert_rows)
        planner = BatchPlanner(max_rows=limit, max_bytes=self.max_post_body_bytes, key=keys)
        endpoint = "upsert" if mode == "upsert" else "insert"
        path = f"{self._table_path(dataset, database)}/-/{endpoint}"
        created = False
        try:
            with BatchWriter(self, path, mode, planner, alter=alter or not exists) as writer:
                if exists and alter:
                    writer.known_columns = set(self.get_columns(dataset, database=database))

                def submit(batches: Iterable[Batch]) -> None:
                    nonlocal created
                    for batch in batches:
                        if not exists and not created:
                            writer.known_columns = self._create_for(dataset, batch, keys, database)
                            created = True
                        writer.submit(batch)

                if isinstance(rows, RowBlocks):
                    index = 1
                    unchecked = [k for k in keys if k not in rows.keys_checked]
                    for block in rows.blocks():  # the hot loop: a list of rows at a time
                        missing = _first_without_key(block, unchecked)
                        if missing is not None:
                            offset, k = missing
                            submit(planner.add_block(block[:offset], index))  # as row by row would
                            raise _no_key(k, index + offset)
                        submit(planner.add_block(block, index))
                        index += len(block)
                else:
                    add = planner.add
                    for index, row in enumerate(rows, start=1):  # the hot loop: kept lean
                        for k in keys:
                            if row.get(k) is None:
                                raise _no_key(k, index)
                        full = add(row, index)
                        if full:
                            submit(full)
                submit(planner.drain())
        except BadRequestError as exc:
            raise _restated(exc) from None
        return WriteResult(rows=writer.rows, requests=writer.batches, created=created)

    def _check_key(self, table: str, keys: list[str], mode: str, database: str | None) -> list[str]:
        table_keys = self.get_primary_keys(table, database=database)
        if keys and table_keys and sorted(keys) != sorted(table_keys):
            raise ValueError(f"key {keys} does not match the primary key {table_keys} of table {table!r}")
        if mode == "upsert" and not table_keys:
            raise ValueError(
                f"upsert needs a primary key, and table {table!r} has none (it is a rowid table)"
            )
        return keys or table_keys

    def _create_for(self, table: str, batch: Batch, keys: list[str], database: str | None) -> set[str] | None:
        """Create the table from a batch's columns and types; return its columns (``None``: unknown)."""
        types = infer_column_types(batch.rows)
        missing = [k for k in keys if k not in types]
        if missing:
            raise RowDataError(f"key column(s) {missing} missing from the rows", source="rows")
        ordered = {k: types[k] for k in keys} | {n: t for n, t in types.items() if n not in keys}
        try:
            self.create_table(table, ordered, pk=keys or None, database=database)
        except BadRequestError as exc:
            if not any("already exists" in e for e in exc.errors):
                raise
            self.log.info("Table %s was created meanwhile; writing into it", table)
            return None
        self.log.info("Created table %s with columns %s and key %s", table, list(ordered), keys or "rowid")
        return set(ordered)

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
        values = list(key) if isinstance(key, list | tuple) else [key]
        body = {"update": dict(updates), "return": True, "alter": alter}
        payload = self.request_json(
            "POST",
            f"{self._table_path(table, database)}/{row_path(values)}/-/update",
            json_body=body,
            idempotent=True,
        )
        rows = payload.get("rows") or ([payload["row"]] if payload.get("row") else [])
        return dict(rows[0]) if rows else {}

    def delete_row(self, table: str, key: Sequence[Any] | Any, *, database: str | None = None) -> None:
        """Delete one row by its primary key value(s)."""
        values = list(key) if isinstance(key, list | tuple) else [key]
        self.request_json(
            "POST", f"{self._table_path(table, database)}/{row_path(values)}/-/delete", idempotent=True
        )

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
        if keys is not None:
            key_list = list(keys)
            if dry_run:
                return len(key_list)
            deleted = 0
            for key in key_list:
                try:
                    self.delete_row(dataset, key, database=database)
                except NotFoundError:
                    continue
                deleted += 1
            return deleted
        if where is None:
            raise ValueError("delete_rows needs where=... (use where={} to delete every row) or keys=...")
        if dry_run:
            return self.count_rows(dataset, where=where, database=database)
        sql_where, params = filters_to_sql(self._filters(dataset, where, database))
        try:
            return self.execute_write(
                f"delete from {quote_identifier(dataset)} where {sql_where}", params, database=database
            )
        except PermissionDeniedError:
            self.log.info(
                "The token may not run SQL writes; deleting matching rows of %s one by one", dataset
            )
        pks = self.get_primary_keys(dataset, database=database) or ["rowid"]
        matching = [
            [row[k] for k in pks]
            for row in self.iter_rows(dataset, where=where, columns=pks, database=database)
        ]
        return self.delete_rows(dataset, keys=matching, database=database)

    def execute_write(
        self, sql: str, params: Mapping[str, Any] | None = None, *, database: str | None = None
    ) -> int:
        """Run one writing SQL statement (needs ``execute-write-sql``) and return the rows it changed."""
        payload = self.request_json(
            "POST",
            f"/{self._db(database)}/-/execute-write",
            json_body={"sql": sql, "params": dict(params or {})},
        )
        return int(payload.get("rowcount") or 0)

    def drop_table(self, table: str, *, confirm: bool = False, database: str | None = None) -> int:
        """
        Drop a table and return how many rows it had.

        Without ``confirm=True`` nothing is dropped: the row count it would lose is returned.
        """
        path = f"{self._table_path(table, database)}/-/drop"
        if not confirm:
            payload = self.request_json("POST", path)
            return int(payload.get("row_count") or 0)
        count = self.count_rows(table, database=database)
        self.request_json("POST", path, json_body={"confirm": True}, idempotent=True)
        return count


def _restated(exc: ApiResponseError) -> ApiResponseError:
    """
    Rebuild an API error whose ``errors`` grew after it was raised, so that its text shows them all.

    The batch writer appends which input rows a failed batch held; the text of an exception is fixed
    when it is made, so without this the note would be on ``errors`` only, not in the message.
    """
    if all(e in str(exc) for e in exc.errors):
        return exc
    return type(exc)(
        exc.message,
        service=exc.service,
        status_code=exc.status_code,
        errors=exc.errors,
        request_id=exc.request_id,
        retryable=exc.retryable,
        retry_after=exc.retry_after,
    )


_IS_NONE = functools.partial(operator.is_, None)


def _first_without_key(rows: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> tuple[int, str] | None:
    """Return where the first row without a key value is, and which key (the first it lacks), if any."""
    found: tuple[int, str] | None = None
    for k in keys:
        values = [row.get(k) for row in rows]
        if any(map(_IS_NONE, values)):
            offset = next(i for i, value in enumerate(values) if value is None)
            if found is None or offset < found[0]:
                found = (offset, k)
    return found


def _no_key(column: str, index: int) -> RowDataError:
    return RowDataError("the row has no value for its key", source="rows", line=index, column=column)
