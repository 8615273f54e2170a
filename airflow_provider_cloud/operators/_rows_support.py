"""Helpers of the row operators: CSV options from a dict, and the cursor of an export."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from airflow_provider_cloud.rows import CsvOptions


def csv_options_from(options: Mapping[str, Any] | CsvOptions | None) -> CsvOptions | None:
    if options is None or isinstance(options, CsvOptions):
        return options
    return CsvOptions(**options)


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
