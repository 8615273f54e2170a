"""
Which earlier batches a batch must wait for when several writes are in flight (a window over 1).

Two batches in flight at once may land in either order. That is harmless unless they touch the same row or
the same new column, so a batch waits for every earlier batch still in flight that:

- **holds one of its keys**: the later value must land later (rows of one key keep their order). Key values are
  compared loosely, so that two values the server may store as one key are always one here: ``7``, ``7.0``,
  ``True``-as-``1`` and the text ``"7"`` or ``"007"`` are one key (integer affinity turns such text into the
  number), and text is compared without case or surrounding spaces (a ``NOCASE`` or ``RTRIM`` key). Treating
  two keys as one costs a wait, never a wrong order. Integer keys, the usual case, are put in a set as they
  are, in one pass in C; only other values are looked at one by one.
- **may add one of its columns** (``alter``): a column not yet known to be in the table is added by the first
  write that brings it, with the type of that write's values; a later batch must not add it first (with other
  values, say all NULL, it would get another type).

Only batches still in flight are remembered (at most the window's size), so the sets cost memory bounded by
window × batch, and nothing at all when the window is 1 (the pipeline keeps batches in order by itself).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Hashable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from airflow_provider_cloud.hooks.datasette.batches import Batch

#: Text SQLite's integer or real affinity turns into a number (leading and trailing spaces allowed).
_NUMBER_TEXT = re.compile(r"\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*")
_INT = frozenset({int})


def key_value(value: Any) -> Hashable:
    """Return one key value as SQLite would compare it: numeric text as its number, 1.0 as 1, booleans as 0/1."""
    if isinstance(value, str):
        if _NUMBER_TEXT.fullmatch(value):
            number = float(value)
            text = value.strip().lstrip("+")
            if number.is_integer() and re.fullmatch(r"-?\d+", text):
                return int(text)
            return int(number) if number.is_integer() else number
        return value.strip().casefold()
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    try:
        hash(value)
    except TypeError:
        return repr(value)  # a list or an object: stored as JSON text, never equal to a plain key
    return value


def key_set(rows: Sequence[Any], keys: Sequence[str]) -> frozenset[Hashable]:
    """Return the set of the rows' key values (one column: the values; several: tuples of them)."""
    if len(keys) == 1:
        values = list(map(itemgetter(keys[0]), rows))
        if set(map(type, values)) <= _INT:
            return frozenset(values)
        return frozenset(map(key_value, values))
    columns = [list(map(itemgetter(k), rows)) for k in keys]
    return frozenset(tuple(map(key_value, values)) for values in zip(*columns, strict=True))


@dataclass
class _InFlight:
    keys: frozenset[Hashable]
    adds: frozenset[str]
    future: Future[Any]


class WriteOrder:
    """
    Remembers the batches in flight and tells a new batch which of them it must wait for.

    :param keys: the table's key columns (none: batches are never ordered by key).
    :param alter: whether batches may add columns.
    :param known_columns: the table's columns known to exist, read when asked (``None``: unknown, so any column
        of a batch may be new); the sender adds a batch's columns once it succeeded.
    """

    def __init__(self, keys: Sequence[str], *, alter: bool) -> None:
        self.keys = list(keys)
        self.alter = alter
        self._in_flight: list[_InFlight] = []

    def before(
        self, batch: Batch, known_columns: Collection[str] | None
    ) -> tuple[list[Future[Any]], frozenset[Hashable], frozenset[str]]:
        """Return the futures ``batch`` must wait for, and its key set and the columns it may add."""
        self._in_flight = [entry for entry in self._in_flight if not entry.future.done()]
        keys = key_set(batch.rows, self.keys) if self.keys else frozenset()
        adds: frozenset[str] = frozenset()
        if self.alter:
            adds = batch.columns if known_columns is None else batch.columns - set(known_columns)
        after = [
            entry.future
            for entry in self._in_flight
            if (keys and not keys.isdisjoint(entry.keys)) or (adds and not adds.isdisjoint(entry.adds))
        ]
        return after, keys, adds

    def track(self, keys: frozenset[Hashable], adds: frozenset[str], future: Future[Any]) -> None:
        """Remember a batch just submitted, with what :meth:`before` found."""
        if keys or adds:
            self._in_flight.append(_InFlight(keys, adds, future))
