"""
Reading Datasette: table pages, counts, rows by key and SQL queries.

Table pages come one after another (``paging``), or by key ranges side by side (``ranges``).

Each function gets the hook's ``request_json`` (``get_json``) and plain values; the hook has checked the
filter columns before (``schema.unknown_columns``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from airflow_provider_cloud.exceptions import (
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
)
from airflow_provider_cloud.hooks.core import prefetched
from airflow_provider_cloud.hooks.datasette import ranges
from airflow_provider_cloud.hooks.datasette.paging import pages
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
from airflow_provider_cloud.rows.filters import Filter


def iter_rows(
    get_json: RequestJson,
    url: str,
    filters: list[Filter],
    *,
    columns: Sequence[str] | None,
    order_by: str | Sequence[str] | None,
    size: int,
    key_of: Callable[[], str | None] | None = None,
    window: int = 1,
) -> Iterator[dict[str, Any]]:
    """
    Return the rows of the table page at ``url`` (absolute) lazily, ``size`` a page.

    With a window over 1 and ``key_of`` (which tells the key to cut into ranges, ``ranges.range_key``), pages
    of key ranges are read side by side (``ranges.read``); otherwise one page after another, the next read
    ahead.
    """
    checked = needs_client_check(filters)
    wanted = list(columns) if columns else None
    params: list[tuple[str, str]] = [("_size", str(size)), ("_nofacet", "1"), ("_nosuggest", "1")]
    params += [("_col", c) for c in columns_to_fetch(wanted, checked)]
    params += sort_params(order_by)
    params += filters_to_params(filters)
    if key_of is not None and window > 1:
        return ranges.read(get_json, url, params, checked, wanted, key_of=key_of, size=size, window=window)
    return prefetched(pages(get_json, url, params, checked, wanted), name="datasette-read-ahead")


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
