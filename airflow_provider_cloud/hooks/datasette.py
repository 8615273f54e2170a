"""
Hook for the Datasette 1.0 JSON API: self-hosted Datasette and Datasette Cloud.

Connection: host = base URL (``https://myspace.datasette.cloud``, ``http://127.0.0.1:8001``), password = API
token (``dstok_…`` or ``dsatok_…``), extra ``database`` = the default database. Optional extras:
``max_insert_rows`` and ``max_post_body_bytes`` when the server's ``/-/settings.json`` is not readable, and the
HTTP-core extras (timeouts, ``verify``, retry limits).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit, urlunsplit

from airflow_provider_cloud.exceptions import (
    ApiResponseError,
    BadRequestError,
    CloudApiError,
    NotFoundError,
    PermissionDeniedError,
    RowDataError,
    UnexpectedResponseError,
)
from airflow_provider_cloud.hooks._batches import Batch, BatchPlanner
from airflow_provider_cloud.hooks._datasette_wire import (
    filters_to_params,
    filters_to_sql,
    infer_column_types,
    needs_client_check,
    quote_identifier,
    row_path,
    tilde_encode,
)
from airflow_provider_cloud.hooks._datasette_writer import BatchWriter
from airflow_provider_cloud.hooks._http import CloudApiHook
from airflow_provider_cloud.hooks._prefetch import prefetched
from airflow_provider_cloud.rows.filters import Filter, matches_all, parse_filters

WriteMode = Literal["insert", "ignore", "replace", "upsert"]
WRITE_MODES: tuple[str, ...] = ("insert", "ignore", "replace", "upsert")
COLUMN_TYPES = ("text", "integer", "float", "blob")
_DEFAULT_MAX_ROWS = 100
_DEFAULT_MAX_BYTES = 2 * 1024 * 1024
_MAX_PAGE = 1000


@dataclass(frozen=True)
class WriteResult:
    """What :meth:`DatasetteHook.write_rows` did."""

    rows: int
    batches: int
    created: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class DatasetteHook(CloudApiHook):
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

    def get_primary_keys(self, table: str, *, database: str | None = None) -> list[str]:
        """Return the table's primary key columns (``[]`` for a rowid table)."""
        keys = self.get_table_info(table, database=database)["primary_keys"]
        return [] if keys == ["rowid"] else keys

    def count_rows(
        self, table: str, *, where: Mapping[str, Any] | None = None, database: str | None = None
    ) -> int:
        """
        Count the rows of a table that match ``where``.

        The table API counts; ``contains``/``startswith`` filters (which Datasette runs as a case-blind
        ``LIKE``), or a count the server cut short, are counted exactly in SQL, or page by page when the
        token may not run SQL.
        """
        filters = self._filters(table, where, database)
        if not needs_client_check(filters):
            params = [("_size", "0"), ("_extra", "count"), *filters_to_params(filters)]
            payload = self.request_json("GET", f"{self._table_path(table, database)}.json", params=params)
            if not payload.get("count_truncated") and payload.get("count") is not None:
                return int(payload["count"])
        return self._count_exactly(table, where, filters, database)

    def _count_exactly(
        self, table: str, where: Mapping[str, Any] | None, filters: list[Filter], database: str | None
    ) -> int:
        sql_where, sql_params = filters_to_sql(filters)
        try:
            rows = self.query(
                f"select count(*) as n from {quote_identifier(table)} where {sql_where}",
                sql_params,
                database=database,
            )
            return int(rows[0]["n"])
        except PermissionDeniedError:
            self.log.info("The token may not run SQL; counting matching rows of %s page by page", table)
        columns = [f.column for f in filters] or None
        return sum(1 for _ in self.iter_rows(table, where=where, columns=columns, database=database))

    # -- reading ---------------------------------------------------------------------------------

    def iter_rows(
        self,
        dataset: str,
        *,
        where: Mapping[str, Any] | None = None,
        columns: Sequence[str] | None = None,
        order_by: str | Sequence[str] | None = None,
        page_size: int | None = None,
        database: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """
        Yield the rows of a table lazily, one page at a time (keyset paging, largest page by default).

        :param where: filters in the DESIGN language, e.g. ``{"age__gte": 18}``. ``contains`` and
            ``startswith`` are checked again on each row: Datasette's ``LIKE`` ignores case and wildcards.
        :param columns: the columns to return (others, primary keys included, are left out).
        :param order_by: one column, ``"-col"`` for descending.
        """
        filters = self._filters(dataset, where, database)
        checked = needs_client_check(filters)
        wanted = list(columns) if columns else None
        size = min(page_size or self.max_page_size, self.max_page_size)
        params: list[tuple[str, str]] = [("_size", str(size)), ("_nofacet", "1"), ("_nosuggest", "1")]
        params += [("_col", c) for c in _columns_to_fetch(wanted, checked)]
        params += _sort_params(order_by)
        params += filters_to_params(filters)
        pages = self._pages(f"{self._table_path(dataset, database)}.json", params, checked, wanted)
        yield from prefetched(pages, name="datasette-read-ahead")

    def _pages(
        self,
        url: str | None,
        params: list[tuple[str, str]],
        checked: list[Filter],
        wanted: list[str] | None,
    ) -> Iterator[list[dict[str, Any]]]:
        """Yield the table's pages as lists of rows, following ``next_url``."""
        query: list[tuple[str, str]] | None = params
        while url:
            payload = self.request_json("GET", url, params=query)
            rows = payload.get("rows") if isinstance(payload, Mapping) else None
            if rows is None:
                raise UnexpectedResponseError(
                    f"GET {urlsplit(url).path}: no 'rows' in the answer", service=self.service_name
                )
            if checked:
                rows = [row for row in rows if matches_all(row, checked)]
            if wanted is not None:
                rows = [{c: row.get(c) for c in wanted} for row in rows]
            yield rows
            url, query = _next_page(payload, url, params)
            if url and query is None:
                url = self._same_origin(url)

    def _same_origin(self, url: str) -> str:
        """Keep following pages on the connection's scheme and host (proxies may report another)."""
        ours, theirs = urlsplit(self.base_url), urlsplit(url)
        if (ours.scheme, ours.netloc) == (theirs.scheme, theirs.netloc):
            return url
        return urlunsplit((ours.scheme, ours.netloc, theirs.path, theirs.query, ""))

    def get_row(self, table: str, key: Sequence[Any] | Any, *, database: str | None = None) -> dict[str, Any]:
        """Return one row by its primary key value(s)."""
        values = list(key) if isinstance(key, list | tuple) else [key]
        payload = self.request_json("GET", f"{self._table_path(table, database)}/{row_path(values)}.json")
        rows = payload.get("rows") or []
        if not rows:
            raise NotFoundError(f"row {values!r} not found in {table!r}", service=self.service_name)
        return dict(rows[0])

    def query(
        self, sql: str, params: Mapping[str, Any] | None = None, *, database: str | None = None
    ) -> list[dict[str, Any]]:
        """
        Run a read-only SQL query with named ``:params`` and return all its rows.

        :raises BadRequestError: when the server truncated the result (over ``max_returned_rows``):
            page with :meth:`iter_query` or :meth:`iter_rows` instead; results are never cut silently.
        """
        query = [("sql", sql), ("_shape", "objects")]
        query += [(k, _param(v)) for k, v in (params or {}).items()]
        try:
            payload = self.request_json("GET", f"/{self._db(database)}/-/query.json", params=query)
        except NotFoundError as missing:
            # Alphas before 1.0a14 (as Datasette Cloud may still run) answer SQL at /{db}.json?sql=.
            try:
                payload = self.request_json("GET", f"/{self._db(database)}.json", params=query)
            except NotFoundError:
                raise missing from None
        if payload.get("truncated"):
            raise BadRequestError(
                f"the query returned more than {self.settings.get('max_returned_rows', 1000)} rows and "
                "Datasette truncated it; use iter_query() to page through it",
                service=self.service_name,
            )
        return list(payload.get("rows") or [])

    def iter_query(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        page_size: int | None = None,
        database: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """
        Yield every row of a query, paging with LIMIT/OFFSET (give the query a stable ORDER BY).

        The query is wrapped as a subquery: a trailing ``;`` is dropped and the closing parenthesis goes on
        a line of its own, so SQL that :meth:`query` accepts (ending in ``;`` or a ``--`` comment) works here.
        """
        size = min(page_size or self.max_page_size, self.max_page_size)
        inner = sql.rstrip().rstrip(";").rstrip()
        offset = 0
        while True:
            page = self.query(
                f"select * from ({inner}\n) limit {size} offset {offset}", params, database=database
            )
            yield from page
            if len(page) < size:
                return
            offset += size

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
        if mode not in WRITE_MODES:
            raise ValueError(f"mode must be one of {WRITE_MODES}, got {mode!r}")
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
                for index, row in enumerate(rows, start=1):
                    _check_row(row, keys, index)
                    for batch in planner.add(row, index):
                        if not exists and not created:
                            writer.known_columns = self._create_for(dataset, batch, keys, database)
                            created = True
                        writer.submit(batch)
                for batch in planner.drain():
                    if not exists and not created:
                        writer.known_columns = self._create_for(dataset, batch, keys, database)
                        created = True
                    writer.submit(batch)
        except BadRequestError as exc:
            raise _restated(exc) from None
        return WriteResult(rows=writer.rows, batches=writer.batches, created=created)

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


def _columns_to_fetch(wanted: list[str] | None, checked: Sequence[Filter]) -> list[str]:
    """
    Return the ``_col`` values for a page request: the wanted columns plus those re-checked client-side.

    ``rowid`` is left out: Datasette rejects ``_col=rowid`` (400), and always sends the row id of a rowid
    table anyway. Without any ``_col`` Datasette sends every column, which the caller then trims.
    """
    if wanted is None:
        return []
    names = [*wanted, *(f.column for f in checked if f.column not in wanted)]
    return [c for c in dict.fromkeys(names) if c != "rowid"]


def _check_row(row: Mapping[str, Any], keys: Sequence[str], index: int) -> None:
    for k in keys:
        if row.get(k) is None:
            raise RowDataError("the row has no value for its key", source="rows", line=index, column=k)


def _sort_params(order_by: str | Sequence[str] | None) -> list[tuple[str, str]]:
    if not order_by:
        return []
    items = [order_by] if isinstance(order_by, str) else list(order_by)
    if len(items) > 1:
        raise ValueError("Datasette sorts table pages by one column; give order_by one column")
    column = items[0]
    return [("_sort_desc", column[1:])] if column.startswith("-") else [("_sort", column)]


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return "" if value is None else str(value)


def _next_page(
    payload: Mapping[str, Any], url: str, params: list[tuple[str, str]]
) -> tuple[str | None, list[tuple[str, str]] | None]:
    """Follow ``next_url``; older servers give only ``next``, so rebuild the query from it."""
    if payload.get("next_url"):
        return str(payload["next_url"]), None
    token = payload.get("next")
    if token:
        base = url.split("?", 1)[0]
        return base, [*(p for p in params if p[0] != "_next"), ("_next", str(token))]
    return None, None
