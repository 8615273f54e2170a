"""
Reading Datasette: table pages (keyset paging, read ahead), counts, rows by key and SQL queries.

Each function gets the hook's ``request_json`` (``get_json``) and plain values; the hook has checked the
filter columns before (``schema.unknown_columns``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from airflow_provider_cloud.exceptions import (
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
    UnexpectedResponseError,
)
from airflow_provider_cloud.hooks.core import prefetched
from airflow_provider_cloud.hooks.datasette.wire import (
    SERVICE,
    Log,
    RequestJson,
    columns_to_fetch,
    database_path,
    filters_to_params,
    filters_to_sql,
    key_values,
    needs_client_check,
    query_param,
    quote_identifier,
    row_path,
    sort_params,
    table_path,
)
from airflow_provider_cloud.rows.filters import Filter, matches_all


def iter_rows(
    get_json: RequestJson,
    url: str,
    filters: list[Filter],
    *,
    columns: Sequence[str] | None,
    order_by: str | Sequence[str] | None,
    size: int,
) -> Iterator[dict[str, Any]]:
    """Return the rows of the table page at ``url`` (absolute) lazily, ``size`` a page, the next read ahead."""
    checked = needs_client_check(filters)
    wanted = list(columns) if columns else None
    params: list[tuple[str, str]] = [("_size", str(size)), ("_nofacet", "1"), ("_nosuggest", "1")]
    params += [("_col", c) for c in columns_to_fetch(wanted, checked)]
    params += sort_params(order_by)
    params += filters_to_params(filters)
    return prefetched(_pages(get_json, url, params, checked, wanted), name="datasette-read-ahead")


def _pages(
    get_json: RequestJson,
    first: str,
    params: list[tuple[str, str]],
    checked: list[Filter],
    wanted: list[str] | None,
) -> Iterator[list[dict[str, Any]]]:
    """
    Yield the table's pages as lists of rows, following ``next_url``.

    ``contains``/``startswith`` are checked again on each row (Datasette's ``LIKE`` ignores case and
    wildcards), and unwanted columns dropped.
    """
    url: str | None = first
    query: list[tuple[str, str]] | None = params
    while url:
        payload = get_json("GET", url, params=query)
        rows = payload.get("rows") if isinstance(payload, Mapping) else None
        if rows is None:
            raise UnexpectedResponseError(
                f"GET {urlsplit(url).path}: no 'rows' in the answer", service=SERVICE
            )
        if checked:
            rows = [row for row in rows if matches_all(row, checked)]
        if wanted is not None:
            rows = [{c: row.get(c) for c in wanted} for row in rows]
        yield rows
        url, query = _next_page(payload, url, params)
        if url and query is None:
            url = _same_origin(url, first)


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


def _same_origin(url: str, origin: str) -> str:
    """Keep following pages on the first page's scheme and host (proxies may report another)."""
    ours, theirs = urlsplit(origin), urlsplit(url)
    if (ours.scheme, ours.netloc) == (theirs.scheme, theirs.netloc):
        return url
    return urlunsplit((ours.scheme, ours.netloc, theirs.path, theirs.query, ""))


def count_rows(
    get_json: RequestJson, database: str, table: str, filters: list[Filter], *, log: Log
) -> int | None:
    """
    Count the rows that match ``filters``; ``None`` when only reading them page by page can tell.

    The table API counts; ``contains``/``startswith`` filters (a case-blind ``LIKE`` there), or a count
    the server cut short, are counted exactly in SQL, unless the token may not run SQL.
    """
    if not needs_client_check(filters):
        params = [("_size", "0"), ("_extra", "count"), *filters_to_params(filters)]
        payload = get_json("GET", f"{table_path(database, table)}.json", params=params)
        if not payload.get("count_truncated") and payload.get("count") is not None:
            return int(payload["count"])
    sql_where, sql_params = filters_to_sql(filters)
    sql = f"select count(*) as n from {quote_identifier(table)} where {sql_where}"
    try:
        return int(run_query(get_json, database, sql, sql_params)["rows"][0]["n"])
    except PermissionDeniedError:
        log.info("The token may not run SQL; counting matching rows of %s page by page", table)
        return None


def get_row(get_json: RequestJson, database: str, table: str, key: Sequence[Any] | Any) -> dict[str, Any]:
    """Return the row with primary key value(s) ``key``, or raise :class:`NotFoundError`."""
    payload = get_json("GET", f"{table_path(database, table)}/{row_path(key)}.json")
    rows = payload.get("rows") or []
    if not rows:
        raise NotFoundError(f"row {key_values(key)!r} not found in {table!r}", service=SERVICE)
    return dict(rows[0])


def run_query(
    get_json: RequestJson, database: str, sql: str, params: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Run a read-only query with named ``:params`` and return the answer (``rows``, ``truncated``)."""
    query = [("sql", sql), ("_shape", "objects")]
    query += [(k, query_param(v)) for k, v in (params or {}).items()]
    db = database_path(database)
    try:
        return dict(get_json("GET", f"{db}/-/query.json", params=query))
    except NotFoundError as missing:
        # Alphas before 1.0a14 (as Datasette Cloud may still run) answer SQL at /{db}.json?sql=.
        try:
            return dict(get_json("GET", f"{db}.json", params=query))
        except NotFoundError:
            raise missing from None


def rows_of_query(
    payload: Mapping[str, Any], max_returned_rows: Callable[[], object]
) -> list[dict[str, Any]]:
    """
    Return a query's rows; a result the server truncated raises :class:`BadRequestError`.

    Results are never cut silently: page with ``iter_query`` or ``iter_rows`` instead.
    """
    if payload.get("truncated"):
        raise BadRequestError(
            f"the query returned more than {max_returned_rows()} rows and Datasette truncated it; "
            "use iter_query() to page through it",
            service=SERVICE,
        )
    return list(payload.get("rows") or [])


def iter_query(query: Callable[[str], list[dict[str, Any]]], sql: str, size: int) -> Iterator[dict[str, Any]]:
    """
    Yield every row of ``sql`` by ``query``-ing pages of ``size`` rows with LIMIT/OFFSET.

    The query is wrapped as a subquery: a trailing ``;`` is dropped and the closing parenthesis goes on
    a line of its own, so SQL that runs as it is (ending in ``;`` or a ``--`` comment) works here.
    """
    inner = sql.rstrip().rstrip(";").rstrip()
    offset = 0
    while True:
        page = query(f"select * from ({inner}\n) limit {size} offset {offset}")
        yield from page
        if len(page) < size:
            return
        offset += size
