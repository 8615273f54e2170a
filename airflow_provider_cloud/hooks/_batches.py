"""
Batch planning for bulk writes: rows grouped by column set, under a row limit and a body-size limit.

Datasette writes NULL into a column that some rows of a batch lack while other rows carry it (an upsert
would wipe values). So rows are grouped by their set of columns: each batch holds rows of one column set.
Order is kept where it matters: when a row's key is already waiting in another group, every waiting group is
sent first, so later writes of the same key always land later.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from airflow_provider_cloud.exceptions import RowDataError

_MAX_GROUPS = 32


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


def encode_row(row: Mapping[str, Any], *, index: int) -> bytes:
    """Encode one row as compact JSON, or raise :class:`RowDataError` naming the row."""
    try:
        return _ENCODER.encode(row if isinstance(row, dict) else dict(row)).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise RowDataError(f"cannot encode the row as JSON: {exc}", source="rows", line=index) from None


@dataclass
class Batch:
    """Rows of one column set, encoded, ready to send."""

    columns: frozenset[str]
    parts: list[bytes] = field(default_factory=list)
    size: int = 0
    first_index: int = 0
    keys: list[tuple[Any, ...]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.parts)

    def body(self, **flags: Any) -> bytes:
        """Return the JSON body ``{"rows": [...], **flags}`` without decoding the rows again."""
        extra = "".join(f',"{k}":{json.dumps(v)}' for k, v in flags.items())
        return b'{"rows":[' + b",".join(self.parts) + b"]" + extra.encode() + b"}"

    def split(self, max_rows: int) -> list[Batch]:
        """Split into batches of at most ``max_rows`` rows."""
        out = []
        for start in range(0, len(self.parts), max_rows):
            parts = self.parts[start : start + max_rows]
            size = sum(len(p) + 1 for p in parts)
            keys = self.keys[start : start + max_rows]
            out.append(Batch(self.columns, parts, size, self.first_index + start, keys))
        return out


class BatchPlanner:
    """
    Turn a stream of rows into batches under ``max_rows`` rows and ``max_bytes`` bytes of body.

    :param key: the key columns; with them, a row whose key waits in another group flushes every group.
    """

    _ENVELOPE = 64

    def __init__(self, *, max_rows: int, max_bytes: int, key: Sequence[str] = ()) -> None:
        if max_rows < 1:
            raise ValueError("max_rows must be at least 1")
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self.key = tuple(key)
        self._groups: dict[frozenset[str], Batch] = {}
        self._waiting_keys: dict[tuple[Any, ...], frozenset[str]] = {}

    def add(self, row: Mapping[str, Any], index: int) -> Iterator[Batch]:
        """Add one row (``index`` is its 1-based position) and yield the batches that became full."""
        columns = frozenset(row)
        key_value: tuple[Any, ...] = ()
        encoded = encode_row(row, index=index)
        if len(encoded) + self._ENVELOPE > self.max_bytes:
            raise RowDataError(
                f"the row is {len(encoded)} bytes of JSON, over the server's body limit of {self.max_bytes}",
                source="rows",
                line=index,
            )
        if self.key:
            key_value = tuple(row.get(k) for k in self.key)
            waiting = self._waiting_keys.get(key_value)
            if waiting is not None and waiting != columns:
                yield from self.drain()
        group = self._groups.get(columns)
        if group is not None and (
            len(group) >= self.max_rows or group.size + len(encoded) + 1 + self._ENVELOPE > self.max_bytes
        ):
            yield self._pop(columns)
            group = None
        if group is None:
            if len(self._groups) >= _MAX_GROUPS:
                yield from self.drain()
            group = self._groups[columns] = Batch(columns, first_index=index)
        group.parts.append(encoded)
        group.size += len(encoded) + 1
        if self.key:
            group.keys.append(key_value)
            self._waiting_keys[key_value] = columns
        if len(group) >= self.max_rows:
            yield self._pop(columns)

    def _pop(self, columns: frozenset[str]) -> Batch:
        batch = self._groups.pop(columns)
        for key_value in batch.keys:
            if self._waiting_keys.get(key_value) == columns:
                del self._waiting_keys[key_value]
        return batch

    def drain(self) -> Iterator[Batch]:
        """Yield every waiting batch, oldest first."""
        groups = sorted(self._groups.values(), key=lambda b: b.first_index)
        self._groups.clear()
        self._waiting_keys.clear()
        yield from groups
