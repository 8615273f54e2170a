"""
Streaming row readers: CSV, JSON Lines and JSON arrays, from any ``ObjectStoragePath``.

``read_records`` yields one ``Record`` per row, in order, never holding more than one row (and a
read buffer) in memory. Two kinds of problems are told apart:

- a bad **row** (a CSV line with the wrong number of fields or broken quoting, a JSON Lines line
  that is not a JSON object, an array element that is not an object, a value that does not fit its
  declared type) is yielded as a ``Record`` whose ``error`` is set, so the caller can fail or skip
  it into a rejects file;
- a bad **file** (missing, a directory, empty, a CSV header with blank or repeated names, a JSON
  document that is not an array or is cut short, bytes that are not the declared encoding or not
  gzip) raises ``RowDataError`` at once; problems found while opening are raised by
  ``read_records`` itself, before any row is read.

``Record.line`` is the 1-based physical line where the row starts: the CSV header is line 1 and
the first data row line 2; a quoted value with newlines makes the row span lines, and the next
row's number counts them. For JSON arrays it is the line where the element starts.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import dataclasses
import gzip
import io
import itertools
import json
import os
import re
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any, BinaryIO, TextIO

from airflow.sdk import ObjectStoragePath

from airflow_provider_cloud.exceptions import RowDataError
from airflow_provider_cloud.rows.convert import (
    ColumnType,
    ConversionError,
    TypeSpec,
    normalize_types,
    text_converter,
    value_converter,
)
from airflow_provider_cloud.rows.formats import CsvOptions, RowFormat, csv_options_for, detect_format
from airflow_provider_cloud.rows.paths import as_storage_path, open_for_read

#: The most text of one bad row kept in ``Record.raw`` (a runaway quoted field can be huge).
MAX_RAW_CHARS = 65_536
#: Characters read at a time from a JSON array.
JSON_CHUNK_CHARS = 65_536

_READY = object()


@dataclasses.dataclass(frozen=True, slots=True)
class Record:
    """
    One row read from a source.

    The row is good when ``error`` is ``None``; ``data`` is then the typed row. When ``error`` is
    set, ``data`` is the row as parsed before typing, if it could be parsed at all, and ``raw`` the
    row's text where known (cut at ``MAX_RAW_CHARS``).
    """

    line: int
    data: dict[str, Any] | None
    error: RowDataError | None = None
    raw: str | None = None

    @property
    def ok(self) -> bool:
        """Return whether the row was read and typed without error."""
        return self.error is None


class RecordReader(Iterator[Record]):
    """
    An iterator of ``Record`` over one open file; close it (or use ``with``) to release the file.

    ``columns`` is the CSV header (``None`` for JSON formats, where every object has its own keys).
    """

    def __init__(
        self,
        source: str,
        format: RowFormat,
        records: Iterator[Any],
        stack: contextlib.ExitStack,
        encoding: str,
    ) -> None:
        self.source = source
        self.format = format
        self.columns: tuple[str, ...] | None = None
        self._records = records
        self._stack = stack
        self._encoding = encoding
        self._last_line = 0
        try:
            first = next(records)
        except BaseException as error:
            self.close()
            translated = self._translate(error)
            if translated is error:
                raise
            raise translated from error
        if first is not _READY:
            self.close()
            raise RuntimeError("a row parser must announce it is ready first")

    def _translate(self, error: BaseException) -> BaseException:
        """Return a ``RowDataError`` for a decoding or decompression failure, else ``error`` itself."""
        if isinstance(error, UnicodeDecodeError):
            after = f" (after line {self._last_line})" if self._last_line else ""
            return RowDataError(
                f"the file is not valid {_encoding_name(self._encoding)} text{after}: {error.reason}",
                source=self.source,
            )
        if isinstance(error, gzip.BadGzipFile | zlib.error):
            return RowDataError(f"not valid gzip data: {error}", source=self.source)
        if isinstance(error, EOFError):
            return RowDataError("the gzip data is truncated (the file was cut short)", source=self.source)
        return error

    def __iter__(self) -> RecordReader:
        return self

    def __next__(self) -> Record:
        try:
            record: Record = next(self._records)
        except StopIteration:
            self.close()
            raise
        except BaseException as error:
            self.close()
            translated = self._translate(error)
            if translated is error:
                raise
            raise translated from error
        self._last_line = record.line
        return record

    def close(self) -> None:
        """Stop reading and close the file."""
        close = getattr(self._records, "close", None)
        if close is not None:
            close()
        self._stack.close()

    def __enter__(self) -> RecordReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def read_records(
    source: str | os.PathLike[str] | ObjectStoragePath,
    *,
    format: str | None = None,
    csv_options: CsvOptions | None = None,
    types: Mapping[str, TypeSpec] | None = None,
    detect_types: bool = True,
    allow_empty: bool = False,
) -> RecordReader:
    """
    Open ``source`` and return a reader of its rows as ``Record`` objects.

    ``format`` is ``csv``, ``tsv``, ``jsonl`` or ``json``, or from the file name (``.gz`` is
    decompressed). ``types`` maps columns to declared types and ``detect_types`` turns type
    detection on for the other CSV columns (see ``rows.convert``); JSON values keep their JSON
    types unless declared. For CSV, every column named in ``types`` must be in the header.

    An empty file raises ``RowDataError("file is empty")`` unless ``allow_empty``, when it has no
    rows; a CSV file with only a header, and a JSON ``[]``, are valid and have no rows.
    """
    path = as_storage_path(source)
    fmt = detect_format(path, format)
    name = str(path)
    declared = normalize_types(types)
    stack = contextlib.ExitStack()
    try:
        binary = _open(path, name, stack)
        if fmt == "csv":
            options = csv_options_for(path, csv_options, format)
            encoding = options.read_encoding
            text = _text_stream(binary, encoding, newline="", stack=stack)
            parser = _CsvParser(name, options, declared, detect_types, allow_empty)
            records: Iterator[Any] = parser.parse(text)
            reader = RecordReader(name, fmt, records, stack, encoding)
            reader.columns = parser.columns
            return reader
        text = _text_stream(binary, "utf-8-sig", newline=None, stack=stack)
        converters = {column: value_converter(kind) for column, kind in declared.items()}
        if fmt == "jsonl":
            records = _parse_json_lines(text, name, converters, allow_empty)
        else:
            records = _JsonArrayParser(text, name, converters, allow_empty).parse()
        return RecordReader(name, fmt, records, stack, "UTF-8")
    except BaseException:
        stack.close()
        raise


def _open(path: ObjectStoragePath, name: str, stack: contextlib.ExitStack) -> BinaryIO:
    try:
        return stack.enter_context(open_for_read(path))
    except FileNotFoundError:
        raise RowDataError("file not found", source=name) from None
    except IsADirectoryError:
        raise RowDataError("is a directory, not a file", source=name) from None


def _text_stream(
    binary: BinaryIO, encoding: str, *, newline: str | None, stack: contextlib.ExitStack
) -> TextIO:
    codecs.lookup(encoding)
    # Undecodable bytes become lone surrogates, found per line, so the error names the line.
    text = io.TextIOWrapper(binary, encoding=encoding, errors="surrogateescape", newline=newline)
    # Detach rather than close: the binary stream has its own closing in the stack.
    stack.callback(_detach_quietly, text)
    return text


def _detach_quietly(text: io.TextIOWrapper) -> None:
    with contextlib.suppress(ValueError, OSError):
        text.detach()


def _bad(reason: str, source: str, line: int, column: str | None = None) -> RowDataError:
    return RowDataError(reason, source=source, line=line, column=column)


def _cap(raw: str) -> str:
    """Return at most ``MAX_RAW_CHARS`` of a row's text, undecodable bytes shown as backslash escapes."""
    raw = raw if len(raw) <= MAX_RAW_CHARS else raw[:MAX_RAW_CHARS]
    if not raw.isascii() and _UNDECODABLE.search(raw):
        raw = raw.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return raw


#: Lone surrogates: what ``surrogateescape`` decoding makes of bytes that are not valid text.
_UNDECODABLE = re.compile("[\udc80-\udcff]")


def _undecodable(text: str) -> bool:
    return not text.isascii() and _UNDECODABLE.search(text) is not None


def _encoding_name(encoding: str) -> str:
    return "UTF-8" if encoding.lower().replace("_", "-") in ("utf-8-sig", "utf-8", "utf8") else encoding


def _undecodable_reason(text: str, encoding: str) -> str:
    match = _UNDECODABLE.search(text)
    byte = f" (byte 0x{ord(match.group()) - 0xDC00:02x})" if match else ""
    return f"not valid {_encoding_name(encoding)} text{byte}; pass the file's encoding"


def _typed(
    data: dict[str, Any], converters: Mapping[str, Callable[[Any], Any]], source: str, line: int
) -> RowDataError | dict[str, Any]:
    """Return ``data`` with declared types applied (a new dict), or the error for the first bad column."""
    if not converters:
        return data
    typed = dict(data)
    for column, convert in converters.items():
        if column in typed:
            try:
                typed[column] = convert(typed[column])
            except ConversionError as error:
                return _bad(error.reason, source, line, column)
    return typed


# --- CSV -------------------------------------------------------------------------------------


class _LineTap:
    """Iterate over lines, keeping the text of the lines read since the last ``reset``."""

    __slots__ = ("_lines", "parts", "size", "undecodable")

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self.parts: list[str] = []
        self.size = 0
        self.undecodable: str | None = None

    def __iter__(self) -> _LineTap:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        if not line.isascii() and self.undecodable is None and _UNDECODABLE.search(line):
            self.undecodable = line
        if self.size < MAX_RAW_CHARS:
            self.parts.append(line)
            self.size += len(line)
        return line

    def take(self) -> str:
        raw = _cap("".join(self.parts)).rstrip("\r\n")
        self.parts.clear()
        self.size = 0
        self.undecodable = None
        return raw


_CSV_MESSAGES = {
    "unexpected end of data": "a quoted value is never closed (unterminated quote at the end of the file)",
}


class _CsvParser:
    def __init__(
        self,
        source: str,
        options: CsvOptions,
        declared: Mapping[str, ColumnType],
        detect: bool,
        allow_empty: bool,
    ) -> None:
        self.source = source
        self.options = options
        self.declared = declared
        self.detect = detect
        self.allow_empty = allow_empty
        self.columns: tuple[str, ...] | None = options.columns if not options.header else None

    def _reason(self, error: csv.Error) -> str:
        message = str(error)
        return "malformed CSV: " + _CSV_MESSAGES.get(message, message)

    def _check_header(self, names: list[str]) -> tuple[str, ...]:
        seen: dict[str, int] = {}
        for position, column in enumerate(names, start=1):
            if not column.strip():
                raise _bad(f"the header's column {position} has no name", self.source, 1)
            if column in seen:
                raise _bad(
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

    def _converters(self, columns: tuple[str, ...]) -> list[Callable[[str], Any]]:
        nulls = self.options.null_values
        return [text_converter(self.declared.get(c), nulls, detect=self.detect) for c in columns]

    def _conversion_failure(
        self, columns: tuple[str, ...], converters: list[Callable[[str], Any]], fields: list[str], line: int
    ) -> RowDataError:
        """Find the first cell that does not convert, and describe it."""
        for column, convert, cell in zip(columns, converters, fields):
            try:
                convert(cell)
            except ConversionError as error:
                return _bad(error.reason, self.source, line, column)
        raise AssertionError("a conversion failed and then succeeded")

    def parse(self, text: TextIO) -> Iterator[Any]:
        source = self.source
        tap = _LineTap(iter(text))
        reader = csv.reader(tap, self.options.reader_dialect())
        rows = _physical_rows(reader, tap)
        # The first row is read before the reader is handed out, so that an empty file or a bad
        # header is reported by read_records itself.
        first = next(rows, None)
        if first is None:
            if not self.allow_empty:
                what = " (no header row)" if self.options.header else ""
                raise RowDataError(f"file is empty{what}", source=source)
            self.columns = self.columns or ()
            yield _READY
            return
        line, fields = first
        if self.options.header:
            if isinstance(fields, csv.Error):
                raise _bad(self._reason(fields) + " (in the header)", source, line)
            if tap.undecodable is not None:
                raise _bad(_undecodable_reason(tap.undecodable, self.options.encoding), source, line)
            self.columns = self._check_header(fields)
            tap.take()
            pending: Iterator[tuple[int, list[str] | csv.Error]] = rows
        else:
            if self.columns is None:
                if isinstance(fields, csv.Error):
                    raise _bad(self._reason(fields) + " (in the first row)", source, line)
                self.columns = tuple(f"column_{i}" for i in range(1, len(fields) + 1))
            pending = itertools.chain((first,), rows)
        columns = self.columns
        self._check_types(columns)
        yield _READY

        yield from self._records(pending, tap, columns)

    def _records(
        self, rows: Iterator[tuple[int, list[str] | csv.Error]], tap: _LineTap, columns: tuple[str, ...]
    ) -> Iterator[Record]:
        """Turn parsed rows into records (the hot loop, kept small and apart)."""
        source = self.source
        converters = self._converters(columns)
        width = len(columns)
        for line, fields in rows:
            if isinstance(fields, csv.Error):
                yield Record(line, None, _bad(self._reason(fields), source, line), tap.take())
                continue
            if tap.undecodable is not None:
                reason = _undecodable_reason(tap.undecodable, self.options.encoding)
                yield Record(line, None, _bad(reason, source, line), tap.take())
                continue
            if len(fields) != width:
                reason = f"expected {width} fields (one per column), found {len(fields)}"
                yield Record(line, None, _bad(reason, source, line), tap.take())
                continue
            try:
                data = {column: convert(cell) for column, convert, cell in zip(columns, converters, fields)}
            except ConversionError:
                failure = self._conversion_failure(columns, converters, fields, line)
                yield Record(line, dict(zip(columns, fields)), failure, tap.take())
                continue
            tap.parts.clear()
            tap.size = 0
            yield Record(line, data)


def _physical_rows(reader: Any, tap: _LineTap) -> Iterator[tuple[int, list[str] | csv.Error]]:
    """Yield ``(starting line, fields)`` per non-blank CSV row, or ``(line, csv.Error)`` for a broken one."""
    previous = reader.line_num
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            line = previous + 1
            previous = reader.line_num
            yield line, error
            continue
        line = previous + 1
        previous = reader.line_num
        if fields:
            yield line, fields
        else:
            tap.take()


# --- JSON Lines ------------------------------------------------------------------------------


def _parse_json_lines(
    text: TextIO, source: str, converters: Mapping[str, Callable[[Any], Any]], allow_empty: bool
) -> Iterator[Any]:
    lines = enumerate(text, start=1)
    first: tuple[int, str] | None = None
    for number, line in lines:
        if line.strip():
            first = (number, line)
            break
    if first is None and not allow_empty:
        raise RowDataError("file is empty", source=source)
    yield _READY
    if first is None:
        return
    for number, line in _chain_first(first, lines):
        stripped = line.strip()
        if not stripped:
            continue
        if _undecodable(stripped):
            reason = _undecodable_reason(stripped, "UTF-8")
            yield Record(number, None, _bad(reason, source, number), _cap(line.rstrip("\r\n")))
            continue
        try:
            value = json.loads(stripped)
        except ValueError as error:
            reason = f"not valid JSON: {error}"
            yield Record(number, None, _bad(reason, source, number), _cap(line.rstrip("\r\n")))
            continue
        if not isinstance(value, dict):
            reason = f"expected a JSON object, got {_kind(value)}"
            yield Record(number, None, _bad(reason, source, number), _cap(line.rstrip("\r\n")))
            continue
        typed = _typed(value, converters, source, number)
        if isinstance(typed, RowDataError):
            yield Record(number, value, typed, _cap(line.rstrip("\r\n")))
        else:
            yield Record(number, typed)


def _chain_first(first: tuple[int, str], rest: Iterator[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    yield first
    yield from rest


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return "a number"
    return "an object"


# --- JSON arrays -----------------------------------------------------------------------------

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_PARTIAL_TOKEN = re.compile(r"[-+.0-9A-Za-z\\]{0,12}\s*")
#: How close to the end of the buffer a decoding error may be and still mean "read more".
_TAIL_SLACK = 16
_DECODER = json.JSONDecoder()


class _JsonArrayParser:
    """Parse ``[ {...}, {...} ]`` incrementally with ``raw_decode`` over a growing text buffer."""

    def __init__(
        self, text: TextIO, source: str, converters: Mapping[str, Callable[[Any], Any]], allow_empty: bool
    ) -> None:
        self._text = text
        self._source = source
        self._converters = converters
        self._allow_empty = allow_empty
        self._buf = ""
        self._pos = 0
        self._eof = False
        self._line = 1
        self._counted = 0

    def _read_more(self) -> bool:
        if self._eof:
            return False
        if self._pos:
            self._line += self._buf.count("\n", self._counted, self._pos)
            self._buf = self._buf[self._pos :]
            self._pos = 0
            self._counted = 0
        chunk = self._text.read(max(JSON_CHUNK_CHARS, len(self._buf)))
        if not chunk:
            self._eof = True
            return False
        if _undecodable(chunk):
            self._buf += chunk
            match = _UNDECODABLE.search(self._buf, len(self._buf) - len(chunk))
            index = match.start() if match else len(self._buf)
            raise RowDataError(
                _undecodable_reason(self._buf[index:], "UTF-8"),
                source=self._source,
                line=self._line_at(index),
            )
        self._buf += chunk
        return True

    def _line_at(self, index: int) -> int:
        self._line += self._buf.count("\n", self._counted, index)
        self._counted = index
        return self._line

    def _peek(self) -> str:
        """Skip whitespace and return the next character, ``""`` at the end of the file."""
        while True:
            match = _WHITESPACE.match(self._buf, self._pos)
            self._pos = match.end() if match else self._pos
            if self._pos < len(self._buf):
                return self._buf[self._pos]
            if not self._read_more():
                return ""

    def _truncated(self, inside_element: bool = False) -> RowDataError:
        where = "inside an element, " if inside_element else ""
        return RowDataError(
            f"the JSON document is truncated: it ends {where}before the array is closed",
            source=self._source,
            line=self._line_at(len(self._buf)),
        )

    def _invalid(self, reason: str, index: int) -> RowDataError:
        return RowDataError(f"invalid JSON: {reason}", source=self._source, line=self._line_at(index))

    def _decode(self) -> tuple[Any, int, int]:
        """Decode the value at the current position; return it with its start and end index."""
        while True:
            start = self._pos
            try:
                value, end = _DECODER.raw_decode(self._buf, start)
            except json.JSONDecodeError as error:
                unterminated = error.msg.startswith("Unterminated string")
                near_end = error.pos >= len(self._buf) - _TAIL_SLACK
                if (unterminated or near_end) and not self._eof:
                    # Read on and decode again (at the end of the file, that gives the final error
                    # with positions in the current, possibly compacted, buffer).
                    self._read_more()
                    continue
                tail = self._buf[error.pos :]
                if unterminated or _PARTIAL_TOKEN.fullmatch(tail):
                    raise self._truncated(inside_element=True) from None
                raise self._invalid(error.msg, error.pos) from None
            if end == len(self._buf) and self._read_more():
                continue
            return value, start, end

    def parse(self) -> Iterator[Any]:
        source = self._source
        first = self._peek()
        if not first:
            if not self._allow_empty:
                raise RowDataError("file is empty", source=source)
            yield _READY
            return
        if first != "[":
            found = "an object" if first == "{" else "a single JSON value"
            raise RowDataError(
                f"expected a JSON array of objects, found {found} (for one object per line, use JSON Lines)",
                source=source,
                line=self._line_at(self._pos),
            )
        self._pos += 1
        yield _READY
        converters = self._converters
        char = self._peek()
        if char == "]":
            self._pos += 1
            self._expect_end()
            return
        while True:
            if not char:
                raise self._truncated()
            line = self._line_at(self._pos)
            value, start, end = self._decode()
            self._pos = end
            if isinstance(value, dict):
                typed = _typed(value, converters, source, line)
                if isinstance(typed, RowDataError):
                    yield Record(line, value, typed, _cap(self._buf[start:end]))
                else:
                    yield Record(line, typed)
            else:
                reason = f"expected a JSON object, got {_kind(value)}"
                yield Record(line, None, _bad(reason, source, line), _cap(self._buf[start:end]))
            char = self._peek()
            if char == ",":
                self._pos += 1
                char = self._peek()
                if char == "]":
                    raise self._invalid("a comma before ']' (trailing commas are not JSON)", self._pos)
                continue
            if char == "]":
                self._pos += 1
                self._expect_end()
                return
            if not char:
                raise self._truncated()
            raise self._invalid("expected ',' or ']' after an element", self._pos)

    def _expect_end(self) -> None:
        if self._peek():
            raise self._invalid("extra data after the array", self._pos)


# --- rows given inline -----------------------------------------------------------------------


def iter_inline_rows(
    rows: Iterable[Mapping[str, Any]], *, types: Mapping[str, TypeSpec] | None = None, source: str = "rows"
) -> Iterator[Record]:
    """
    Return ``Record`` objects for rows given in memory (for example pulled from XCom).

    ``line`` is the row's 1-based position. Values keep their types unless declared in ``types``;
    an item that is not a mapping is a bad row. ``types`` is checked before the first row is read.
    """
    declared = normalize_types(types)
    converters = {column: value_converter(kind) for column, kind in declared.items()}
    if isinstance(rows, str | bytes | Mapping):
        raise TypeError(f"rows must be an iterable of mappings, not {type(rows).__name__}")
    return _inline(rows, converters, source)


def _inline(
    rows: Iterable[Any], converters: Mapping[str, Callable[[Any], Any]], source: str
) -> Iterator[Record]:
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, Mapping):
            reason = f"expected a mapping of column names to values, got {type(row).__name__}"
            yield Record(number, None, _bad(reason, source, number), _cap(repr(row)))
            continue
        data = dict(row)
        typed = _typed(data, converters, source, number)
        if isinstance(typed, RowDataError):
            yield Record(number, data, typed)
        else:
            yield Record(number, typed)
