"""
Names for CloudTables ids: data sets by name, columns and conditions by name, rows both ways.

A data set's schema maps data point, link and computed value names to ``dp-N``, ``l-N`` and ``c-N``.

Rows for users carry ``id`` (the row id), ``dv`` (the data version, +1 per edit) and ``color`` under those
names, then one key per data point, computed value and link, by name. A link's value is a list of the
linked rows, each ``{"id": ..., <target point name>: value}``. When a data point, link or computed value is
itself called ``id``, ``dv`` or ``color``, or shares its name with an earlier one, it keeps its id as its
key (``dp-7``). Ids are accepted as keys everywhere names are.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from airflow_provider_cloud.exceptions import NotFoundError, RowDataError
from airflow_provider_cloud.hooks.cloudtables.wire import SERVICE, form_value, normalize_conditions

META_COLUMNS: tuple[str, ...] = ("id", "dv", "color")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
ColumnKind = Literal["datapoint", "link", "computed"]


@dataclass(frozen=True)
class Column:
    """One data point, link or computed value of a data set, under the key users see."""

    id: str
    key: str
    name: str
    kind: ColumnKind
    type: str | None = None
    target: str | None = None
    target_names: Mapping[str, str] = field(default_factory=dict)

    @property
    def writable(self) -> bool:
        return self.kind != "computed"


class DatasetSchema:
    """
    A data set's schema as the hook uses it: columns by key and by id, and row mapping both ways.

    :param dataset_id: the data set's id.
    :param payload: the body of ``GET /api/1/dataset/{id}/schema`` (kept as :attr:`raw`).
    """

    def __init__(self, dataset_id: str, payload: Mapping[str, Any]) -> None:
        self.dataset_id = dataset_id
        self.raw = dict(payload)
        self.name = str(payload.get("name") or "")
        self.description = str(payload.get("description") or "")
        self.columns: list[Column] = []
        taken = set(META_COLUMNS)
        for kind, items in (
            ("datapoint", payload.get("datapoints")),
            ("link", payload.get("links")),
            ("computed", payload.get("computed")),
        ):
            for item in items or []:
                column = _column(kind, item, taken)  # type: ignore[arg-type]
                taken.add(column.key)
                self.columns.append(column)
        self.by_id = {c.id: c for c in self.columns}
        self.by_key = {**self.by_id, **{c.key: c for c in self.columns}}

    @staticmethod
    def is_id(dataset: str) -> bool:
        """Tell whether ``dataset`` is a UUID, taken as a data set id without asking the service."""
        return bool(_UUID.match(dataset))

    @property
    def keys(self) -> list[str]:
        """Return every row key users see: ``id``, ``dv``, ``color``, then the columns in schema order."""
        return [*META_COLUMNS, *(c.key for c in self.columns)]

    @property
    def point_names(self) -> dict[str, str]:
        """Return ``{id: name}`` of the data set's columns (used to name field errors)."""
        return {c.id: c.name for c in self.columns}

    def column_types(self) -> dict[str, str]:
        """Return ``{key: type}`` for every row key: the data point's type, else its kind; ``meta`` for ids."""
        types = {c.key: str(c.type or c.kind) for c in self.columns}
        return {key: types.get(key, "meta") for key in self.keys}

    def column(self, key: str) -> Column:
        """Return the column for a name or id, or raise ``ValueError`` naming the columns there are."""
        try:
            return self.by_key[key]
        except KeyError:
            raise ValueError(
                f"data set {self.name!r} has no column {key!r}; it has {', '.join(map(repr, self.keys))}"
            ) from None

    def row_out(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Return an API row (``dp-N`` keys) with names as keys; unknown keys keep their ids."""
        out: dict[str, Any] = {name: raw.get(name) for name in META_COLUMNS}
        for key, value in raw.items():
            if key in META_COLUMNS:
                continue
            column = self.by_id.get(key)
            if column is None:
                out[key] = value
            elif column.kind == "link" and isinstance(value, list):
                out[column.key] = [_linked_row(column, item) for item in value]
            else:
                out[column.key] = value
        return out

    def fields_in(
        self, row: Mapping[str, Any], *, line: int | None = None, source: str = "rows"
    ) -> dict[str, Any]:
        """
        Return a user row as API fields (``{"dp-N": value, "l-N": [ids]}``), values not yet form-encoded.

        ``id``, ``dv`` and ``color`` are left out (the API cannot set them). A computed value or an unknown
        column raises :class:`RowDataError` naming it.
        """
        fields: dict[str, Any] = {}
        for key, value in row.items():
            if key in META_COLUMNS:
                continue
            column = self.by_key.get(key)
            if column is None:
                raise RowDataError(
                    f"data set {self.name!r} has no such column (it has {', '.join(self.keys)})",
                    source=source,
                    line=line,
                    column=key,
                )
            if not column.writable:
                raise RowDataError("computed values are read-only", source=source, line=line, column=key)
            if column.kind == "link":
                fields[column.id] = link_ids(value, line=line, source=source, column=key)
            else:
                try:
                    form_value(value)
                except ValueError as exc:
                    raise RowDataError(str(exc), source=source, line=line, column=key) from None
                fields[column.id] = value
        return fields

    def writable_ids(self) -> list[str]:
        """Return the ids of the data points and links a write may set."""
        return [c.id for c in self.columns if c.writable]


def find_dataset(dataset: str, datasets: Sequence[Mapping[str, Any]]) -> str:
    """
    Return the id of the data set whose id or name is ``dataset``, from the list the API gives.

    :raises NotFoundError: no data set has that id or name.
    :raises ValueError: several data sets have that name (use the id).
    """
    if any(str(d.get("id")) == dataset for d in datasets):
        return dataset
    named = [str(d.get("id")) for d in datasets if d.get("name") == dataset]
    if len(named) > 1:
        raise ValueError(f"{len(named)} data sets are named {dataset!r} ({', '.join(named)}): give the id")
    if not named:
        names = ", ".join(repr(d.get("name")) for d in datasets) or "none"
        raise NotFoundError(
            f"no data set has the id or name {dataset!r} (the data sets: {names})", service=SERVICE
        )
    return named[0]


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


def _column(kind: ColumnKind, item: Mapping[str, Any], taken: set[str]) -> Column:
    column_id = str(item.get("id"))
    name = str(item.get("name") or column_id)
    key = column_id if name in taken else name
    targets: dict[str, str] = {}
    if kind == "link":
        for inner in [*(item.get("datapoints") or []), *(item.get("computed") or [])]:
            targets[str(inner.get("id"))] = str(inner.get("name") or inner.get("id"))
    target = (item.get("target") or {}).get("id") if kind == "link" else None
    return Column(column_id, key, name, kind, item.get("type"), target, targets)


def _linked_row(column: Column, item: Any) -> Any:
    if not isinstance(item, Mapping):
        return item
    out: dict[str, Any] = {}
    for key, value in item.items():
        name = key if key == "id" else column.target_names.get(key, key)
        if name in out or (name == "id" and key != "id"):
            name = key
        out[name] = value
    return out


def link_ids(value: Any, *, line: int | None = None, source: str = "rows", column: str = "") -> list[int]:
    """
    Return the linked row ids a link value means.

    Accepted: an id, a list of ids or of linked rows (``{"id": 2, ...}``, as rows are read), a JSON array
    of either (as a CSV export writes it), a comma-separated string of ids, or ``None``/``""``/``[]`` for none.
    """
    if value is None or value == "":
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                raise RowDataError(
                    "a link value is not a valid JSON array", source=source, line=line, column=column
                ) from None
        else:
            value = [part for part in text.split(",") if part.strip()]
    items = value if isinstance(value, list | tuple) else [value]
    ids: list[int] = []
    for item in items:
        raw = item.get("id") if isinstance(item, Mapping) else item
        try:
            if isinstance(raw, bool) or raw is None:
                raise ValueError
            number = int(str(raw).strip()) if isinstance(raw, str) else int(raw)
            if number != raw and not isinstance(raw, str):
                raise ValueError
        except (TypeError, ValueError):
            raise RowDataError(
                f"a link value must be row ids or linked rows, not {item!r}",
                source=source,
                line=line,
                column=column,
            ) from None
        ids.append(number)
    return ids
