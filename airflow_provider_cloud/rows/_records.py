"""The ``Record`` every row reader yields, and the helpers the readers share for bad rows."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from airflow_provider_cloud.exceptions import RowDataError
from airflow_provider_cloud.rows.convert import ConversionError

#: The most text of one bad row kept in ``Record.raw`` (a runaway quoted field can be huge).
MAX_RAW_CHARS = 65_536

#: What a row parser yields first, once the file is open and its start (a CSV header) is checked.
READY = object()

#: Lone surrogates: what ``surrogateescape`` decoding makes of bytes that are not valid text.
UNDECODABLE = re.compile("[\udc80-\udcff]")


class Record(NamedTuple):
    """
    One row read from a source (a named tuple: cheap to make, as a reader makes one per row).

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


#: Above this many columns, rows are made with ``dict(zip(...))`` rather than generated code.
_MAX_GENERATED_COLUMNS = 250


def row_maker(columns: Sequence[str]) -> Callable[..., dict[str, Any]]:
    """
    Return a function making a row from one value per column, given positionally, in column order.

    The function is generated: one dict display is about twice as fast as ``dict(zip(columns, values))``.
    Column names are passed to it as arguments, never written into its code; they must be distinct.
    """
    count = len(columns)
    if not 0 < count <= _MAX_GENERATED_COLUMNS:
        names = tuple(columns)
        return lambda *values: dict(zip(names, values))
    keys = ", ".join(f"k{i}" for i in range(count))
    values = ", ".join(f"v{i}" for i in range(count))
    items = ", ".join(f"k{i}: v{i}" for i in range(count))
    namespace: dict[str, Any] = {}
    exec(f"def make({keys}):\n    return lambda {values}: {{{items}}}", namespace)
    maker: Callable[..., Callable[..., dict[str, Any]]] = namespace["make"]
    return maker(*columns)


class GoodRows:
    """
    A block of good rows as a reader hands it out: the rows, and the line where each starts.

    Cheaper than a ``Record`` per row (no object per row, nothing more for the garbage collector to
    follow); ``records()`` makes the records when they are wanted.
    """

    __slots__ = ("lines", "rows")

    def __init__(self, lines: Sequence[int], rows: list[dict[str, Any]]) -> None:
        self.lines = lines
        self.rows = rows

    def records(self) -> list[Record]:
        """Return a good ``Record`` per row."""
        return good_records(self.lines, self.rows)


#: What a reader hands out at a time: good rows, or records of which some may be bad (never empty).
Block = GoodRows | list[Record]


def good_records(lines: Iterable[int], rows: Iterable[dict[str, Any]]) -> list[Record]:
    """Return a ``Record`` for each pair of a line and a good row, made without a Python call per row."""
    return list(
        map(
            _new_tuple,
            itertools.repeat(Record),
            zip(lines, rows, itertools.repeat(None), itertools.repeat(None)),
        )
    )


_new_tuple = tuple.__new__


def bad(reason: str, source: str, line: int, column: str | None = None) -> RowDataError:
    return RowDataError(reason, source=source, line=line, column=column)


def cap(raw: str) -> str:
    """Return at most ``MAX_RAW_CHARS`` of a row's text, undecodable bytes shown as backslash escapes."""
    raw = raw if len(raw) <= MAX_RAW_CHARS else raw[:MAX_RAW_CHARS]
    if not raw.isascii() and UNDECODABLE.search(raw):
        raw = raw.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return raw


def undecodable(text: str) -> bool:
    """Return whether ``text`` holds bytes that were not valid in its encoding."""
    return not text.isascii() and UNDECODABLE.search(text) is not None


def encoding_name(encoding: str) -> str:
    return "UTF-8" if encoding.lower().replace("_", "-") in ("utf-8-sig", "utf-8", "utf8") else encoding


def undecodable_reason(text: str, encoding: str) -> str:
    match = UNDECODABLE.search(text)
    byte = f" (byte 0x{ord(match.group()) - 0xDC00:02x})" if match else ""
    return f"not valid {encoding_name(encoding)} text{byte}; pass the file's encoding"


def apply_types(
    data: dict[str, Any], converters: Mapping[str, Callable[[Any], Any]], source: str, line: int
) -> RowDataError | dict[str, Any]:
    """Return ``data`` with declared types applied (a new dict), or the error for the first bad column."""
    if not converters:
        return data
    result = dict(data)
    for column, convert in converters.items():
        if column in result:
            try:
                result[column] = convert(result[column])
            except ConversionError as error:
                return bad(error.reason, source, line, column)
    return result
