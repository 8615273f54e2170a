"""
The key map of one write: key value → the row stored with that key, shared by the rows of a window.

Rows of one key are written one after another (the writer makes a later row of a key wait for the earlier
one), so each entry changes under one row at a time, whatever order the rows of other keys finish in. What
does come out of order is a lost insert's check (:mod:`.reconcile`): it reads the whole data set while other
rows of the write are in flight, and taken as it is that read would put back an older row of a key this write
has updated since, or drop a key whose insert had not arrived yet (a later row of it would be inserted
twice). So a read renews only the keys this write has sent nothing to (rows other writers added, changed or
deleted meanwhile); a key is marked sent (:meth:`KeyMap.take`) before its row is decided, and from then on
only this write's answers change its entry.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

KeyValue = tuple[str, ...]


class KeyMap:
    """The stored row of each key, thread-safe; which keys this write has sent to."""

    def __init__(self, rows: Mapping[KeyValue, dict[str, Any]] | None = None) -> None:
        self._rows: dict[KeyValue, dict[str, Any]] = dict(rows or {})
        self._sent: set[KeyValue] = set()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._rows)

    def get(self, key: KeyValue) -> dict[str, Any] | None:
        return self._rows.get(key)

    def update(self, rows: Mapping[KeyValue, dict[str, Any]]) -> None:
        """Add the rows read before the first write."""
        with self._lock:
            self._rows.update(rows)

    def take(self, key: KeyValue) -> dict[str, Any] | None:
        """Mark ``key`` as this write's (reads no longer renew it) and return its stored row, if any."""
        with self._lock:
            self._sent.add(key)
            return self._rows.get(key)

    def put(self, key: KeyValue, row: dict[str, Any]) -> None:
        """Record the row an answer (or a check) says is stored with ``key``."""
        with self._lock:
            self._sent.add(key)
            self._rows[key] = row

    def renew(self, fresh: Mapping[KeyValue, dict[str, Any]]) -> None:
        """Take a read of the data set for every key this write has not sent to; keep the others."""
        with self._lock:
            for key in [k for k in self._rows if k not in self._sent and k not in fresh]:
                del self._rows[key]
            self._rows.update((k, row) for k, row in fresh.items() if k not in self._sent)
