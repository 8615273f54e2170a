"""
Datasette wire details: URL paths, filters as query parameters and as SQL, JSON values, settings.

Also the two narrow things the helpers get from the hook: ``RequestJson`` and ``Log``.

The filter language of ``DESIGN.md`` maps onto Datasette's table filters; the SQL form used for bulk deletes
repeats the SQL that Datasette itself generates for those filters, so that a dry run (which counts through
the table API) and the delete (one ``execute-write``) select the same rows.

Except ``contains`` and ``startswith`` (:data:`CLIENT_CHECKED_OPS`): Datasette runs them as SQL ``LIKE``,
which ignores ASCII case and treats ``%`` and ``_`` in the value as wildcards, while the filter language
means a case-sensitive substring or prefix of a text value. ``LIKE`` matches a superset of those rows, so
the hook keeps the table filter to narrow the pages and checks these conditions again on each row; the SQL
form uses ``instr``/``substr``, which are exact.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol

from airflow_provider_cloud.rows.filters import Filter

SERVICE = "Datasette"
#: Datasette's own defaults of ``max_insert_rows`` and ``max_post_body_bytes``, and its largest page
#: (``max_returned_rows``), for servers that hide ``/-/settings.json``.
DEFAULT_MAX_INSERT_ROWS = 100
DEFAULT_MAX_POST_BODY_BYTES = 2 * 1024 * 1024
MAX_PAGE_SIZE = 1000

#: The hook's ``request_json`` as its helpers get it: ``(method, path, **request options) -> JSON``.
RequestJson = Callable[..., Any]


class Log(Protocol):
    """What the helpers log with: the hook's logger (Airflow's) or one of the standard library."""

    def info(self, msg: str, /, *args: Any) -> object: ...

    def warning(self, msg: str, /, *args: Any) -> object: ...


_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_NUMERIC = re.compile(r"^-?\d+(\.\d+)?$")

#: Filter ops of the DESIGN language that Datasette's table API supports under the same name.
DIRECT_OPS = frozenset({"exact", "not", "lt", "lte", "gt", "gte", "in", "notin", "contains", "startswith"})

#: Ops whose Datasette table filter matches a superset (``LIKE``): the hook re-checks them on each row.
CLIENT_CHECKED_OPS = frozenset({"contains", "startswith"})

_SQL_TEMPLATES = {
    "exact": "{c} = {p}",
    "not": "{c} != {p}",
    "lt": "{c} < {p}",
    "lte": "{c} <= {p}",
    "gt": "{c} > {p}",
    "gte": "{c} >= {p}",
    "contains": "(typeof({c}) = 'text' and instr({c}, {p}) > 0)",
    "startswith": "(typeof({c}) = 'text' and substr({c}, 1, length({p})) = {p})",
}


def settings_with_extras(settings: Mapping[str, Any], extras: Mapping[str, Any]) -> dict[str, Any]:
    """
    Return the server's settings with the limits it hides taken from connection extras.

    What the server reports wins over an extra: an extra above the server's real limit would get every
    first batch refused, and one below it would slow writes for no reason (``batch_size`` is the way to
    send smaller batches).
    """
    merged = dict(settings)
    for name in ("max_insert_rows", "max_post_body_bytes", "max_returned_rows"):
        if merged.get(name) in (None, "") and extras.get(name) not in (None, ""):
            merged[name] = int(extras[name])
    return merged


def tilde_encode(value: str) -> str:
    """Encode a table name or key value for a Datasette URL (``my.table`` → ``my~2Etable``)."""
    out = []
    for byte in value.encode("utf-8"):
        if byte in _SAFE:
            out.append(chr(byte))
        elif byte == 0x20:
            out.append("+")
        else:
            out.append(f"~{byte:02X}")
    return "".join(out)


def database_path(database: str) -> str:
    """Return the URL path of a database: ``/{db}``."""
    return f"/{tilde_encode(database)}"


def table_path(database: str, table: str) -> str:
    """Return the URL path of a table: ``/{db}/{table}`` (add ``.json``, ``/-/insert``, ...)."""
    return f"/{tilde_encode(database)}/{tilde_encode(table)}"


def key_values(key: Sequence[Any] | Any) -> list[Any]:
    """Return a row's primary key values: a list or tuple for a compound key, else one value."""
    return list(key) if isinstance(key, list | tuple) else [key]


def row_path(key: Sequence[Any] | Any) -> str:
    """Return the URL part naming one row: its tilde-encoded key values joined by commas."""
    return ",".join(tilde_encode(str(v)) for v in key_values(key))


def quote_identifier(name: str) -> str:
    """Quote an SQLite identifier."""
    return '"' + name.replace('"', '""') + '"'


def param_text(value: Any) -> str:
    """Render a filter value the way it travels in a query string."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value)


def query_param(value: Any) -> str:
    """Render a named SQL parameter for a query string (booleans as 1/0, NULL as empty)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    return "" if value is None else str(value)


def sort_params(order_by: str | Sequence[str] | None) -> list[tuple[str, str]]:
    """Return ``_sort``/``_sort_desc`` for one column (``"-col"`` descending); Datasette sorts by one."""
    if not order_by:
        return []
    items = [order_by] if isinstance(order_by, str) else list(order_by)
    if len(items) > 1:
        raise ValueError("Datasette sorts table pages by one column; give order_by one column")
    column = items[0]
    return [("_sort_desc", column[1:])] if column.startswith("-") else [("_sort", column)]


def columns_to_fetch(wanted: Sequence[str] | None, checked: Sequence[Filter]) -> list[str]:
    """
    Return the ``_col`` values for a page request: the wanted columns plus those re-checked client-side.

    ``rowid`` is left out: Datasette rejects ``_col=rowid`` (400), and always sends the row id of a rowid
    table anyway. Without any ``_col`` Datasette sends every column, which the caller then trims.
    """
    if wanted is None:
        return []
    names = [*wanted, *(f.column for f in checked if f.column not in wanted)]
    return [c for c in dict.fromkeys(names) if c != "rowid"]


def _is_true(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _values(value: Any) -> list[Any]:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",")]
    if isinstance(value, Iterable):
        return list(value)
    return [value]


def filters_to_params(filters: Iterable[Filter]) -> list[tuple[str, str]]:
    """Return Datasette table query parameters for parsed filters."""
    params: list[tuple[str, str]] = []
    for f in filters:
        if f.op == "isnull":
            params.append((f"{f.column}__{'isnull' if _is_true(f.value) else 'notnull'}", "1"))
        elif f.op == "exact" and f.value is None:
            params.append((f"{f.column}__isnull", "1"))
        elif f.op == "not" and f.value is None:
            params.append((f"{f.column}__notnull", "1"))
        elif f.op in ("in", "notin"):
            params.append((f"{f.column}__{f.op}", json.dumps([_jsonable(v) for v in _values(f.value)])))
        elif f.op in DIRECT_OPS:
            params.append((f"{f.column}__{f.op}", param_text(f.value)))
        else:
            raise ValueError(f"Datasette has no filter for operator {f.op!r}")
    return params


def _coerce_numeric(text: str) -> Any:
    if _NUMERIC.match(text):
        return float(text) if "." in text else int(text)
    return text


def needs_client_check(filters: Iterable[Filter]) -> list[Filter]:
    """Return the filters that the table API only approximates (see :data:`CLIENT_CHECKED_OPS`)."""
    return [f for f in filters if f.op in CLIENT_CHECKED_OPS]


def filters_to_sql(filters: Iterable[Filter]) -> tuple[str, dict[str, Any]]:
    """
    Return an SQL ``where`` clause and its parameters, matching Datasette's own filter SQL.

    ``contains`` and ``startswith`` are exact here (case-sensitive, no wildcards, text values only), as the
    filter language defines them; Datasette's ``LIKE`` form is not.
    """
    clauses: list[str] = []
    params: dict[str, Any] = {}
    for f in filters:
        column = quote_identifier(f.column)
        if f.op == "isnull" or (f.op in ("exact", "not") and f.value is None):
            is_null = _is_true(f.value) if f.op == "isnull" else f.op == "exact"
            clauses.append(f"{column} is {'null' if is_null else 'not null'}")
            continue
        if f.op in ("in", "notin"):
            names = []
            for value in _values(f.value):
                name = f"p{len(params)}"
                params[name] = _jsonable(value)
                names.append(f":{name}")
            clauses.append(f"{column} {'in' if f.op == 'in' else 'not in'} ({', '.join(names)})")
            continue
        name = f"p{len(params)}"
        text = param_text(f.value)
        if f.op in ("lt", "lte", "gt", "gte"):
            params[name] = _coerce_numeric(text)
        else:
            params[name] = text
        clauses.append(_SQL_TEMPLATES[f.op].format(c=column, p=f":{name}"))
    return " and ".join(clauses) or "1", params


def _jsonable(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def sqlite_type(value: Any) -> str:
    """Return the Datasette column type that stores ``value`` best."""
    if isinstance(value, bool | int):
        return "integer"
    if isinstance(value, float | Decimal):
        return "float"
    if isinstance(value, bytes | bytearray | memoryview):
        return "blob"
    return "text"


def infer_column_types(rows: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Infer one column type per column over sample rows: integer widens to float, anything else to text."""
    types: dict[str, str] = {}
    for row in rows:
        for name, value in row.items():
            if value is None:
                types.setdefault(name, "")
                continue
            seen, new = types.get(name, ""), sqlite_type(value)
            if not seen or seen == new:
                types[name] = new
            elif {seen, new} == {"integer", "float"}:
                types[name] = "float"
            else:
                types[name] = "text"
    return {name: kind or "text" for name, kind in types.items()}


_MAX_ROWS = re.compile(r"maximum allowed is (\d+)", re.IGNORECASE)


def max_rows_from(errors: Iterable[str]) -> int | None:
    """Read the batch limit from Datasette's ``Too many rows, maximum allowed is N`` error."""
    for error in errors:
        match = _MAX_ROWS.search(error)
        if match:
            return int(match.group(1))
    return None
