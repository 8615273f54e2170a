"""
Table pages one after another (keyset paging by ``next_url``), and what is done to each page's rows.

``contains``/``startswith`` are checked again on each row (Datasette's ``LIKE`` ignores case and wildcards),
and unwanted columns dropped (``trim``). Both the sequential read and the read by key ranges (``ranges.py``)
page this way.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from airflow_provider_cloud.exceptions import UnexpectedResponseError
from airflow_provider_cloud.hooks.datasette.wire import SERVICE, RequestJson
from airflow_provider_cloud.rows.filters import Filter, matches_all

Params = list[tuple[str, str]]


def rows_of(payload: Any, url: str) -> list[dict[str, Any]]:
    """Return a table page's rows, or raise :class:`UnexpectedResponseError` when it has none."""
    rows = payload.get("rows") if isinstance(payload, Mapping) else None
    if rows is None:
        raise UnexpectedResponseError(f"GET {urlsplit(url).path}: no 'rows' in the answer", service=SERVICE)
    return list(rows)


def trim(rows: list[dict[str, Any]], checked: list[Filter], wanted: list[str] | None) -> list[dict[str, Any]]:
    """Keep the rows that pass the re-checked filters, with the wanted columns only."""
    if checked:
        rows = [row for row in rows if matches_all(row, checked)]
    if wanted is not None:
        rows = [{c: row.get(c) for c in wanted} for row in rows]
    return rows


def pages(
    get_json: RequestJson,
    first: str,
    params: Params,
    checked: list[Filter],
    wanted: list[str] | None,
    *,
    query: Params | None = None,
    origin: str | None = None,
) -> Iterator[list[dict[str, Any]]]:
    """
    Yield the table's pages as lists of (trimmed) rows, following ``next_url``.

    :param first: the first page's URL; asked with ``query`` (default ``params``), or as it is when ``query``
        is ``[]`` (a ``next_url`` already).
    :param origin: the scheme and host to stay on (default: ``first``'s).
    """
    url: str | None = first
    home = origin or first
    asked: Params | None = params if query is None else (query or None)
    while url:
        payload = get_json("GET", url, params=asked)
        yield trim(rows_of(payload, url), checked, wanted)
        url, asked = next_page(payload, url, params)
        if url and asked is None:
            url = same_origin(url, home)


def next_page(payload: Mapping[str, Any], url: str, params: Params) -> tuple[str | None, Params | None]:
    """Follow ``next_url``; older servers give only ``next``, so rebuild the query from it."""
    if payload.get("next_url"):
        return str(payload["next_url"]), None
    token = payload.get("next")
    if token:
        base = url.split("?", 1)[0]
        return base, [*(p for p in params if p[0] != "_next"), ("_next", str(token))]
    return None, None


def same_origin(url: str, origin: str) -> str:
    """Keep following pages on the first page's scheme and host (proxies may report another)."""
    ours, theirs = urlsplit(origin), urlsplit(url)
    if (ours.scheme, ours.netloc) == (theirs.scheme, theirs.netloc):
        return url
    return urlunsplit((ours.scheme, ours.netloc, theirs.path, theirs.query, ""))
