"""
Streaming row readers: CSV, JSON Lines and JSON arrays, from any ``ObjectStoragePath``.

``read_records`` yields one ``Record`` per row, in order, holding at most one block of rows (CSV,
see ``rows._csv_reader``) or one row (JSON) and a read buffer in memory. Two kinds of problems are told apart:

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
import gzip
import io
import itertools
import math
import os
import zlib
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any, BinaryIO, NoReturn, TextIO

from airflow.sdk import ObjectStoragePath

from airflow_provider_cloud.exceptions import RowDataError
from airflow_provider_cloud.rows._csv_reader import CsvParser
from airflow_provider_cloud.rows._json_readers import JsonArrayParser, parse_json_lines
from airflow_provider_cloud.rows._parquet_read import ParquetRows
from airflow_provider_cloud.rows._records import (
    MAX_RAW_CHARS,
    READY,
    Block,
    GoodRows,
    Record,
    apply_types,
    bad,
    cap,
    encoding_name,
)
from airflow_provider_cloud.rows.convert import TypeSpec, normalize_types, value_converter
from airflow_provider_cloud.rows.formats import CsvOptions, RowFormat, csv_options_for, detect_format
from airflow_provider_cloud.rows.paths import as_storage_path, open_for_read
from airflow_provider_cloud.rows.writers import encode_json

__all__ = ["MAX_RAW_CHARS", "Block", "GoodRows", "Record", "RecordReader", "iter_inline_rows", "read_records"]

#: JSON records handed out together (a JSON row can be large, so fewer than a CSV block's).
JSON_BLOCK_ROWS = 128


class RecordReader(Iterator[Record]):
    """
    An iterator of ``Record`` over one open file; close it (or use ``with``) to release the file.

    ``blocks()`` hands out the rows a block at a time instead (a few hundred), sparing the caller a
    Python step per row: good rows as ``GoodRows``, or a list of records where some are bad. ``columns`` is the CSV header or the Parquet schema's names
    (``None`` for JSON formats, where every object has its own keys). ``share_read()`` tells how much of
    the file has been read (of a Parquet file: its rows), for progress lines.
    """

    def __init__(
        self,
        source: str,
        format: RowFormat,
        blocks: Iterator[Any],
        stack: contextlib.ExitStack,
        encoding: str,
        *,
        share_read: Callable[[], float | None] | None = None,
    ) -> None:
        self.source = source
        self.format = format
        self.columns: tuple[str, ...] | None = None
        self._blocks = blocks
        self._block: Iterator[Record] = iter(())
        self._stack = stack
        self._encoding = encoding
        self._last_line = 0
        self._share = share_read or _unknown
        self._exhausted = False
        try:
            first = next(blocks)
        except BaseException as error:
            self._close_and_raise(error)
        if first is not READY:
            self.close()
            raise RuntimeError("a row parser must announce it is ready first")

    def _close_and_raise(self, error: BaseException) -> NoReturn:
        """Close the file and raise ``error``, as a ``RowDataError`` where it is a decoding failure."""
        self.close()
        translated = self._translate(error)
        if translated is error:
            raise error
        raise translated from error

    def _translate(self, error: BaseException) -> BaseException:
        """Return a ``RowDataError`` for a decoding or decompression failure, else ``error`` itself."""
        if isinstance(error, UnicodeError):  # a decoding failure, or a UTF-16 file without its BOM
            after = f" (after line {self._last_line})" if self._last_line else ""
            reason = error.reason if isinstance(error, UnicodeDecodeError) else str(error)
            return RowDataError(
                f"the file is not valid {encoding_name(self._encoding)} text{after}: {reason}",
                source=self.source,
            )
        if isinstance(error, gzip.BadGzipFile | zlib.error):
            return RowDataError(f"not valid gzip data: {error}", source=self.source)
        if isinstance(error, EOFError):
            return RowDataError("the gzip data is truncated (the file was cut short)", source=self.source)
        return error

    def share_read(self) -> float | None:
        """Return the share of the file's bytes read so far (0 to 1), ``None`` when the size is unknown."""
        return 1.0 if self._exhausted else self._share()

    def __iter__(self) -> RecordReader:
        return self

    def __next__(self) -> Record:
        record = next(self._block, None)
        if record is None:
            block = self._next_block()
            self._block = iter(block.records() if isinstance(block, GoodRows) else block)
            record = next(self._block)
        return record

    def blocks(self) -> Iterator[Block]:
        """Yield the rows not read yet, in order, in blocks: ``GoodRows``, or lists of records (none empty)."""
        rest = list(self._block)
        if rest:
            yield rest
        while True:
            try:
                block = self._next_block()
            except StopIteration:
                return
            yield block

    def _next_block(self) -> Block:
        try:
            block: Block = next(self._blocks)
        except StopIteration:
            self._exhausted = True
            self.close()
            raise
        except BaseException as error:
            self._close_and_raise(error)
        self._last_line = block.lines[-1] if isinstance(block, GoodRows) else block[-1].line
        return block

    def close(self) -> None:
        """Stop reading and close the file; records read ahead are dropped."""
        self._block = iter(())
        close = getattr(self._blocks, "close", None)
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
    text_columns: Collection[str] = (),
) -> RecordReader:
    """
    Open ``source`` and return a reader of its rows as ``Record`` objects.

    ``format`` is ``csv``, ``tsv``, ``jsonl``, ``json`` or ``parquet``, or from the file name (``.gz`` is
    decompressed). Parquet (the ``parquet`` extra) is read a record batch at a time, its column types
    mapped to row values (``rows._parquet_read``), and ``columns`` is its schema's. ``types`` maps columns to declared types and ``detect_types`` turns type
    detection on for the other CSV columns (see ``rows.convert``); JSON values keep their JSON
    types unless declared. For CSV, every column named in ``types`` must be in the header, and
    ``text_columns`` are read as text unless declared (columns a data set stores as text, whose values
    detection would change).

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
            parser = CsvParser(name, options, declared, detect_types, allow_empty, frozenset(text_columns))
            blocks = parser.parse(text)
            reader = RecordReader(name, fmt, blocks, stack, encoding, share_read=_share_of(path, binary))
            reader.columns = parser.columns
            return reader
        if fmt == "parquet":
            converters = {column: value_converter(kind) for column, kind in declared.items()}
            rows = ParquetRows(binary, name, converters, allow_empty, encode_json)
            reader = RecordReader(name, fmt, rows.blocks(), stack, "Parquet", share_read=rows.share_read)
            reader.columns = rows.columns
            return reader
        text = _text_stream(binary, "utf-8-sig", newline=None, stack=stack)
        converters = {column: value_converter(kind) for column, kind in declared.items()}
        if fmt == "jsonl":
            records = parse_json_lines(text, name, converters, allow_empty)
        else:
            records = JsonArrayParser(text, name, converters, allow_empty).parse()
        blocks = _in_blocks(records, JSON_BLOCK_ROWS)
        return RecordReader(name, fmt, blocks, stack, "UTF-8", share_read=_share_of(path, binary))
    except BaseException:
        stack.close()
        raise


def _in_blocks(records: Iterator[Any], size: int) -> Iterator[Any]:
    """
    Yield what a row parser yields first (``READY``), then its records in lists of up to ``size``.

    When the parser fails (a file cut short, say), the records before the failure are yielded first.
    """
    yield next(records)
    while True:
        block: list[Record] = []
        try:
            block.extend(itertools.islice(records, size))  # keeps what it took before a failure
        except BaseException:
            if block:
                yield block
            raise
        if not block:
            return
        yield block


def _unknown() -> float | None:
    return None


def _share_of(path: ObjectStoragePath, binary: BinaryIO) -> Callable[[], float | None]:
    """
    Return a function telling the share of the file's bytes read so far.

    The position is that of the stored bytes (compressed ones for ``.gz``); the size is looked up the
    first time it is asked for (a stat, or one metadata request on object storage). Reading runs a
    little ahead of the rows handed out, by a read chunk at most.
    """
    stored = binary.fileobj if isinstance(binary, gzip.GzipFile) else binary
    size: list[int | None] = []

    def share() -> float | None:
        try:
            if not size:
                size.append(int(path.fs.size(path.path)))
            total = size[0]
            return stored.tell() / total if total else None
        except Exception:  # a progress line must never fail the import: the share is then unknown
            if not size:
                size.append(None)
            return None

    return share


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
            yield Record(number, None, bad(reason, source, number), cap(repr(row)))
            continue
        data = dict(row)
        typed = apply_types(data, converters, source, number)
        if isinstance(typed, RowDataError):
            yield Record(number, data, typed)
            continue
        column = next((c for c, v in typed.items() if isinstance(v, float) and not math.isfinite(v)), None)
        if column is not None:
            reason = f"{typed[column]} is not a number JSON can carry (no NaN or infinity): give None or text"
            yield Record(number, data, bad(reason, source, number, column))
        else:
            yield Record(number, typed)
