"""
CSV rows, a block at a time: parsing in C, whole columns typed at once.

Lines are read in chunks (``readlines`` with a size hint) and fed to ``csv.reader`` through a C-level
chain, and rows are taken ``BLOCK_ROWS`` at a time. In the usual block every row is one line with one
field per column: the line numbers follow from the positions, and each column is typed in one pass
(:mod:`airflow_provider_cloud.rows._columns`). A block with anything else in it (a quoted value over
several lines, a blank line, a malformed row, a row of the wrong width, bytes that are not text) is
parsed again from its kept lines one row at a time, for exact line numbers and errors. Only the lines
of the current block are kept (for the text of bad rows), so memory is bounded by a block.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TextIO

from airflow_provider_cloud.exceptions import RowDataError
from airflow_provider_cloud.rows._columns import ColumnTyper, column_typer
from airflow_provider_cloud.rows._csv_lines import BOM, NUL_REASON, Lines, Row, rows_one_by_one, step
from airflow_provider_cloud.rows._records import (
    READY,
    Block,
    GoodRows,
    Record,
    bad,
    good_records,
    row_maker,
    undecodable_reason,
)
from airflow_provider_cloud.rows.convert import ColumnType
from airflow_provider_cloud.rows.formats import CsvOptions

#: Rows parsed and typed together.
BLOCK_ROWS = 512
_CSV_MESSAGES = {
    "unexpected end of data": "a quoted value is never closed (unterminated quote at the end of the file)",
}


class CsvParser:
    """Parse one CSV text into blocks of rows (``GoodRows`` or records): ``READY`` first, once the header is checked."""

    def __init__(
        self,
        source: str,
        options: CsvOptions,
        declared: Mapping[str, ColumnType],
        detect: bool,
        allow_empty: bool,
        text_columns: frozenset[str] = frozenset(),
    ) -> None:
        self.source = source
        self.text_columns = text_columns
        self.options = options
        self.declared = declared
        self.detect = detect
        self.allow_empty = allow_empty
        self.columns: tuple[str, ...] | None = options.columns if not options.header else None
        #: The header's fields: a row equal to them later is the header again (two files joined).
        self._header: list[str] | None = None

    def _reason(self, error: csv.Error) -> str:
        message = str(error)
        return "malformed CSV: " + _CSV_MESSAGES.get(message, message)

    def _check_header(self, names: list[str]) -> tuple[str, ...]:
        seen: dict[str, int] = {}
        for position, column in enumerate(names, start=1):
            if not column.strip():
                raise bad(f"the header's column {position} has no name", self.source, 1)
            if column in seen:
                raise bad(
                    f"the header names column {column!r} twice (columns {seen[column]} and {position})",
                    self.source,
                    1,
                    column,
                )
            seen[column] = position
        return tuple(names)

    def _check_types(self, columns: tuple[str, ...]) -> None:
        missing = [column for column in self.declared if column not in columns]
        if missing:
            raise RowDataError(
                f"types name columns that are not in the file: {', '.join(map(repr, missing))} "
                f"(the columns are {', '.join(map(repr, columns))})",
                source=self.source,
            )

    def parse(self, text: TextIO) -> Iterator[Any]:
        """Yield ``READY``, then the rows of ``text`` in blocks (none empty)."""
        source = self.source
        lines = Lines(text)
        reader = csv.reader(lines.feed(), self.options.reader_dialect())
        first = step(reader)
        while first is not None and first[2] == []:
            first = step(reader)
        if first is None:
            if not self.allow_empty:
                what = " (no header row)" if self.options.header else ""
                raise RowDataError(f"file is empty{what}", source=source)
            self.columns = self.columns or ()
            yield READY
            return
        line, last, fields = first
        if self.options.header:
            if isinstance(fields, csv.Error):
                raise bad(self._reason(fields) + " (in the header)", source, line)
            broken = lines.first_undecodable(line, last)
            if broken is not None:
                raise bad(undecodable_reason(broken, self.options.encoding), source, line)
            if lines.any_nul(line, last):
                raise bad(NUL_REASON.format(what="the header"), source, line)
            self.columns = self._check_header(fields)
            self._header = fields
        elif self.columns is None:
            if isinstance(fields, csv.Error):
                raise bad(self._reason(fields) + " (in the first row)", source, line)
            self.columns = tuple(f"column_{i}" for i in range(1, len(fields) + 1))
        columns = self.columns
        self._check_types(columns)
        nulls = self.options.null_values
        declared = {c: self.declared.get(c) or ("text" if c in self.text_columns else None) for c in columns}
        typers = [column_typer(declared[c], nulls, detect=self.detect, name=c) for c in columns]
        make_row = row_maker(columns)
        yield READY

        if not self.options.header:
            yield self._block([first], lines, columns, typers, make_row)
        lines.release(last)
        yield from self._blocks(reader, lines, columns, typers, make_row)

    def _blocks(
        self,
        reader: Any,
        lines: Lines,
        columns: tuple[str, ...],
        typers: list[ColumnTyper],
        make_row: Callable[..., dict[str, Any]],
    ) -> Iterator[Block]:
        """Yield the remaining rows, a block at a time (the hot loop); no block is empty."""
        width = len(columns)
        dialect = self.options.reader_dialect()
        while True:
            before = reader.line_num
            block: list[list[str]] = []
            broken = False
            try:
                block.extend(itertools.islice(reader, BLOCK_ROWS))
            except csv.Error:
                broken = True  # the rows before it are in the block; all are parsed again below
            after = reader.line_num
            if not block and not broken:
                return
            regular = (
                not broken
                and after - before == len(block)
                and set(map(len, block)) == {width}
                and lines.first_undecodable(before + 1, after) is None
                and not lines.any_marked(before + 1, after)
                and not lines.any_nul(before + 1, after)
                and (self._header is None or self._header not in block)
            )
            if regular:
                numbers = range(before + 1, after + 1)
                cells = list(zip(*block))
                del block  # no longer needed: fewer live objects for the garbage collector to look at
                yield self._typed(cells, numbers, numbers, lines, columns, typers, make_row)
            else:
                rows = rows_one_by_one(lines.get(before + 1, after), before + 1, dialect)
                records = self._block(rows, lines, columns, typers, make_row)
                if records:  # a block of blank lines has none
                    yield records
            lines.release(after)

    def _block(
        self,
        rows: Iterable[Row],
        lines: Lines,
        columns: tuple[str, ...],
        typers: list[ColumnTyper],
        make_row: Callable[..., dict[str, Any]],
    ) -> list[Record]:
        """Return the records of parsed rows: bad ones where they are, good ones typed together."""
        source = self.source
        width = len(columns)
        found: list[Record | None] = []  # None: the next good row
        good: list[list[str]] = []
        firsts: list[int] = []
        lasts: list[int] = []
        for first, last, fields in rows:
            reason: str | None = None
            if isinstance(fields, csv.Error):
                reason = self._reason(fields)
            elif (broken := lines.first_undecodable(first, last)) is not None:
                reason = undecodable_reason(broken, self.options.encoding)
            elif lines.any_nul(first, last):
                reason = NUL_REASON.format(what="the row")
            elif (joined := self._joined_file(fields, lines.any_marked(first, first))) is not None:
                reason = joined
            elif len(fields) != width:
                reason = f"expected {width} fields (one per column), found {len(fields)}"
            if reason is not None:
                found.append(Record(first, None, bad(reason, source, first), lines.raw(first, last)))
                continue
            assert not isinstance(fields, csv.Error)
            found.append(None)
            good.append(fields)
            firsts.append(first)
            lasts.append(last)
        typed = self._typed(list(zip(*good)), firsts, lasts, lines, columns, typers, make_row)
        good_ones = iter(typed.records() if isinstance(typed, GoodRows) else typed)
        return [record if record is not None else next(good_ones) for record in found]

    def _joined_file(self, fields: list[str], marked: bool) -> str | None:
        """
        Return why a row looks like the start of another file joined on (``None``: it does not).

        That is the header again, or a line starting with a byte-order mark. It is a bad row: it fails the
        import, or with ``on_bad_rows="skip"`` goes to the rejects file, since the rows after it have the
        file's columns and are read as they would be on their own (a header of other columns shows in them).
        """
        header = self._header
        if marked and fields:
            fields = [fields[0].removeprefix(BOM), *fields[1:]]
        if header is not None and fields == header:
            mark = " after a byte-order mark" if marked else ""
            return f"the header again{mark}, in the middle of the file: are two CSV files joined here?"
        if marked:
            return (
                "a byte-order mark starts the line, as at the start of a file: are two CSV files joined here?"
            )
        return None

    def _typed(
        self,
        cells: list[tuple[str, ...]],
        firsts: Sequence[int],
        lasts: Sequence[int],
        lines: Lines,
        columns: tuple[str, ...],
        typers: list[ColumnTyper],
        make_row: Callable[..., dict[str, Any]],
    ) -> Block:
        """
        Return rows of the right width typed column by column: ``GoodRows``, or records if any is bad.

        ``cells`` holds each column's cells; ``firsts`` and ``lasts`` each row's first and last line.
        """
        values: list[list[Any]] = []
        failures: dict[int, tuple[str, str]] = {}
        for column, type_column, column_cells in zip(columns, typers, cells):
            column_values, column_failures = type_column(column_cells, firsts)
            values.append(column_values)
            for index, error in column_failures.items():
                failures.setdefault(index, (column, error.reason))
        if not values:  # no good rows in the block
            return []
        rows = list(map(make_row, *values))
        if not failures:
            return GoodRows(firsts, rows)
        records = good_records(firsts, rows)
        for index, (column, reason) in failures.items():
            first = records[index].line
            as_text = make_row(*(column_cells[index] for column_cells in cells))
            records[index] = Record(
                first, as_text, bad(reason, self.source, first, column), lines.raw(first, lasts[index])
            )
        return records
