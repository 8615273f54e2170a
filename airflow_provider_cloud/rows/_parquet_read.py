"""
Parquet rows, a record batch at a time: whole columns converted by Arrow, rows made without a step per cell.

The file is read through the path's filesystem (a seekable file object: the footer first, then the column
chunks), ``iter_batches`` hands out ``PARQUET_BATCH_ROWS`` rows at a time, so memory holds a batch and the
reader's buffers whatever the file's size. A row's ``line`` is its 1-based row number in the file (errors say
``row N``: ``RowDataError`` speaks of rows for a ``.parquet`` source).

Column types become the row values the hooks take (decided here, documented in the README):

- null → ``None``; booleans, integers, floats, text and binary (``bytes``) as Python's own; decimals as
  ``Decimal`` (exact; each hook writes it as its service stores numbers);
- dates, times and timestamps → ISO 8601 text, as a CSV file holds them (``2024-05-01``,
  ``2024-05-01T12:30:00``, ``...+02:00`` for a zoned timestamp; a fraction only when not zero), converted by
  Arrow for the whole column;
- dictionary-encoded columns (categoricals) → their values;
- lists, structs and maps → compact JSON text (the form the CSV writer gives objects and arrays);
- any other type (durations, intervals, unions, extension types) is refused when the file is opened, naming
  the column and its type;
- a float that is NaN or infinite makes its row a bad row naming the column (no service JSON carries it).

Declared ``types`` convert and check values as for JSON rows, a whole column at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, BinaryIO

from airflow_provider_cloud.exceptions import RowDataError
from airflow_provider_cloud.rows._arrow import Arrow, load_arrow
from airflow_provider_cloud.rows._records import READY, GoodRows, Record, apply_types, bad, row_maker
from airflow_provider_cloud.rows.convert import ConversionError

#: Rows handed out together: one record batch of the file.
PARQUET_BATCH_ROWS = 4096
#: Bytes read from the file at a time (the reader streams column chunks rather than loading them whole).
READ_BUFFER_BYTES = 1 << 20

_NOT_FINITE = "{value} is not a number JSON can carry (no NaN or infinity): write null, or the value as text"
ColumnConverter = Callable[[Any], list[Any]]


class ParquetRows:
    """
    One open Parquet file: its ``columns`` and ``row_count``, and ``blocks()`` as a row parser yields them.

    :param binary: the open file (seekable). Opening checks it is Parquet and that every column has a type
        rows can carry; a file that is not Parquet, empty or cut short raises ``RowDataError`` naming it.
    """

    def __init__(
        self,
        binary: BinaryIO,
        source: str,
        converters: Mapping[str, Callable[[Any], Any]],
        allow_empty: bool,
        encode_json: Callable[[Any], str],
    ) -> None:
        self.arrow = load_arrow("reading a Parquet file")
        self.source = source
        self.converters = converters
        self.allow_empty = allow_empty
        self.done = 0
        self.file = _open_parquet(self.arrow, binary, source, allow_empty)
        schema = self.file.schema_arrow if self.file is not None else None
        self.columns: tuple[str, ...] = tuple(schema.names) if schema is not None else ()
        self.row_count = self.file.metadata.num_rows if self.file is not None else 0
        repeated = sorted({name for name in self.columns if self.columns.count(name) > 1})
        if repeated:
            raise RowDataError(f"the file names column {repeated[0]!r} more than once", source=source)
        self._convert = [
            _converter(self.arrow, field.type, field.name, source, encode_json) for field in schema or ()
        ]
        self._floats = [
            index for index, field in enumerate(schema or ()) if self.arrow.pa.types.is_floating(field.type)
        ]

    def share_read(self) -> float | None:
        """Return the share of the file's rows handed out (0 to 1)."""
        return self.done / self.row_count if self.row_count else None

    def blocks(self) -> Iterator[Any]:
        """Yield ``READY``, then a block per record batch: ``GoodRows``, or records where a row is bad."""
        yield READY
        if self.file is None:
            return
        make = row_maker(self.columns)
        batches = self.file.iter_batches(batch_size=PARQUET_BATCH_ROWS, use_threads=False)
        while True:
            try:
                batch = next(batches, None)
            except (OSError, ValueError) as error:  # ArrowInvalid and ArrowIOError are both
                raise RowDataError(
                    f"the Parquet data is damaged or cut short after row {self.done}: {error}",
                    source=self.source,
                ) from error
            if batch is None:
                return
            first = self.done + 1
            yield self._block(batch, first, make)
            self.done += batch.num_rows

    def _block(self, batch: Any, first: int, make: Callable[..., dict[str, Any]]) -> GoodRows | list[Record]:
        columns = [convert(batch.column(index)) for index, convert in enumerate(self._convert)]
        lines = range(first, first + batch.num_rows)
        errors = self._not_finite(batch, first)
        typed = _typed_columns(self.columns, columns, self.converters)
        if typed is not None and not errors:
            return GoodRows(lines, list(map(make, *typed)) if columns else [{} for _ in lines])
        records = []
        for line, row in zip(lines, map(make, *columns) if columns else ({} for _ in lines), strict=True):
            error = errors.get(line)
            if error is None:
                checked = apply_types(row, self.converters, self.source, line)
                if isinstance(checked, RowDataError):
                    error = checked
                else:
                    records.append(Record(line, checked))
                    continue
            records.append(Record(line, row, error))
        return records

    def _not_finite(self, batch: Any, first: int) -> dict[int, RowDataError]:
        """Return the bad rows of a batch holding NaN or an infinity in a float column (usually none)."""
        pc = self.arrow.pc
        errors: dict[int, RowDataError] = {}
        for index in self._floats:
            column = batch.column(index)
            if not pc.any(pc.invert(pc.is_finite(column))).as_py():
                continue
            name = self.columns[index]
            for offset, value in enumerate(column.to_pylist()):
                if value is not None and value - value != 0 and first + offset not in errors:
                    reason = _NOT_FINITE.format(value=value)
                    errors[first + offset] = bad(reason, self.source, first + offset, name)
        return errors


def _typed_columns(
    names: tuple[str, ...], columns: list[list[Any]], converters: Mapping[str, Callable[[Any], Any]]
) -> list[list[Any]] | None:
    """Return the columns with declared types applied, a column at a time; ``None`` when a value fails."""
    if not converters:
        return columns
    typed = list(columns)
    for index, name in enumerate(names):
        convert = converters.get(name)
        if convert is not None:
            try:
                typed[index] = list(map(convert, columns[index]))
            except ConversionError:
                return None  # row by row, for the error naming the row
    return typed


def _open_parquet(arrow: Arrow, binary: BinaryIO, source: str, allow_empty: bool) -> Any:
    """Return a ``ParquetFile`` over ``binary`` (``None``: an empty file that may be empty)."""
    try:
        return arrow.pq.ParquetFile(binary, buffer_size=READ_BUFFER_BYTES, pre_buffer=False)
    except (OSError, ValueError) as error:  # ArrowInvalid (a ValueError), ArrowIOError (an OSError)
        message = str(error)
        if "file size is 0 bytes" in message:
            if allow_empty:
                return None
            raise RowDataError("file is empty", source=source) from None
        raise RowDataError(
            f"not a Parquet file, or one cut short (its footer is missing or damaged): {message}",
            source=source,
        ) from None


def _converter(
    arrow: Arrow, kind: Any, name: str, source: str, encode_json: Callable[[Any], str]
) -> ColumnConverter:
    """Return the function making a column's row values out of an Arrow array of type ``kind``."""
    types, pc, pa = arrow.pa.types, arrow.pc, arrow.pa
    if types.is_dictionary(kind):
        inner = _converter(arrow, kind.value_type, name, source, encode_json)
        return lambda array: inner(array.dictionary_decode())
    if (
        types.is_null(kind)
        or types.is_boolean(kind)
        or types.is_integer(kind)
        or types.is_floating(kind)
        or types.is_string(kind)
        or types.is_large_string(kind)
        or types.is_binary(kind)
        or types.is_large_binary(kind)
        or types.is_fixed_size_binary(kind)
        or types.is_decimal(kind)
        or _is_view(types, kind)
    ):
        return _to_list
    if types.is_date(kind):
        return lambda array: pc.cast(array, pa.string()).to_pylist()
    if types.is_timestamp(kind) or types.is_time(kind):
        return lambda array: _iso_text(pc, pc.cast(array, pa.string()))
    if types.is_list(kind) or types.is_large_list(kind) or types.is_fixed_size_list(kind):
        return lambda array: _json_texts(array.to_pylist(), encode_json)
    if types.is_struct(kind) or types.is_map(kind):
        return lambda array: _json_texts(array.to_pylist(), encode_json)
    raise RowDataError(
        f"the column's Parquet type {kind} has no row value here (supported: booleans, integers, floats, "
        "decimals, text, binary, dates, times, timestamps, and lists, structs and maps as JSON text); "
        "cast it to one of those when writing the file",
        source=source,
        column=name,
    )


def _is_view(types: Any, kind: Any) -> bool:
    is_view = getattr(types, "is_string_view", None)
    is_binary_view = getattr(types, "is_binary_view", None)
    return bool((is_view and is_view(kind)) or (is_binary_view and is_binary_view(kind)))


def _to_list(array: Any) -> list[Any]:
    return list(array.to_pylist())


def _iso_text(pc: Any, text: Any) -> list[Any]:
    """
    Return Arrow's text of times and timestamps as ISO 8601, as ``isoformat`` writes them.

    Arrow writes ``2024-05-01 12:30:00.000000Z``: the date and time joined by ``T``, a fraction of zeros
    dropped, and the zone as ``+00:00``. Done on the whole column by Arrow (no step per cell).
    """
    text = pc.replace_substring(text, pattern=" ", replacement="T", max_replacements=1)
    text = pc.replace_substring_regex(text, pattern=r"\.0+(Z|[+-]\d{4})?$", replacement=r"\1")
    text = pc.replace_substring_regex(text, pattern=r"Z$", replacement="+00:00")
    text = pc.replace_substring_regex(text, pattern=r"([+-]\d\d)(\d\d)$", replacement=r"\1:\2")
    return list(text.to_pylist())


def _json_texts(values: list[Any], encode_json: Callable[[Any], str]) -> list[Any]:
    """Return nested values (lists, structs, maps) as compact JSON text; ``None`` stays ``None``."""
    return [None if value is None else encode_json(value) for value in values]
