"""
JSON rows: JSON Lines read line by line, and JSON arrays decoded element by element.

A JSON array is parsed incrementally with ``raw_decode`` over a text buffer that grows by
``JSON_CHUNK_CHARS`` at a time, so one element at a time is held whatever the file's size.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TextIO

from airflow_provider_cloud.exceptions import RowDataError
from airflow_provider_cloud.rows._records import (
    READY,
    UNDECODABLE,
    Record,
    apply_types,
    bad,
    cap,
    undecodable,
    undecodable_reason,
)

#: Characters read at a time from a JSON array.
JSON_CHUNK_CHARS = 65_536


class _NotFinite(ValueError):
    """``NaN``, ``Infinity`` or ``-Infinity``: Python's JSON reads them, JSON itself has no such numbers."""


class _Constant:
    """Where a ``NaN`` or ``Infinity`` stood, in a value decoded again to find its column."""

    def __init__(self, name: str) -> None:
        self.name = name


def _refuse(name: str) -> Any:
    raise _NotFinite(name)


#: Decoders that refuse ``NaN`` and ``Infinity`` (the service would, naming no file), and that mark them.
_LOADS = json.JSONDecoder(parse_constant=_refuse).decode
_DECODER = json.JSONDecoder(parse_constant=_refuse)
_MARKING = json.JSONDecoder(parse_constant=_Constant)


def _constant_in(value: Any) -> _Constant | None:
    if isinstance(value, _Constant):
        return value
    inner = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return next((found for item in inner if (found := _constant_in(item)) is not None), None)


def not_finite(value: Any, source: str, line: int) -> RowDataError:
    """Return the error for a decoded row (``_MARKING``) holding ``NaN`` or ``Infinity``, naming its column."""
    column, found = None, _constant_in(value)
    if isinstance(value, dict):
        column = next((key for key, item in value.items() if _constant_in(item) is not None), None)
    name = found.name if found is not None else "NaN"
    reason = f"{name} is not a JSON number (JSON has no NaN or Infinity): write null, or the value as text"
    return bad(reason, source, line, column)


def parse_json_lines(
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
    yield READY
    if first is None:
        return
    for number, line in _chain_first(first, lines):
        stripped = line.strip()
        if not stripped:
            continue
        if undecodable(stripped):
            reason = undecodable_reason(stripped, "UTF-8")
            yield Record(number, None, bad(reason, source, number), cap(line.rstrip("\r\n")))
            continue
        try:
            value = _LOADS(stripped)
        except _NotFinite:
            error = not_finite(_MARKING.decode(stripped), source, number)
            yield Record(number, None, error, cap(line.rstrip("\r\n")))
            continue
        except ValueError as error:
            reason = f"not valid JSON: {error}"
            yield Record(number, None, bad(reason, source, number), cap(line.rstrip("\r\n")))
            continue
        if not isinstance(value, dict):
            reason = f"expected a JSON object, got {_kind(value)}"
            yield Record(number, None, bad(reason, source, number), cap(line.rstrip("\r\n")))
            continue
        typed = apply_types(value, converters, source, number)
        if isinstance(typed, RowDataError):
            yield Record(number, value, typed, cap(line.rstrip("\r\n")))
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


class JsonArrayParser:
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
        if undecodable(chunk):
            self._buf += chunk
            match = UNDECODABLE.search(self._buf, len(self._buf) - len(chunk))
            index = match.start() if match else len(self._buf)
            raise RowDataError(
                undecodable_reason(self._buf[index:], "UTF-8"),
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

    def _decode(self, decoder: json.JSONDecoder = _DECODER) -> tuple[Any, int, int]:
        """Decode the value at the current position; return it with its start and end index."""
        while True:
            start = self._pos
            try:
                value, end = decoder.raw_decode(self._buf, start)
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
            yield READY
            return
        if first != "[":
            found = "an object" if first == "{" else "a single JSON value"
            raise RowDataError(
                f"expected a JSON array of objects, found {found} (for one object per line, use JSON Lines)",
                source=source,
                line=self._line_at(self._pos),
            )
        self._pos += 1
        yield READY
        char = self._peek()
        if char == "]":
            self._pos += 1
            self._expect_end()
            return
        while True:
            if not char:
                raise self._truncated()
            line = self._line_at(self._pos)
            yield self._element(line)
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

    def _element(self, line: int) -> Record:
        """Decode the array element at the current position (starting on ``line``) into a record."""
        source = self._source
        try:
            value, start, end = self._decode()
        except _NotFinite:
            value, start, end = self._decode(_MARKING)
            self._pos = end
            return Record(line, None, not_finite(value, source, line), cap(self._buf[start:end]))
        self._pos = end
        if not isinstance(value, dict):
            reason = f"expected a JSON object, got {_kind(value)}"
            return Record(line, None, bad(reason, source, line), cap(self._buf[start:end]))
        typed = apply_types(value, self._converters, source, line)
        if isinstance(typed, RowDataError):
            return Record(line, value, typed, cap(self._buf[start:end]))
        return Record(line, typed)

    def _expect_end(self) -> None:
        if self._peek():
            raise self._invalid("extra data after the array", self._pos)
