"""
The one check of input rows against the data set they go to: a value for every key, no unknown column.

An import checks each row once, a block at a time: :meth:`RowCheck.passes` looks at a whole block a column at a
time, and only a block that fails is gone through row by row (:meth:`RowCheck.error`) for the error naming the
line and the column. The writer is then told which keys were checked (``RowBlocks.keys_checked``) and does not
check them again. A key value that is NULL or empty text counts as missing: neither identifies a row.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from airflow_provider_cloud.exceptions import RowDataError


class RowCheck:
    """
    What a row must have to be written: a value for each of ``keys``, and only ``known`` columns.

    :param keys: the key columns (none: rows are not keyed).
    :param known: the data set's columns, or ``None`` when any column may come (a new data set).
    """

    def __init__(self, keys: Sequence[str], known: Collection[str] | None) -> None:
        self.keys = tuple(keys)
        self.known = frozenset(known) if known is not None else None

    @property
    def checks_anything(self) -> bool:
        return bool(self.keys) or self.known is not None

    def passes(self, rows: Sequence[Mapping[str, Any]]) -> bool:
        """Return whether every row passes, looking at a column at a time (no Python step per row)."""
        for key in self.keys:
            values = [row.get(key) for row in rows]
            if None in values or "" in values:
                return False
        return self.known is None or all(map(self.known.issuperset, rows))

    def header_error(
        self,
        columns: Sequence[str],
        *,
        source: str,
        line: int | None = 1,
        rename: Mapping[str, str] | None = None,
    ) -> RowDataError | None:
        """
        Return what a file's columns (its header) lack, before any row is read (``None``: nothing).

        Without a key column every row would fail (or be rejected) on its own; the header says it once.
        ``columns`` are the file's, ``rename`` maps them. (A column the data set lacks is still named row by
        row, at the first row.)
        """
        rename = rename or {}
        named = [rename.get(c, c) for c in columns]
        listed = ", ".join(map(repr, columns))
        missing = [k for k in self.keys if k not in named]
        if missing:
            keys = ", ".join(map(repr, missing))
            what = "key column" if len(missing) == 1 else "key columns"
            return RowDataError(
                f"the file has no {what} {keys} (its columns are {listed}{_renamed(rename)}): pass key= "
                "naming the file's key, or rename= its column",
                source=source,
                line=line,
                column=missing[0],
            )
        return None

    def error(self, row: Mapping[str, Any], *, source: str, line: int) -> RowDataError | None:
        """Return what is wrong with one row, naming the source, line and column (``None``: nothing)."""
        for key in self.keys:
            value = row.get(key)
            if value is None or value == "":
                return RowDataError("the row has no value for its key", source=source, line=line, column=key)
        if self.known is not None and not self.known.issuperset(row):
            unknown = next(column for column in row if column not in self.known)
            return RowDataError(
                f"unknown column (the data set has {sorted(self.known)})",
                source=source,
                line=line,
                column=unknown,
            )
        return None


def _renamed(rename: Mapping[str, str]) -> str:
    return f", renamed by {dict(rename)}" if rename else ""
