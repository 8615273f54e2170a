"""
Helpers of :class:`CloudTablesHook`: rows read, filtered and sorted on this side; form bodies; conditions.

The API has no paging, filtering or sorting for API-key reads, so the hook reads a data set in one request
and applies the filter language of :mod:`airflow_provider_cloud.rows.filters` itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_cloud.hooks._cloudtables_schema import META_COLUMNS, DatasetSchema
from airflow_provider_cloud.hooks._cloudtables_wire import form_value, normalize_conditions
from airflow_provider_cloud.rows.filters import Filter, matches_all, parse_filters

if TYPE_CHECKING:
    from airflow_provider_cloud.hooks.cloudtables import CloudTablesHook


def role_list(roles: Sequence[str] | str | None) -> list[str]:
    """Return role names from a list, a comma-separated string or a JSON array string."""
    if roles is None or roles == "":
        return []
    if isinstance(roles, str):
        text = roles.strip()
        if text.startswith("["):
            roles = json.loads(text)
        else:
            return [part.strip() for part in text.split(",") if part.strip()]
    if isinstance(roles, str) or not all(isinstance(r, str) for r in roles):
        raise ValueError(f"roles must be role names, not {roles!r}")
    return [r.strip() for r in roles if r.strip()]


def conditions_for(conditions: Any, schema: DatasetSchema | None) -> list[dict[str, Any]]:
    """
    Return conditions in their documented form; with a schema, data point names become ``dp-N`` ids.

    :raises ValueError: a malformed condition, or (with a schema) a name that is no data point.
    """
    items = normalize_conditions(conditions)
    if schema is None:
        return items
    out = []
    for item in items:
        point = item.get("id") or item.get("name")
        column = schema.column(str(point))
        if column.kind != "datapoint":
            raise ValueError(f"conditions apply to data points only; {point!r} is a {column.kind}")
        out.append({"id": column.id, **{k: v for k, v in item.items() if k not in ("id", "name")}})
    return out


def form_pairs(fields: Mapping[str, Any]) -> list[tuple[str, str]]:
    """
    Return API fields as form pairs: ``dp-N=text``; links as one pair per linked row id, ``[]`` for none.

    ``[]`` is what the .NET docs send to clear links; a form cannot carry an empty list otherwise.
    """
    pairs: list[tuple[str, str]] = []
    for field_id, value in fields.items():
        if field_id.startswith("l-") and value:
            pairs.extend((field_id, str(row_id)) for row_id in value)
        elif field_id.startswith("l-"):
            pairs.append((field_id, "[]"))
        else:
            pairs.append((field_id, form_value(value)))
    return pairs


def access_form(
    *,
    roles: Sequence[str],
    duration: int | str | None,
    client_id: Any,
    client_name: Any,
    client_meta: Any,
) -> list[tuple[str, str]]:
    """Return the form of ``POST /access`` (conditions go separately): repeated ``roles``, ``duration``..."""
    form = [("roles", role) for role in roles]
    if duration is not None and duration != "":
        seconds = int(duration)
        if seconds < 0:
            raise ValueError(f"duration must be 0 or more seconds, not {duration!r}")
        form.append(("duration", str(seconds)))
    if client_id:
        form.append(("clientId", str(client_id)))
    if client_name:
        form.append(("clientName", str(client_name)))
    if client_meta is not None:
        meta = client_meta if isinstance(client_meta, str) else json.dumps(client_meta, default=str)
        form.append(("clientMeta", meta))
    return form


def iter_rows(
    hook: CloudTablesHook,
    dataset: str,
    *,
    where: Mapping[str, Any] | None,
    columns: Sequence[str] | None,
    order_by: str | Sequence[str] | None,
    conditions: Any,
) -> Iterator[dict[str, Any]]:
    """Check the arguments now, and return a generator that reads when first asked for a row."""
    filters = parse_filters(where)
    wanted = [columns] if isinstance(columns, str) else list(columns) if columns is not None else None
    sort = [order_by] if isinstance(order_by, str) else list(order_by or [])
    if any(not isinstance(spec, str) or not spec.lstrip("-") for spec in sort):
        raise ValueError(f"order_by must be column names, '-name' for descending, not {order_by!r}")
    return _rows(hook, dataset, filters, wanted, sort, conditions)


def _rows(
    hook: CloudTablesHook,
    dataset: str,
    filters: list[Filter],
    columns: list[str] | None,
    sort: list[str],
    conditions: Any,
) -> Iterator[dict[str, Any]]:
    schema = hook.get_schema(dataset)
    filters = [Filter(_key(schema, f.column), f.op, f.value) for f in filters]
    keys = [_key(schema, c) for c in columns] if columns is not None else None
    order = [
        (spec.startswith("-"), _key(schema, spec[1:] if spec.startswith("-") else spec)) for spec in sort
    ]
    raw_rows = hook._raw_rows(schema.dataset_id, conditions_for(conditions, schema))
    rows: Iterator[dict[str, Any]] = (schema.row_out(raw) for raw in raw_rows)
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
