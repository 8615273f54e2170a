"""
What a table is: whether it exists, its columns and their types (in table order) and its primary key.

One request: ``/-/schema.json`` answers in a few milliseconds whether or not the table exists (a missing
table's page takes about a second to answer 404 on 1.0a41) and gives the table's DDL. SQLite reads its
own DDL exactly, so the DDL is loaded into an empty in-memory database and read back with ``PRAGMA
table_xinfo``: no SQL parser of ours. Servers without the endpoint (older alphas, Datasette Cloud) and DDL
the local SQLite cannot load (a virtual table whose module it lacks, a view) fall back to the table page's
``column_details`` and ``primary_keys``. Types are lower-cased, as the table page reports them.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from airflow_provider_cloud.exceptions import BadRequestError, NotFoundError, PermissionDeniedError
from airflow_provider_cloud.hooks.datasette.reads import run_query
from airflow_provider_cloud.hooks.datasette.wire import (
    RequestJson,
    quote_identifier,
    table_path,
    tilde_encode,
)
from airflow_provider_cloud.hooks.rowstore import DatasetInfo
from airflow_provider_cloud.rows.filters import parse_filters

_DDL_SQL = "select sql from sqlite_master where name = :table and type in ('table', 'view')"


def read_facts(get_json: RequestJson, database: str, table: str) -> DatasetInfo:
    """Ask the server what ``table`` is, in one request where it can."""
    ddl = _ddl(get_json, database, table)
    if ddl == "":
        return DatasetInfo(table, exists=False)
    info = facts_from_ddl(table, ddl) if ddl else None
    if info is not None:
        return info
    try:
        page = get_json("GET", f"{table_path(database, table)}.json", params=page_params())
    except NotFoundError:
        return DatasetInfo(table, exists=False)
    return facts_from_page(table, page)


def _ddl(get_json: RequestJson, database: str, table: str) -> str | None:
    """
    Return the table's DDL, ``""`` when there is no such table, ``None`` when the server cannot tell fast.

    1.0a41 looks the names of a ``/-/schema.json`` URL up as they are, not tilde-decoded: a name that
    needs encoding (a dot, a space) is looked up in ``sqlite_master`` instead, if the token may run SQL.
    """
    if tilde_encode(database) == database and tilde_encode(table) == table:
        try:
            payload = get_json("GET", f"{table_path(database, table)}/-/schema.json")
        except NotFoundError as exc:
            return "" if any("Table not found" in e for e in exc.errors) else None  # else: no endpoint
        ddl = payload.get("schema") if isinstance(payload, Mapping) else None
        return ddl if isinstance(ddl, str) and ddl else None
    try:
        rows = run_query(get_json, database, _DDL_SQL, {"table": table}).get("rows") or []
    except (BadRequestError, NotFoundError, PermissionDeniedError):
        return None
    return (str(rows[0]["sql"]) if rows[0]["sql"] else None) if rows else ""


def facts_from_ddl(table: str, ddl: str) -> DatasetInfo | None:
    """Read a table's facts from its ``CREATE`` statement; ``None`` when the local SQLite cannot load it."""
    with contextlib.closing(sqlite3.connect(":memory:")) as db:
        try:
            db.execute(ddl)  # one statement only: sqlite3 refuses more
            columns = _pragma(db, "table_xinfo", table) or _pragma(db, "table_info", table)
        except (sqlite3.Error, sqlite3.Warning):
            return None
    if not columns:
        return None
    keys = sorted((pk, name) for _, name, _, _, _, pk, *_ in columns if pk)
    return DatasetInfo(
        table,
        exists=True,
        columns={name: str(kind or "").lower() for _, name, kind, *_ in columns},
        keys=tuple(name for _, name in keys),
    )


def _pragma(db: sqlite3.Connection, pragma: str, table: str) -> list[tuple[Any, ...]]:
    # An SQLite older than 3.26 ignores table_xinfo (no rows) rather than failing.
    return db.execute(f"PRAGMA {pragma}({quote_identifier(table)})").fetchall()


def facts_from_page(table: str, payload: Mapping[str, Any]) -> DatasetInfo:
    """Read a table's facts from its page with ``_extra=column_details,primary_keys``."""
    info = table_info(payload)
    keys = info["primary_keys"]
    return DatasetInfo(
        table,
        exists=True,
        columns={name: d["type"] for name, d in info["columns"].items()},
        keys=() if keys == ["rowid"] else tuple(keys),
    )


def page_params(count: bool = False) -> dict[str, Any]:
    """Return the query asking a table page for its columns and primary key (and its row count)."""
    return {"_size": 0, "_extra": "column_details,primary_keys" + (",count" if count else "")}


def table_info(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``{"columns": {name: {type, notnull, default, is_pk}}, "primary_keys", "count"}`` of a page."""
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


def unknown_columns(where: Mapping[str, Any] | None, named: Iterable[str], columns: Collection[str]) -> bool:
    """Tell whether ``where`` or ``named`` mention a column the table lacks (``rowid`` is always there)."""
    mentioned = {f.column for f in parse_filters(where)} | set(named)
    return bool(mentioned - set(columns) - {"rowid"})


def refuse_unknown(
    table: str, where: Mapping[str, Any] | None, named: Iterable[str], columns: Collection[str]
) -> None:
    """
    Raise ``ValueError`` naming a filter or a column the table lacks, and the columns it has.

    Datasette ignores a filter on an unknown column (``?nope__gt=1`` matches every row), and SQLite reads
    an unknown double-quoted name as a string: either way a typo would select the wrong rows.
    """
    allowed = [*columns, "rowid"]
    try:
        parse_filters(where, columns=allowed)
    except ValueError as error:
        raise ValueError(f"data set {table!r}: where= {error}") from None
    for name in named:
        if name not in allowed:
            listed = ", ".join(map(repr, columns))
            raise ValueError(f"data set {table!r} has no column {name!r} (its columns are {listed})")
