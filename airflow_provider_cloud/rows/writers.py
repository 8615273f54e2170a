"""
Streaming row writers: CSV, JSON Lines and JSON arrays, to any ``ObjectStoragePath``.

``write_rows`` writes one row at a time through ``atomic_writer``: the destination receives the
whole file or, when anything fails (a bad row, the source iterator raising, the store failing),
stays as it was.

Values that JSON has no type for are written by one documented rule (``json_default``), in JSON
and CSV alike:

- ``datetime``, ``date`` and ``time``: ISO 8601 text (``2024-05-01T12:30:00+00:00``);
- ``Decimal``: its exact text (``"12.50"``) — a JSON string, so no digit is lost to a float;
- ``bytes``: base64 text; ``UUID`` and paths: their text; an ``Enum``: its value; sets: lists;
- anything else is an error naming the row and column.

In CSV, ``None`` is written as the ``null_value`` option (default empty), booleans as ``true`` and
``false``, objects and arrays as compact JSON text, numbers as Python prints them. Floats that are
not finite (NaN, infinity) cannot be written as JSON and are an error there; CSV writes ``nan`` and
``inf``, which read back as text unless the column is declared ``float``.
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import datetime
import decimal
import enum
import io
import itertools
import json
import operator
import os
import pathlib
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, BinaryIO, Literal

from airflow.sdk import ObjectStoragePath

from airflow_provider_cloud.exceptions import RowDataError
from airflow_provider_cloud.rows._parquet_write import write_parquet
from airflow_provider_cloud.rows.batching import batched
from airflow_provider_cloud.rows.formats import CsvOptions, csv_options_for, detect_format
from airflow_provider_cloud.rows.paths import as_storage_path, atomic_writer

ExtraColumns = Literal["error", "ignore"]


@dataclasses.dataclass(frozen=True)
class WriteSummary:
    """What ``write_rows`` wrote: the destination (as a URL) and the number of rows."""

    path: str
    rows: int


def json_default(value: Any) -> Any:
    """Return a JSON-native stand-in for a value JSON has no type for (rules in the module docstring)."""
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, uuid.UUID | pathlib.PurePath):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return list(value)
    raise TypeError(f"cannot write a value of type {type(value).__name__}")


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=json_default)


def encode_json(value: Any) -> str:
    """Return compact JSON text for ``value`` using ``json_default`` (``TypeError``/``ValueError`` on failure)."""
    return _ENCODER.encode(value)


def write_rows(
    destination: str | os.PathLike[str] | ObjectStoragePath,
    rows: Iterable[Mapping[str, Any]],
    *,
    format: str | None = None,
    columns: Sequence[str] | None = None,
    csv_options: CsvOptions | None = None,
    extra_columns: ExtraColumns = "error",
    column_types: Mapping[str, str] | Callable[[], Any] | None = None,
) -> WriteSummary:
    """
    Write ``rows`` to ``destination`` and return how many were written.

    ``format`` is ``csv``, ``tsv``, ``jsonl`` or ``json``, or from the file name (``.gz`` compresses).
    ``columns`` fixes the columns and their order; without it, the first row's keys are used. A row
    missing a column gets NULL there; a row with a column that is not among them raises
    ``RowDataError`` (and nothing is written) unless ``extra_columns="ignore"`` drops such values.
    Without ``columns``, JSON formats write every row's keys as they are.

    CSV writes a header when ``csv_options.header`` is true; zero rows give a header-only file, or
    an empty file when no ``columns`` were given. JSON writes an array with one object per line (``[]`` for
    zero rows); JSON Lines one compact object per line. Parquet (the ``parquet`` extra) writes a record batch
    at a time, each column's type from ``column_types`` (the data set's, by name; or a function returning
    them, or something with them as ``columns``, called only for Parquet) or the first rows
    (``rows._parquet_write``); zero rows give a file with the columns and no rows.
    """
    if extra_columns not in ("error", "ignore"):
        raise ValueError(f"extra_columns must be 'error' or 'ignore', not {extra_columns!r}")
    if columns is not None:
        if isinstance(columns, str):
            raise TypeError("columns must be a sequence of column names, not one string")
        columns = list(columns)
        duplicates = sorted({c for c in columns if columns.count(c) > 1})
        if duplicates:
            raise ValueError(f"columns name {', '.join(map(repr, duplicates))} more than once")
    path = as_storage_path(destination)
    fmt = detect_format(path, format)
    name = str(path)
    with atomic_writer(path) as binary:
        if fmt == "csv":
            options = csv_options_for(path, csv_options, format)
            count = _write_csv(binary, rows, columns, options, extra_columns, name)
        elif fmt == "parquet":
            count = write_parquet(
                binary,
                rows,
                columns=columns,
                column_types=_types_of(column_types),
                ignore_extra=extra_columns == "ignore",
                destination=name,
                as_text=_text_cell,
            )
        else:
            count = _write_json(binary, rows, columns, fmt == "json", extra_columns, name)
    return WriteSummary(path=name, rows=count)


class _Shape:
    """Check each row against the chosen columns."""

    def __init__(self, columns: list[str] | None, extra_columns: ExtraColumns, destination: str) -> None:
        self.columns = columns
        self.column_set = frozenset(columns or ())
        self.ignore_extra = extra_columns == "ignore"
        self.destination = destination

    def fix(self, first: Mapping[str, Any] | None) -> None:
        if self.columns is None and first is not None:
            self.columns = list(first.keys())
            self.column_set = frozenset(self.columns)

    def check(self, number: int, row: Any) -> Mapping[str, Any]:
        if not isinstance(row, Mapping):
            raise RowDataError(
                f"row {number} is a {type(row).__name__}, not a mapping of column names to values",
                source=self.destination,
            )
        if self.columns is not None and not self.ignore_extra and not self.column_set.issuperset(row):
            extra = [key for key in row if key not in self.column_set]
            shown = ", ".join(map(repr, self.columns))
            raise RowDataError(
                f"row {number} has column {extra[0]!r} which is not among the columns written ({shown}); "
                "pass columns=[...] to choose them, or extra_columns='ignore' to drop the others",
                source=self.destination,
                column=str(extra[0]),
            )
        return row

    def fail(self, number: int, row: Mapping[str, Any], error: Exception) -> RowDataError:
        """Name the column whose value could not be written."""
        for column, value in row.items():
            try:
                encode_json(value)
            except (TypeError, ValueError):
                return RowDataError(
                    f"row {number}: {_why(error, value)}", source=self.destination, column=column
                )
        return RowDataError(f"row {number}: {error}", source=self.destination)


def _why(error: Exception, value: Any) -> str:
    if isinstance(value, float):
        return f"{value!r} cannot be written as JSON (only finite numbers can)"
    return f"cannot write a value of type {type(value).__name__} ({error})"


_NOTHING = object()


def _first_and_rest(rows: Iterable[Any]) -> tuple[Any, Iterator[Any]]:
    """Return the first row (``_NOTHING`` when there are none) and an iterator over all the rows."""
    iterator = iter(rows)
    first = next(iterator, _NOTHING)
    if first is _NOTHING:
        return first, iterator
    return first, itertools.chain((first,), iterator)


#: Text gathered before it is encoded and written (bytes written per call to the file).
FLUSH_CHARS = 1 << 18
_PLAIN_CELLS = frozenset({str, int, float})
#: Rows written together by one ``writerows`` call when they are plain.
_CHUNK_ROWS = 512


class _TextSink:
    """Gather text in memory and write it encoded to the binary file in large pieces."""

    def __init__(self, binary: BinaryIO, encoding: str, destination: str) -> None:
        self._binary = binary
        self._encoding = encoding
        self._destination = destination
        self.buffer = io.StringIO(newline="")
        self.write = self.buffer.write

    def flush(self) -> None:
        """Encode and write what was gathered."""
        text = self.buffer.getvalue()
        if not text:
            return
        self.buffer.seek(0)
        self.buffer.truncate()
        try:
            data = text.encode(self._encoding)
        except UnicodeEncodeError as error:
            bad = error.object[error.start : error.end]
            raise RowDataError(
                f"{bad!r} cannot be encoded as {self._encoding} ({error.reason}); choose another encoding",
                source=self._destination,
            ) from error
        self._binary.write(data)

    def flush_if_full(self) -> None:
        """Flush when enough text has been gathered."""
        if self.buffer.tell() >= FLUSH_CHARS:
            self.flush()


def _write_csv(
    binary: BinaryIO,
    rows: Iterable[Mapping[str, Any]],
    columns: list[str] | None,
    options: CsvOptions,
    extra_columns: ExtraColumns,
    destination: str,
) -> int:
    shape = _Shape(columns, extra_columns, destination)
    first, iterator = _first_and_rest(rows)
    if first is not _NOTHING:
        shape.fix(shape.check(1, first))
    sink = _TextSink(binary, options.encoding, destination)
    writer = csv.writer(sink, options.writer_dialect())
    if options.write_bom:
        sink.write("\ufeff")
    header = shape.columns
    if header is not None and options.header:
        _write_csv_row(writer, header, destination, 0)
    count = _write_csv_rows(writer, sink, iterator, header or [], shape, options.null_value)
    sink.flush()
    return count


def _write_csv_rows(
    writer: Any, sink: _TextSink, rows: Iterator[Any], header: list[str], shape: _Shape, null: str
) -> int:
    """
    Write the data rows, a chunk at a time (the hot loop, kept small and apart).

    A chunk of plain rows (dicts holding every column, with text, numbers, and NULLs written as an
    empty cell) is written by one ``writerows`` call; any other chunk row by row, each value converted.
    """
    plain_types: frozenset[type] = _PLAIN_CELLS | {type(None)} if null == "" else _PLAIN_CELLS
    values_of = operator.itemgetter(*header) if len(header) > 1 else None
    count = 0
    for chunk in batched(rows, _CHUNK_ROWS):
        values = _plain_values(chunk, values_of, shape, plain_types)
        if values is not None:
            _write_csv_chunk(writer, values, shape.destination, count)
        else:
            _write_csv_rows_one_by_one(writer, chunk, count, header, shape, null)
        count += len(chunk)
        sink.flush_if_full()
    return count


def _plain_values(
    chunk: list[Any], values_of: Callable[[Any], Any] | None, shape: _Shape, plain_types: frozenset[type]
) -> list[tuple[Any, ...]] | None:
    """Return the chunk's rows as tuples of cells when they can be written as they are, else ``None``."""
    if values_of is None or set(map(type, chunk)) != {dict}:
        return None
    if not shape.ignore_extra and not all(map(shape.column_set.issuperset, chunk)):
        return None  # a row with an extra column: row by row, for the error naming it
    try:
        values = list(map(values_of, chunk))
    except KeyError:
        return None  # a row without some column: row by row, where it gets NULL
    return values if set(map(type, itertools.chain.from_iterable(values))) <= plain_types else None


def _write_csv_chunk(writer: Any, values: list[tuple[Any, ...]], destination: str, before: int) -> None:
    try:
        writer.writerows(values)
    except csv.Error:
        for offset, cells in enumerate(values, start=before + 1):  # find and name the row
            _write_csv_row(writer, list(cells), destination, offset)
        raise


def _write_csv_rows_one_by_one(
    writer: Any, chunk: list[Any], before: int, header: list[str], shape: _Shape, null: str
) -> None:
    plain = _PLAIN_CELLS
    for count, row in enumerate(chunk, start=before + 1):
        checked = shape.check(count, row)
        try:
            cells = [v if type(v) in plain else _csv_cell(v, null) for v in map(checked.get, header)]
        except (TypeError, ValueError) as error:
            raise shape.fail(count, checked, error) from error
        _write_csv_row(writer, cells, shape.destination, count)


def _write_csv_row(writer: Any, cells: list[Any], destination: str, number: int) -> None:
    try:
        writer.writerow(cells)
    except csv.Error as error:
        where = f"row {number}" if number else "the header"
        raise RowDataError(
            f"{where} cannot be written as CSV with these options: {error}", source=destination
        ) from error


def _types_of(column_types: Mapping[str, str] | Callable[[], Any] | None) -> Mapping[str, str] | None:
    found = column_types() if callable(column_types) else column_types
    return found if found is None or isinstance(found, Mapping) else found.columns


def _text_cell(value: Any) -> str:
    """Return a value as the CSV writer writes it in a cell (booleans ``true``/``false``, objects as JSON)."""
    return str(_csv_cell(value, ""))


def _csv_cell(value: Any, null: str) -> Any:
    if value is None:
        return null
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    if isinstance(value, dict | list | tuple):
        return encode_json(value)
    converted = json_default(value)
    return converted if isinstance(converted, str) else _csv_cell(converted, null)


def _write_json(
    binary: BinaryIO,
    rows: Iterable[Mapping[str, Any]],
    columns: list[str] | None,
    as_array: bool,
    extra_columns: ExtraColumns,
    destination: str,
) -> int:
    shape = _Shape(columns, extra_columns, destination)
    sink = _TextSink(binary, "utf-8", destination)
    write = sink.write
    encode = _ENCODER.encode
    check = shape.check
    count = 0
    separator = "[\n" if as_array else ""
    ending = ",\n" if as_array else "\n"
    for count, row in enumerate(rows, start=1):
        checked = check(count, row)
        value = {column: checked.get(column) for column in columns} if columns is not None else checked
        if type(value) is not dict:
            value = dict(value)
        try:
            encoded = encode(value)
        except (TypeError, ValueError) as error:
            raise shape.fail(count, value, error) from error
        write(separator)
        write(encoded)
        separator = ending
        if not count & 1023:
            sink.flush_if_full()
    if as_array:
        write("[]\n" if count == 0 else "\n]\n")
    else:
        write(separator)
    sink.flush()
    return count
