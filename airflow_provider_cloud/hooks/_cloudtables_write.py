"""
How :meth:`CloudTablesHook.write_rows` turns input rows into inserts and partial updates.

The API writes one row per request and has no upsert, so writes by key work from one read of the data set:
a map of key value → current row. Each input row then becomes an insert, a partial update of the columns
that differ, or nothing (the row is already as given). Keys compare as form text, so ``5``, ``5.0`` and
``"5"`` are one key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from airflow_provider_cloud.exceptions import ConflictError, RowDataError
from airflow_provider_cloud.hooks._cloudtables_schema import Column, DatasetSchema, link_ids
from airflow_provider_cloud.hooks._cloudtables_wire import form_value
from airflow_provider_cloud.hooks.rowstore import WriteResult, check_write_mode

ROW_ID_KEY = "id"

KeyValue = tuple[str, ...]


@dataclass(frozen=True)
class PreparedRow:
    """An input row as API fields, with its key value and its position in the input."""

    line: int
    fields: dict[str, Any]
    key: KeyValue | None


class RowApi(Protocol):
    """The two writes the writer needs from the hook (raw rows with ``dp-N`` keys in and out)."""

    def _insert_fields(
        self, dataset_id: str, fields: Mapping[str, Any], conditions: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]: ...

    def _update_fields(
        self,
        dataset_id: str,
        row_id: int,
        fields: Mapping[str, Any],
        conditions: Sequence[Mapping[str, Any]],
    ) -> dict[str, Any]: ...


class WritePlan:
    """
    Validate input rows against the schema and decide, per row, what to send.

    :param key: key column names or ids: data points, or ``id`` (the row id: existing ids are updated,
        others inserted as new rows with new ids).
    """

    def __init__(self, schema: DatasetSchema, mode: str, key: str | Sequence[str] | None) -> None:
        check_write_mode(mode)
        self.schema = schema
        self.mode = mode
        names = [key] if isinstance(key, str) else list(key or [])
        self.key_names = names
        self.key_columns: list[Column | None] = [
            None if n == ROW_ID_KEY else self._key_column(n) for n in names
        ]
        if mode != "insert" and not names:
            raise ValueError(f"mode {mode!r} needs key=...: the column(s) that identify a row")

    def _key_column(self, name: str) -> Column:
        column = self.schema.column(name)
        if column.kind != "datapoint":
            raise ValueError(f"key {name!r} must be a data point (or 'id'), not a {column.kind}")
        return column

    def prepare(self, row: Mapping[str, Any], line: int) -> PreparedRow:
        """Return the row as fields with its key, or raise :class:`RowDataError` naming the line and column."""
        fields = self.schema.fields_in(row, line=line)
        if not self.key_names:
            return PreparedRow(line, fields, None)
        parts = []
        for name, column in zip(self.key_names, self.key_columns, strict=True):
            value = row.get(name) if column is None else fields.get(column.id, row.get(name))
            if value is None or value == "":
                raise RowDataError("the row has no value for its key", source="rows", line=line, column=name)
            parts.append(form_value(value))
        return PreparedRow(line, fields, tuple(parts))

    def key_of(self, raw: Mapping[str, Any]) -> KeyValue:
        """Return the key value of a stored row (API form)."""
        return tuple(
            form_value(raw.get(ROW_ID_KEY) if column is None else raw.get(column.id))
            for column in self.key_columns
        )

    def index(self, raw_rows: Iterable[Mapping[str, Any]]) -> tuple[dict[KeyValue, dict[str, Any]], int]:
        """Return ``{key: stored row}`` (the first row wins a duplicate key) and how many duplicates there were."""
        found: dict[KeyValue, dict[str, Any]] = {}
        duplicates = 0
        for raw in raw_rows:
            key = self.key_of(raw)
            if key in found:
                duplicates += 1
            else:
                found[key] = dict(raw)
        return found, duplicates

    def check_inserts(self, rows: Iterable[PreparedRow], existing: Mapping[KeyValue, Any]) -> None:
        """For mode ``insert`` with a key: raise :class:`ConflictError` for a key that exists or repeats."""
        seen = set(existing)
        for row in rows:
            if row.key is not None:
                if row.key in seen:
                    raise self.conflict(row)
                seen.add(row.key)

    def conflict(self, row: PreparedRow) -> ConflictError:
        values = dict(zip(self.key_names, row.key or (), strict=False))
        return ConflictError(
            f"line {row.line} of the rows: a row with key {values} already exists in data set "
            f"{self.schema.name!r} (mode 'insert' adds rows; use 'upsert' to update them)",
            service="CloudTables",
        )

    def changes(self, row: PreparedRow, current: Mapping[str, Any]) -> dict[str, Any]:
        """Return the fields to send to make ``current`` match ``row`` (``{}``: nothing to do)."""
        fields = dict(row.fields)
        if self.mode == "replace":
            for column_id in self.schema.writable_ids():
                if column_id not in fields:
                    fields[column_id] = [] if self.schema.by_id[column_id].kind == "link" else None
        changed = {}
        for column_id, value in fields.items():
            if self.schema.by_id[column_id].kind == "link":
                if sorted(value) != sorted(link_ids(current.get(column_id))):
                    changed[column_id] = value
            elif form_value(value) != form_value(current.get(column_id)):
                changed[column_id] = value
        return changed


class RowWriter:
    """Send the writes of :class:`WritePlan` one row at a time, keeping the key map current."""

    def __init__(
        self,
        api: RowApi,
        dataset_id: str,
        plan: WritePlan,
        existing: dict[KeyValue, dict[str, Any]],
        conditions: Sequence[Mapping[str, Any]],
    ) -> None:
        self.api = api
        self.dataset_id = dataset_id
        self.plan = plan
        self.existing = existing
        self.conditions = conditions
        self.counts = {"inserted": 0, "updated": 0, "unchanged": 0, "ignored": 0}

    def write(self, row: PreparedRow) -> None:
        plan = self.plan
        current = self.existing.get(row.key) if row.key is not None else None
        if current is None:
            stored = self.api._insert_fields(self.dataset_id, row.fields, self.conditions)
            self.counts["inserted"] += 1
        elif plan.mode == "insert":
            raise plan.conflict(row)
        elif plan.mode == "ignore":
            self.counts["ignored"] += 1
            return
        else:
            changed = plan.changes(row, current)
            if not changed:
                self.counts["unchanged"] += 1
                return
            stored = self.api._update_fields(
                self.dataset_id, int(current[ROW_ID_KEY]), changed, self.conditions
            )
            self.counts["updated"] += 1
        if row.key is not None:
            self.existing[row.key] = stored  # a repeated key later in the input updates this row

    def result(self) -> WriteResult:
        c = self.counts
        return WriteResult(
            rows=c["inserted"] + c["updated"] + c["unchanged"],
            requests=c["inserted"] + c["updated"],
            inserted=c["inserted"],
            updated=c["updated"],
            unchanged=c["unchanged"],
            ignored=c["ignored"],
        )
