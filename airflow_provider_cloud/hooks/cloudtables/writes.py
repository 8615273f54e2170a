"""
The plan of a write: input rows checked, then each into an insert, a partial update or nothing.

The API writes one row per request and has no upsert, so writes by key work from one read of the data set:
a map of key value → current row. Each input row then becomes an insert, a partial update of the columns
that differ, or nothing (the row is already as given). Keys compare as the form text of what the service
stores: in a number column ``5``, ``5.0`` and ``"5.0"`` are one key. Up to :data:`LOOKAHEAD_ROWS` input rows are read and checked before the first write
(columns, keys, and values against their data point's type: :mod:`.values`), so a bad row in that window
fails the task before anything is written; this also makes the ETA of the progress lines exact. A value the
service refuses all the same (a field error) fails naming the source, line and column too. The rows are
sent by :mod:`.writer`, a window of them in flight.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain, islice
from typing import Any

from airflow_provider_cloud.exceptions import BadRequestError, ConflictError, NotFoundError, RowDataError
from airflow_provider_cloud.hooks.cloudtables.keymap import KeyValue
from airflow_provider_cloud.hooks.cloudtables.schema import Column, DatasetSchema, link_ids
from airflow_provider_cloud.hooks.cloudtables.values import same_value, stored_as
from airflow_provider_cloud.hooks.cloudtables.wire import SERVICE, field_error_status, form_value
from airflow_provider_cloud.hooks.rowstore import check_write_mode
from airflow_provider_cloud.rows.batching import RowOrigin

ROW_ID_KEY = "id"
#: Input rows read ahead (and checked) before the first write: 20,000 rows are about ten hours of writing
#: at the default limit, so the ETA is exact for any import a task finishes in a working day.
LOOKAHEAD_ROWS = 20_000

#: Sends changed API fields of the row with this id and returns the row stored.
UpdateRow = Callable[[int, Mapping[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class PreparedRow:
    """An input row as API fields, with its key value and its position in the input."""

    line: int
    fields: dict[str, Any]
    key: KeyValue | None


#: Sends an input row as a new row and returns the row stored (``dp-N`` keys).
InsertRow = Callable[[PreparedRow], dict[str, Any]]


@dataclass(frozen=True)
class Lookahead:
    """The first input rows, checked; the rest, checked as they come; the total when all were read."""

    first: list[PreparedRow]
    rest: Iterator[PreparedRow]
    total: int | None

    def rows(self) -> Iterator[PreparedRow]:
        return chain(self.first, self.rest)


class WritePlan:
    """
    Validate input rows against the schema and decide, per row, what to send.

    Modes: ``upsert`` (default) updates the rows whose key exists — only the columns that differ, and nothing
    at all when none does — and inserts the others; ``insert`` adds every row (with ``key``, a key that exists
    already or repeats is a :class:`ConflictError`); ``ignore`` inserts new keys and leaves existing rows
    alone; ``replace`` makes existing rows equal to the input row, clearing the columns it lacks. Every mode
    but ``insert`` needs ``key``.

    :param key: key column names or ids: data points, or ``id`` (the row id: existing ids are updated,
        others inserted as new rows with new ids).
    :param origin: where the rows come from, for errors: the file's name and each row's line there (rows
        given inline: ``"rows"`` and their position).
    """

    def __init__(
        self,
        schema: DatasetSchema,
        mode: str,
        key: str | Sequence[str] | None,
        *,
        origin: RowOrigin | None = None,
    ) -> None:
        check_write_mode(mode)
        self.schema = schema
        self.mode = mode
        self.origin = origin or RowOrigin()
        self.source = self.origin.source
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

    @property
    def keyed(self) -> bool:
        """Tell whether rows have a key the service stores (data points: not the row id, which it assigns)."""
        return bool(self.key_names) and None not in self.key_columns

    def prepare(self, row: Mapping[str, Any], position: int) -> PreparedRow:
        """Return the row as fields with its key, or raise :class:`RowDataError` naming the line and column."""
        line = self.origin.line(position)
        fields = self.schema.fields_in(row, line=line, source=self.source)
        for column_id, value in fields.items():
            point = self.schema.by_id[column_id]
            if point.kind == "datapoint":
                try:
                    stored_as(point.type, value)
                except ValueError as exc:
                    raise RowDataError(str(exc), source=self.source, line=line, column=point.key) from None
        if not self.key_names:
            return PreparedRow(line, fields, None)
        parts = []
        for name, column in zip(self.key_names, self.key_columns, strict=True):
            value = row.get(name) if column is None else fields.get(column.id, row.get(name))
            if value is None or value == "":
                reason = "the row has no value for its key"
                raise RowDataError(reason, source=self.source, line=line, column=name)
            parts.append(key_text(column, value))
        return PreparedRow(line, fields, tuple(parts))

    def read_ahead(self, rows: Iterable[Mapping[str, Any]], limit: int = LOOKAHEAD_ROWS) -> Lookahead:
        """Prepare the first ``limit`` rows now (a bad one raises before any write) and the rest lazily."""
        source = iter(rows)
        ahead = list(islice(source, limit + 1))
        first = [self.prepare(row, line) for line, row in enumerate(ahead, start=1)]
        rest = (self.prepare(row, line) for line, row in enumerate(source, start=len(ahead) + 1))
        return Lookahead(first, rest, len(ahead) if len(ahead) <= limit else None)

    def stored_by_key(
        self, first: Sequence[PreparedRow], fetch: Callable[[], Iterable[Mapping[str, Any]]]
    ) -> tuple[dict[KeyValue, dict[str, Any]], int]:
        """
        Return ``{key: stored row}`` and the count of stored rows repeating a key (read only when needed).

        Nothing is read for a write without a key or without rows. Mode ``insert`` checks ``first``
        against the map at once, so a conflict raises before any write.
        """
        if not self.key_names or not first:
            return {}, 0
        existing, duplicates = self.index(fetch())
        if self.mode == "insert":
            self.check_inserts(first, existing)
        return existing, duplicates

    def key_of(self, raw: Mapping[str, Any]) -> KeyValue:
        """Return the key value of a stored row (API form)."""
        return tuple(
            key_text(column, raw.get(ROW_ID_KEY) if column is None else raw.get(column.id))
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
        where = "the rows" if self.source == "rows" else self.source
        return ConflictError(
            f"line {row.line} of {where}: a row with key {values} already exists in data set "
            f"{self.schema.name!r} (mode 'insert' adds rows; use 'upsert' to update them)",
            service=SERVICE,
        )

    def changes(self, row: PreparedRow, current: Mapping[str, Any]) -> dict[str, Any]:
        """Return the fields to send to make ``current`` match ``row`` (``{}``: nothing to do)."""
        fields = dict(row.fields)
        if self.mode == "replace":
            for column_id in self.schema.writable_ids():
                if column_id not in fields:
                    fields[column_id] = [] if self.schema.by_id[column_id].kind == "link" else None
        return self.differing(fields, current)

    def differing(
        self, fields: Mapping[str, Any], current: Mapping[str, Any], skip: Iterable[str] = ()
    ) -> dict[str, Any]:
        """Return the ``fields`` whose stored value in ``current`` is not what the service makes of them."""
        changed = {}
        for column_id, value in fields.items():
            column = self.schema.by_id[column_id]
            if column_id in skip:
                continue
            if column.kind == "link":
                if sorted(value) != sorted(link_ids(current.get(column_id))):
                    changed[column_id] = value
            elif not same_value(column.type, value, current.get(column_id)):
                changed[column_id] = value
        return changed

    def refused(self, row: PreparedRow, error: BadRequestError) -> RowDataError | None:
        """Return the service's field errors as a :class:`RowDataError` naming the source, line and (first) column."""
        found = [
            (column.key, status)
            for message in error.errors
            for column in self.schema.columns
            if (status := field_error_status(message, column.id, column.name)) is not None
        ]
        if not found:
            return None
        reason = f"CloudTables refused the value: {found[0][1]}"
        reason += "".join(f"; and column {key!r}: {status}" for key, status in found[1:])
        return RowDataError(reason, source=self.source, line=row.line, column=found[0][0])


def key_text(column: Column | None, value: Any) -> str:
    """Return a key part as the form text of what the service stores: ``"5.0"`` and ``5`` in a number column are one."""
    if column is not None:
        with contextlib.suppress(ValueError):  # a stored value the type does not take: compared as it is
            value = stored_as(column.type, value)
    return form_value(value)


def cannot_create(dataset: str, missing: NotFoundError) -> NotFoundError:
    """Return the error for ``create=True`` on a missing data set: the API cannot create data sets."""
    return NotFoundError(
        f"data set {dataset!r} does not exist, and CloudTables cannot create data sets through its "
        "API (create=True cannot help): create it in CloudTables first",
        service=SERVICE,
        status_code=missing.status_code,
        errors=missing.errors,
    )
