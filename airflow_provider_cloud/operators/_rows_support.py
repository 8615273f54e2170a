"""Helpers of the row operators: CSV options from a dict, the facts of an import's data set, the cursor of an export."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from airflow_provider_cloud.hooks.rowstore import RowStore
from airflow_provider_cloud.operators._templated import mapping
from airflow_provider_cloud.rows import CsvOptions


def csv_options_from(options: Mapping[str, Any] | CsvOptions | str | None) -> CsvOptions | None:
    """Return ``CsvOptions`` from the operator argument: ``CsvOptions``, a dict, or text read as one (templated)."""
    if isinstance(options, str):
        options = mapping(options, "csv_options")
    if options is None or isinstance(options, CsvOptions):
        return options
    return CsvOptions(**options)


ON_BAD_ROWS = ("fail", "skip")


def check_import_options(
    source: Any, rows: Any, on_bad_rows: str, rejects_path: str | None, max_bad_rows: int | None
) -> None:
    """Raise ``ValueError`` naming what is wrong with an import's options."""
    if (source is None) == (rows is None):
        raise ValueError("give exactly one of source= or rows=")
    if on_bad_rows not in ON_BAD_ROWS:
        raise ValueError(f"on_bad_rows must be one of {ON_BAD_ROWS}, got {on_bad_rows!r}")
    if on_bad_rows == "skip" and not rejects_path:
        raise ValueError('on_bad_rows="skip" needs rejects_path= so that skipped rows are kept')
    if max_bad_rows is not None and max_bad_rows < 0:
        raise ValueError("max_bad_rows must be 0 or more")


def table_facts(
    hook: RowStore, dataset: str, *, key: Any, create: bool
) -> tuple[set[str] | None, list[str], set[str], bool]:
    """
    Return the data set's columns (when no new columns may be added), key, text columns and existence.

    From :meth:`RowStore.describe`, asked once and shared with the hook's write: bad rows are named
    before their batch is sent. Without ``key=``, the data set's primary key is checked, as the hook
    would. A new data set has none of them. CSV columns stored as text are read as text: detection
    would turn ``true`` into 1 and ``2.50`` into 2.5.
    """
    info = hook.describe(dataset)
    if not info.exists:
        return None, [], set(), False
    known = None if create else set(info.columns)
    text = {column for column, kind in info.columns.items() if str(kind).lower() == "text"}
    return known, [] if key else list(info.keys), text, True


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
