"""
Batch planning for bulk writes: rows grouped by column set, under a row limit and a body-size limit.

Datasette writes NULL into a column that some rows of a batch lack while other rows carry it (an upsert
would wipe values). So rows are grouped by their set of columns: each batch holds rows of one column set.
Order is kept where it matters: when a row's key is already waiting in another group, every waiting group is
sent first, so later writes of the same key always land later.

Because of the grouping, the rows of one batch need not be consecutive in the input: each batch keeps the
1-based input position of every row (``indices``), so errors name the right rows.

A batch is checked when it is encoded, before it is planned to go (so nothing of a bad batch is sent): a
value JSON cannot carry (NaN, an infinity, a lone surrogate), an integer outside SQLite's 64 bits (which
would otherwise fail on the server or be stored as something else), and a row over the body limit are
errors naming the source, the row and the column.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import msgspec

from airflow_provider_cloud.exceptions import RowDataError
from airflow_provider_cloud.rows.batching import RowOrigin

_MAX_GROUPS = 32
_ENVELOPE = 64
_NOTHING: tuple[Batch, ...] = ()  # no batch became full
_INPUT = RowOrigin()  # rows given as they are: the position is the line
#: SQLite's INTEGER range: 64-bit signed.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
#: Nineteen digits in a row: only then may an integer be out of range (floats show at most 17 digits).
#: Found by mapping every digit to 0 and looking for nineteen 0s: ten times as fast as a regular expression.
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_NINETEEN_DIGITS = b"0" * 19


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$base64": True, "encoded": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"cannot write a value of type {type(value).__name__}")


_ENCODER = json.JSONEncoder(default=_default, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
_FAST_ENCODER = msgspec.json.Encoder()
_NONE = type(None)
_PLAIN_VALUES = frozenset({str, int, float, bool, _NONE})


def encode_rows(
    rows: Sequence[Mapping[str, Any]],
    *,
    first_index: int,
    indices: Sequence[int] | None = None,
    columns: frozenset[Any] | None = None,
    origin: RowOrigin = _INPUT,
) -> bytes:
    """
    Encode rows as one compact JSON array, or raise :class:`RowDataError` naming the first bad row and column.

    :param indices: the input position of each row; without it rows are taken as consecutive from
        ``first_index``.
    :param columns: the keys every row has, when known (the rows of one batch share them).
    :param origin: where the rows come from, for the error (its source, and each row's line there).
    """
    listed = rows if isinstance(rows, list) else list(rows)
    fast = _encode_plain(listed, columns)
    if fast is not None:
        return fast
    try:
        return _ENCODER.encode(listed).encode("utf-8")
    except (TypeError, ValueError):
        for offset, row in enumerate(listed):
            try:
                _ENCODER.encode(row).encode("utf-8")  # lone surrogates fail only here
            except (TypeError, ValueError) as exc:
                line = origin.line(indices[offset] if indices else first_index + offset)
                column, reason = _bad_value(row, exc)
                raise RowDataError(reason, source=origin.source, line=line, column=column) from None
        raise


def _bad_value(row: Mapping[str, Any], exc: Exception) -> tuple[str | None, str]:
    """Return which column of a row JSON cannot carry, and why (``None``: the row as a whole)."""
    for name, value in row.items() if isinstance(row, Mapping) else ():
        try:
            _ENCODER.encode(value).encode("utf-8")
        except (TypeError, ValueError) as error:
            if isinstance(value, float | Decimal):
                return str(name), f"the value {value!r} cannot be written: JSON has no NaN or infinities"
            return str(name), f"cannot encode the value as JSON: {error}"
    return None, f"cannot encode the row as JSON: {exc}"


def check_integers(
    rows: Sequence[Mapping[str, Any]], indices: Sequence[int], first_index: int, origin: RowOrigin
) -> None:
    """Raise :class:`RowDataError` naming the first integer SQLite cannot store (beyond 64-bit signed)."""
    for offset, row in enumerate(rows):
        for name, value in row.items():
            if isinstance(value, int) and not isinstance(value, bool) and not INT64_MIN <= value <= INT64_MAX:
                raise RowDataError(
                    f"the integer {value} is beyond SQLite's 64-bit range ({INT64_MIN} to {INT64_MAX}); "
                    "write it as text if it must be kept whole",
                    source=origin.source,
                    line=origin.line(indices[offset] if indices else first_index + offset),
                    column=str(name),
                )


def _encode_plain(rows: list[Any], columns: frozenset[Any] | None = None) -> bytes | None:
    """
    Encode rows with msgspec (several times as fast) when that gives what the json module would.

    That is when every row is a dict with text keys (``columns``, when every row is known to have
    those) and text, number, boolean or NULL values, and no float is NaN or infinite: msgspec would
    write those as ``null`` where the json module refuses them. An infinite or NaN float shows as a
    ``:null`` the rows' NULLs do not account for. Anything else (dates, bytes, decimals, ...) returns
    ``None``, for the json module and ``_default``.
    """
    if set(map(type, rows)) != {dict}:
        return None
    keys = columns if columns is not None else itertools.chain.from_iterable(rows)
    if set(map(type, keys)) - {str}:
        return None
    kinds = set(map(type, itertools.chain.from_iterable(map(dict.values, rows))))
    if not kinds <= _PLAIN_VALUES:
        return None
    try:
        encoded = _FAST_ENCODER.encode(rows)
    except (msgspec.EncodeError, UnicodeEncodeError, TypeError, ValueError, OverflowError):
        return None  # lone surrogates, say: the json module reports the row
    if float in kinds:
        nulls = (
            list(itertools.chain.from_iterable(map(dict.values, rows))).count(None) if _NONE in kinds else 0
        )
        if encoded.count(b":null") != nulls:
            return None
    return encoded


@dataclass
class Batch:
    """
    Rows of one column set, ready to send.

    ``first_index`` is the 1-based input position of the first row and ``indices`` that of every row (rows of
    one batch need not be consecutive); a batch built without ``indices`` holds consecutive rows.
    """

    columns: frozenset[str]
    rows: list[Mapping[str, Any]] = field(default_factory=list)
    first_index: int = 0
    _encoded: bytes | None = None
    indices: list[int] = field(default_factory=list)
    origin: RowOrigin = _INPUT

    @property
    def source(self) -> str:
        return self.origin.source

    def span(self) -> str:
        """Return where the batch's rows are: ``lines 3-102 of <source>``."""
        return self.origin.span(self.first_index, self.last_index)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def last_index(self) -> int:
        """Return the input position of the last row."""
        return self.indices[-1] if self.indices else self.first_index + len(self.rows) - 1

    def encoded(self) -> bytes:
        """Return the rows as one JSON array (encoded once, in one call of the C encoder), checked."""
        if self._encoded is None:
            encoded = encode_rows(
                self.rows,
                first_index=self.first_index,
                indices=self.indices,
                columns=self.columns,
                origin=self.origin,
            )
            if encoded.translate(_DIGITS_TO_ZERO).find(_NINETEEN_DIGITS) >= 0:
                check_integers(self.rows, self.indices, self.first_index, self.origin)
            self._encoded = encoded
        return self._encoded

    def body(self, **flags: Any) -> bytes:
        """Return the JSON body ``{"rows": [...], **flags}``."""
        extra = "".join(f',"{k}":{json.dumps(v)}' for k, v in flags.items())
        return b'{"rows":' + self.encoded() + extra.encode() + b"}"

    def split(self, max_rows: int) -> list[Batch]:
        """Split into batches of at most ``max_rows`` rows."""
        parts = []
        for start in range(0, len(self.rows), max_rows):
            indices = self.indices[start : start + max_rows]
            parts.append(
                Batch(
                    self.columns,
                    self.rows[start : start + max_rows],
                    indices[0] if indices else self.first_index + start,
                    indices=indices,
                    origin=self.origin,
                )
            )
        return parts

    def fit(self, max_bytes: int) -> list[Batch]:
        """Split in halves until every body is under ``max_bytes``; a single row over it is an error."""
        if len(self.encoded()) + _ENVELOPE <= max_bytes:
            return [self]
        if len(self.rows) == 1:
            row = self.rows[0]
            largest = max(row, key=lambda name: len(_ENCODER.encode(row[name])), default=None)
            raise RowDataError(
                f"the row is {len(self.encoded())} bytes of JSON, over the server's body limit of "
                f"{max_bytes} (its largest value is in this column)",
                source=self.origin.source,
                line=self.origin.line(self.first_index),
                column=None if largest is None else str(largest),
            )
        out: list[Batch] = []
        for half in self.split((len(self.rows) + 1) // 2):
            out.extend(half.fit(max_bytes))
        return out


class BatchPlanner:
    """
    Turn a stream of rows into batches under ``max_rows`` rows and ``max_bytes`` bytes of body.

    :param key: the key columns; with them, a row whose key waits in another group flushes every group.
        Keys are only tracked while rows of several column sets wait at once (with one, order is kept).
    :param origin: where the rows come from (a file's URL and each row's line), named by errors about a row.
    """

    def __init__(
        self, *, max_rows: int, max_bytes: int, key: Sequence[str] = (), origin: RowOrigin = _INPUT
    ) -> None:
        if max_rows < 1:
            raise ValueError("max_rows must be at least 1")
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self.key = tuple(key)
        self.origin = origin
        self._groups: dict[frozenset[str], Batch] = {}
        self._waiting_keys: dict[tuple[Any, ...], frozenset[str]] | None = None

    def _key_of(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(row.get(k) for k in self.key)

    def _key_index(self) -> dict[tuple[Any, ...], frozenset[str]]:
        """Return which column set each waiting key is in, built when a second column set appears."""
        if self._waiting_keys is None:
            self._waiting_keys = {
                self._key_of(row): columns for columns, batch in self._groups.items() for row in batch.rows
            }
        return self._waiting_keys

    def add(self, row: Mapping[str, Any], index: int) -> Sequence[Batch]:
        """Add one row (``index`` is its 1-based position); return the batches that became full."""
        columns = frozenset(row)
        groups = self._groups
        group = groups.get(columns)
        if group is not None and len(groups) == 1:  # the common case: one column set, order is kept
            group.rows.append(row)
            group.indices.append(index)
            return self._pop(columns).fit(self.max_bytes) if len(group.rows) >= self.max_rows else _NOTHING
        full: list[Batch] = []
        tracked = bool(self.key) and bool(groups)
        if tracked:
            key_value = self._key_of(row)
            waiting = self._key_index().get(key_value)
            if waiting is not None and waiting != columns:
                full.extend(self.drain())
                group = None
        if group is None:
            if len(groups) >= _MAX_GROUPS:
                full.extend(self.drain())
            group = groups[columns] = Batch(columns, first_index=index, origin=self.origin)
        group.rows.append(row)
        group.indices.append(index)
        if tracked and self._waiting_keys is not None:
            # Registered only now: a drain above forgets the waiting keys, and this row's key must stay
            # known, or a later write of the same key in another column set could overtake it.
            self._waiting_keys[key_value] = columns
        if len(group.rows) >= self.max_rows:
            full.extend(self._pop(columns).fit(self.max_bytes))
        return full

    def add_block(self, rows: Sequence[Mapping[str, Any]], first_index: int) -> list[Batch]:
        """
        Add consecutive rows, the first at position ``first_index``; return the batches that became full.

        The same as adding them one at a time, done a list at a time when every row has the column set
        of the batch waiting (or no batch waits).
        """
        groups = self._groups
        column_sets = set(map(frozenset, rows))
        if len(column_sets) != 1 or len(groups) > 1 or (groups and column_sets != groups.keys()):
            full: list[Batch] = []
            for offset, row in enumerate(rows):
                full.extend(self.add(row, first_index + offset))
            return full
        (columns,) = column_sets
        full = []
        start = 0
        while start < len(rows):
            group = groups.get(columns)
            if group is None:
                group = groups[columns] = Batch(columns, first_index=first_index + start, origin=self.origin)
            room = max(self.max_rows - len(group.rows), 0)  # the limit can drop meanwhile (learned)
            taken = rows[start : start + room]
            group.rows.extend(taken)
            group.indices.extend(range(first_index + start, first_index + start + len(taken)))
            start += len(taken)
            if len(group.rows) >= self.max_rows:
                full.extend(self._pop(columns).fit(self.max_bytes))
        return full

    def _pop(self, columns: frozenset[str]) -> Batch:
        batch = self._groups.pop(columns)
        if self._waiting_keys is not None:
            if len(self._groups) <= 1:
                self._waiting_keys = None
            else:
                for row in batch.rows:
                    key_value = self._key_of(row)
                    if self._waiting_keys.get(key_value) == columns:
                        del self._waiting_keys[key_value]
        return batch

    def drain(self) -> Iterator[Batch]:
        """Yield every waiting batch, oldest first."""
        groups = sorted(self._groups.values(), key=lambda b: b.first_index)
        self._groups.clear()
        self._waiting_keys = None
        for batch in groups:
            yield from batch.fit(self.max_bytes)
