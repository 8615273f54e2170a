"""
Inserts whose answer was lost: was the row stored? The check the HTTP core runs (``reconcile=``).

An insert is one POST a row and is not safe to send twice. When its answer is lost (no answer, or a 5xx),
the core calls :meth:`LostInserts.check`, which reads the data set once (one GET, paced like every request)
and says whether the row is there: its stored row stands for the answer (the insert counts as done), or
``None`` (the core sends it again). When that cannot be told, the check raises and the core sends nothing
again: :meth:`LostInserts.insert` then fails with a :class:`ConflictError` saying the write is in doubt, and why.

- With a key the service stores (data points), the read replaces the writer's key map, so it stays current,
  and the row with this key decides: there with the values sent, done; absent, not stored; there with
  other values, in doubt (someone else's row, or this one changed since).
- Without one (mode ``insert`` without ``key``, or keyed by the row id, which the service assigns), a row
  cannot be told from an equal one. Row ids are integers the service numbers upward and does not reuse, so
  a row above the newest id this write knew of (from its read before the first write, or from the answers
  of its inserts) was created since the write began. An equal such row that no answer has claimed is this
  insert: done. None: not stored, so sending again is safe. That is why ``write_rows`` reads the rows
  before its first insert even without a key (one GET a write). A lone ``insert_row`` reads nothing
  before: there sending again is safe only when no row at all is equal; when some are, it is in doubt.

Columns that the access conditions set on insert are left out of every comparison (the service stores the
condition's value, not the one sent).

Several inserts in flight (a window, :mod:`.writer`): a check must neither take one stored row for two
inserts nor an insert still in flight for the lost one. With a key, rows of one key are never in flight
together and a check looks at its own key only; its read renews only the keys the write has not sent to
(:mod:`.keymap`). Without one, the writer never has two inserts in flight that one check could take for
each other (:meth:`LostInserts.confusable`: the rows agree on every column both send), so the equal rows a
check finds come from the lost insert, or from another writer as above, never from this write's others;
each insert also keeps the newest id known when it was sent (a later insert's answer says nothing about
it), and a check claims the row it takes under a lock, so no two checks take one row.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import Any

from airflow_provider_cloud.exceptions import CloudApiError, ConflictError
from airflow_provider_cloud.hooks.cloudtables.keymap import KeyMap
from airflow_provider_cloud.hooks.cloudtables.rowcalls import RowCalls
from airflow_provider_cloud.hooks.cloudtables.wire import SERVICE
from airflow_provider_cloud.hooks.cloudtables.writes import PreparedRow, WritePlan

#: Sends API fields as a new row with a reconcile check for the core; returns the row stored.
SendInsert = Callable[[Mapping[str, Any], Callable[[], Any]], dict[str, Any]]


def _row_id(raw: Mapping[str, Any]) -> int | None:
    value = raw.get("id")
    if isinstance(value, bool):
        return None
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def set_by_conditions(conditions: Iterable[Mapping[str, Any]]) -> frozenset[str]:
    """Return the ids of the data points whose value access conditions set on insert (``set`` is true by default)."""
    return frozenset(
        str(c.get("id")) for c in conditions if str(c.get("set", True)).lower() not in ("false", "0")
    )


class LostInserts:
    """
    Send inserts with a check for lost answers, and remember what this write created.

    :param plan: the write's plan (schema, key, source).
    :param keys: the writer's key map, renewed by each check's read (:meth:`.KeyMap.renew`).
    :param read: one GET of the data set's rows (``dp-N`` keys).
    :param send: the insert call, given the fields and the check.
    :param skip: data point ids whose stored value the conditions decide.
    """

    def __init__(
        self,
        plan: WritePlan,
        keys: KeyMap,
        *,
        read: Callable[[], list[dict[str, Any]]],
        send: SendInsert,
        skip: frozenset[str] = frozenset(),
    ) -> None:
        self.plan = plan
        self.keys = keys
        self._read = read
        self._send = send
        self._skip = skip
        self._lock = threading.Lock()
        self._newest: int | None = None  # the highest row id known so far
        self._claimed: set[int] = set()  # ids of the rows this write's answers (or checks) stand for

    @classmethod
    def on(cls, calls: RowCalls, plan: WritePlan, keys: KeyMap) -> LostInserts:
        """Return the checked inserts of a write through ``calls`` (its conditions' values not compared)."""
        skip = set_by_conditions(calls.conditions)
        return cls(plan, keys, read=calls.rows, send=calls.insert, skip=skip)

    @property
    def newest(self) -> int | None:
        """Return the highest row id known (``None`` before the read before the first write)."""
        return self._newest

    def read_before(self) -> list[dict[str, Any]]:
        """Read the rows before the first write; their highest id is where rows created since begin."""
        rows = self._read()
        ids = [i for i in map(_row_id, rows) if i is not None]
        with self._lock:
            self._newest = max(ids, default=0)
        return rows

    def confusable(self, one: PreparedRow, other: PreparedRow) -> bool:
        """Tell whether a check could take the stored row of one for the other: no column both send differs."""
        common = {column_id: value for column_id, value in one.fields.items() if column_id in other.fields}
        return not self.plan.differing(common, other.fields, self._skip)

    def insert(self, row: PreparedRow) -> dict[str, Any]:
        """Insert a row; a lost answer is checked (:meth:`check`), a write in doubt raises :class:`ConflictError`."""
        doubts: list[ConflictError] = []
        check = partial(self.check, row, newest=self._newest, doubts=doubts)
        try:
            stored = self._send(row.fields, check)
        except CloudApiError as lost:
            if not doubts or lost.__cause__ is not doubts[-1]:
                raise
            # the core raised the lost answer from the check: tell it the other way round
            lost.__cause__ = None
            raise doubts[-1] from lost
        self._claim(_row_id(stored))
        return stored

    def _claim(self, row_id: int | None) -> bool:
        """Record a row as this write's; ``False`` when it was already."""
        if row_id is None:
            return True
        with self._lock:
            if row_id in self._claimed:
                return False
            self._claimed.add(row_id)
            self._newest = max(row_id, self._newest or 0)
            return True

    def check(
        self, row: PreparedRow, *, newest: int | None = None, doubts: list[ConflictError] | None = None
    ) -> dict[str, Any] | None:
        """
        Return ``{"data": stored row}`` if the row was stored, ``None`` if not; raise if that cannot be told.

        :param newest: the highest row id known when the insert was sent.
        :param doubts: where the :class:`ConflictError` of a write in doubt is put, for :meth:`insert`.
        """
        rows = self._read()
        plan = self.plan
        if plan.keyed and row.key is not None:
            fresh, _ = plan.index(rows)
            self.keys.renew(fresh)
            found = fresh.get(row.key)
            if found is None:
                return None
            differ = plan.differing(row.fields, found, self._skip)
            if differ:
                names = ", ".join(repr(plan.schema.by_id[i].key) for i in differ)
                why = f"row {found.get('id')} has its key but other values in {names} (changed since, or another writer's row)"
                raise self._in_doubt(row, why, doubts)
            return {"data": found}
        with self._lock:
            claimed = set(self._claimed)
        equal = [
            raw
            for raw in rows
            if _row_id(raw) not in claimed and not plan.differing(row.fields, raw, self._skip)
        ]
        if newest is None:
            if not equal:
                return None
            why = (
                f"{len(equal)} row(s) equal to it were there already, and no insert of this write has "
                "been answered yet to tell which rows are new (give key=... to write by key)"
            )
            raise self._in_doubt(row, why, doubts)
        for raw in sorted(
            (raw for raw in equal if (_row_id(raw) or 0) > newest), key=lambda r: _row_id(r) or 0
        ):
            if self._claim(_row_id(raw)):
                return {"data": raw}
        return None

    def _in_doubt(self, row: PreparedRow, why: str, doubts: list[ConflictError] | None) -> ConflictError:
        doubt = ConflictError(
            f"{self.plan.source}, line {row.line}: the answer to the insert was lost and whether the row "
            f"was stored cannot be told: {why}. The write is in doubt and was not sent again: check data set "
            f"{self.plan.schema.name!r} before running again",
            service=SERVICE,
            retryable=False,
        )
        if doubts is not None:
            doubts.append(doubt)
        return doubt
