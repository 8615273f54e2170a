"""Helpers of the row operators: checks of rows and columns, the cursor of an export, small stand-ins."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, cast

from airflow_provider_cloud.exceptions import RowDataError
from airflow_provider_cloud.hooks.rowstore import RowStore
from airflow_provider_cloud.rows import Block, CsvOptions, Record, batched, parse_filters

#: Rows given inline are checked this many at a time.
INLINE_BLOCK_ROWS = 512


def csv_options_from(options: Mapping[str, Any] | CsvOptions | None) -> CsvOptions | None:
    if options is None or isinstance(options, CsvOptions):
        return options
    return CsvOptions(**options)


def record_blocks(records: Iterator[Record]) -> Iterator[Block]:
    """Return the records in blocks: the reader's own where it has them."""
    blocks = getattr(records, "blocks", None)
    return cast(Iterator[Block], blocks()) if blocks is not None else batched(records, INLINE_BLOCK_ROWS)


def rows_written(result: Any) -> int:
    if isinstance(result, Mapping):
        return int(result.get("rows", 0))
    return int(getattr(result, "rows", 0))


def do_nothing() -> None:
    return None


class NoRejects:
    """Stands in for a rejects file when bad rows fail the task."""

    def __enter__(self) -> NoRejects:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def reject(self, error: RowDataError, *, row: Any = None, raw: str | None = None) -> None:
        raise error


#: Connection types whose hooks turn filters into SQL without checking the columns first (see below).
SQL_FILTER_TYPES = frozenset({"datasette"})


def check_columns(
    hook: RowStore, dataset: str, where: Mapping[str, Any], named: Sequence[str]
) -> list[str] | None:
    """
    Check that the columns ``where`` and ``named`` refer to exist; return the data set's columns.

    Only for hooks that build SQL from filters (Datasette): SQLite reads an unknown double-quoted name
    as a text literal, so a misspelt column compares a constant (``"udpated_at" > 5`` is true for
    every row) instead of failing. ``rowid`` is allowed, as every SQLite table without a declared key
    has it. Other hooks resolve columns themselves (CloudTables also takes column ids) and refuse
    unknown ones: for them nothing is checked here and ``None`` is returned.
    """
    if getattr(hook, "conn_type", None) not in SQL_FILTER_TYPES:
        return None
    columns = dataset_columns(hook, dataset)
    if not columns:
        return None  # the hook could not tell
    allowed = [*columns, "rowid"]
    try:
        parse_filters(where, columns=allowed)
    except ValueError as error:
        raise ValueError(f"data set {dataset!r}: where= {error}") from None
    unknown = [c for c in named if c not in allowed]
    if unknown:
        raise ValueError(
            f"data set {dataset!r} has no column {unknown[0]!r} (its columns are {', '.join(map(repr, columns))})"
        )
    return columns


def dataset_columns(hook: RowStore, dataset: str) -> list[str] | None:
    """Return the data set's columns, or ``None`` when the hook cannot list them."""
    get_columns = getattr(hook, "get_columns", None)
    return (list(get_columns(dataset)) or None) if get_columns is not None else None


class CursorTracker:
    """Remember the largest value of the cursor column among the rows passing through."""

    def __init__(self, column: str | None, start: Any) -> None:
        self.column = column
        self.cursor = start

    def track(self, rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        column = self.column
        for row in rows:
            if column is not None:
                value = row.get(column)
                if value is not None and (self.cursor is None or greater(value, self.cursor)):
                    self.cursor = value
            yield row


def greater(value: Any, current: Any) -> bool:
    try:
        return bool(value > current)
    except TypeError:
        try:
            return float(value) > float(current)
        except (TypeError, ValueError):
            return str(value) > str(current)
