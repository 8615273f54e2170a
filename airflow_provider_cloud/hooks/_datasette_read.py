"""Datasette hook, part two: reading rows (keyset pages read ahead), counting, and SQL queries."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from airflow_provider_cloud.exceptions import (
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
    UnexpectedResponseError,
)
from airflow_provider_cloud.hooks._datasette_base import DatasetteBase
from airflow_provider_cloud.hooks._datasette_wire import (
    filters_to_params,
    filters_to_sql,
    needs_client_check,
    quote_identifier,
    row_path,
)
from airflow_provider_cloud.hooks.core import prefetched
from airflow_provider_cloud.rows.filters import Filter, matches_all


class DatasetteReads(DatasetteBase):
    """Read rows and run SQL queries."""

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
