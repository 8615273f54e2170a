"""
Rows of a data set by name, filtered, projected and sorted on this side.

The API has no paging, filtering or sorting for API-key reads: one request returns every row, and the
filter language of :mod:`airflow_provider_cloud.rows.filters` is applied here. The filter and the sort are
checked at the call; the schema and the rows are fetched when the first row is asked for.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from airflow_provider_cloud.hooks.cloudtables.schema import META_COLUMNS, DatasetSchema
from airflow_provider_cloud.rows.filters import Filter, matches_all, parse_filters

#: Returns the stored rows (``dp-N`` keys) of the data set a schema describes.
FetchRows = Callable[[DatasetSchema], Iterable[Mapping[str, Any]]]


def select_rows(
    load_schema: Callable[[], DatasetSchema],
    fetch: FetchRows,
    *,
    where: Mapping[str, Any] | None,
    columns: Sequence[str] | None,
    order_by: str | Sequence[str] | None,
) -> Iterator[dict[str, Any]]:
    """Return the rows by name (``where`` and ``order_by`` checked now, names when the first row is asked)."""
    filters = parse_filters(where)
    wanted = [columns] if isinstance(columns, str) else list(columns) if columns is not None else None
    sort = [order_by] if isinstance(order_by, str) else list(order_by or [])
    if any(not isinstance(spec, str) or not spec.lstrip("-") for spec in sort):
        raise ValueError(f"order_by must be column names, '-name' for descending, not {order_by!r}")
    return _rows(load_schema, fetch, filters, wanted, sort)


def _rows(
    load_schema: Callable[[], DatasetSchema],
    fetch: FetchRows,
    filters: list[Filter],
    columns: list[str] | None,
    sort: list[str],
) -> Iterator[dict[str, Any]]:
    schema = load_schema()
    filters = [Filter(_key(schema, f.column), f.op, f.value) for f in filters]
    keys = [_key(schema, c) for c in columns] if columns is not None else None
    order = [
        (spec.startswith("-"), _key(schema, spec[1:] if spec.startswith("-") else spec)) for spec in sort
    ]
    rows: Iterator[dict[str, Any]] = (schema.row_out(raw) for raw in fetch(schema))
    if order:
        selected = [row for row in rows if matches_all(row, filters)]
        for descending, key in reversed(order):  # stable sorts, last key first
            selected.sort(key=_sort_key(key, descending), reverse=descending)
        rows = iter(selected)
    for row in rows:
        if order or matches_all(row, filters):
            yield {k: row.get(k) for k in keys} if keys is not None else row


def _key(schema: DatasetSchema, name: str) -> str:
    return name if name in META_COLUMNS else schema.column(name).key


def _sort_key(column: str, descending: bool) -> Callable[[Mapping[str, Any]], tuple[int, int, Any]]:
    """Return a sort key on ``column``: numbers, then text, then anything else; nulls last either way."""
    null_rank = 0 if descending else 1  # a reversed sort puts the lowest rank last

    def key(row: Mapping[str, Any]) -> tuple[int, int, Any]:
        value = row.get(column)
        if value is None:
            return (null_rank, 0, 0)
        if isinstance(value, bool | int | float):
            return (1 - null_rank, 0, float(value))
        if isinstance(value, str):
            return (1 - null_rank, 1, value)
        return (1 - null_rank, 2, json.dumps(value, sort_keys=True, default=str))

    return key
