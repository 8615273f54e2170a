"""
Sending the rows of a write and the ids of a deletion, a window of requests in flight (``hooks.core.Window``).

CloudTables takes one row per request, so a write that keeps one request in flight goes at the pace of the
round trip: at 50 ms, 20 rows a second, whatever the rate limit allows. The pacer (:mod:`.pacing`) decides
when each attempt may start; the window lets several requests wait for it and run side by side, so the rate
limit, not the latency, sets the pace (``CloudTablesHook.default_window`` says how the size was chosen).

Rules, and where they are kept:

- rows of one key keep their order: a later row of a key waits for the earlier one (``after=``), so a key
  ends with its last value and its entry in the key map (:mod:`.keymap`) changes under one row at a time,
  whatever order rows of other keys finish in;
- without a key the service stores, an insert also waits for the inserts in flight that a lost answer's
  check could take for it (:meth:`.LostInserts.confusable`; :mod:`.reconcile` says why);
- results are taken in submission order on the caller's thread (:class:`InOrder`): counts, progress lines
  and their ETA are the caller's alone, and a field error names its row's source, line and column;
- the first failure stops new sends (the window raises it); requests in flight finish, nothing later starts;
  a long pacing wait handed to the caller (``PaceWait``) says how many leading rows are stored (``rows_done``).

What a window changes: the service numbers rows as their inserts arrive, so rows in flight side by side get
ids in arrival order, near the input's but not exactly it (``window=1`` keeps the input's order; an export
that must follow the input orders by a column of it).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from typing import Any, Generic, TypeVar

from airflow_provider_cloud.exceptions import BadRequestError, NotFoundError
from airflow_provider_cloud.hooks.cloudtables.keymap import KeyMap, KeyValue
from airflow_provider_cloud.hooks.cloudtables.reconcile import LostInserts
from airflow_provider_cloud.hooks.cloudtables.rowcalls import RowCalls
from airflow_provider_cloud.hooks.cloudtables.schema import DatasetSchema
from airflow_provider_cloud.hooks.cloudtables.writes import (
    ROW_ID_KEY,
    InsertRow,
    PreparedRow,
    UpdateRow,
    WritePlan,
)
from airflow_provider_cloud.hooks.core import PaceWait, Window
from airflow_provider_cloud.hooks.rowstore import WriteResult
from airflow_provider_cloud.rows.progress import ProgressLogger

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741 - the item a call is for

#: Tells whether two rows must not have inserts in flight together (``None``: any may).
Confusable = Callable[[PreparedRow, PreparedRow], bool]


class InOrder(Generic[T, I]):
    """
    Calls in a window, each for an item; results taken in submission order on the caller's thread.

    After each submit the finished calls at the head are taken (``took(result, item)``); a call slow to
    finish holds the ones behind it, at most a few windows' worth (memory stays bounded), then the caller waits.
    """

    def __init__(self, window: Window[T], took: Callable[[T, I], None]) -> None:
        self._window = window
        self._took = took
        self._most = 4 * window.size + 16
        self.pending: deque[tuple[Future[T], I]] = deque()

    def submit(self, call: Callable[[I], T], item: I, after: Iterable[Future[Any]] = ()) -> Future[T]:
        future = self._window.submit(call, item, after=after)
        self.pending.append((future, item))
        self.take(finished_only=True)
        return future

    def take_stored(self) -> None:
        """Once the window has closed on a failure, take the results at the head of the calls that succeeded."""
        pending = self.pending
        while pending and _succeeded(pending[0][0]):
            future, item = pending.popleft()
            self._took(future.result(), item)

    def take(self, *, finished_only: bool = False) -> None:
        """Take the results at the head: the finished ones only, or all (waiting for each)."""
        pending = self.pending
        while pending and (not finished_only or pending[0][0].done() or len(pending) > self._most):
            result = next(self._window.results())  # the same head: raises its failure, which stays pending
            self._took(result, pending.popleft()[1])


def _succeeded(future: Future[Any]) -> bool:
    return future.done() and not future.cancelled() and future.exception() is None


class RowWriter:
    """
    Send the writes of :class:`~.writes.WritePlan`, ``window`` rows in flight, keeping the key map current.

    :param existing: the key map (stored rows by key, read before the first write).
    :param confusable: for writes without a key the service stores, which rows must not have inserts in
        flight together (:meth:`.LostInserts.confusable`).
    """

    def __init__(
        self,
        plan: WritePlan,
        existing: KeyMap | Mapping[KeyValue, dict[str, Any]],
        *,
        insert: InsertRow,
        update: UpdateRow,
        window: int = 1,
        confusable: Confusable | None = None,
    ) -> None:
        self.plan = plan
        self.keys = existing if isinstance(existing, KeyMap) else KeyMap(existing)
        self._insert = insert
        self._update = update
        self.window = window
        self._confusable = confusable
        self.counts = {"inserted": 0, "updated": 0, "unchanged": 0, "ignored": 0}

    def write_all(self, rows: Iterable[PreparedRow], progress: ProgressLogger) -> WriteResult:
        """Write every row, one progress step each as its result is taken, and return the counts."""
        last: dict[KeyValue, Future[str]] = {}  # the latest row of each key still to be taken

        def took(outcome: str, row: PreparedRow) -> None:
            self.counts[outcome] += 1
            progress.update(1)
            if row.key is not None and (future := last.get(row.key)) is not None and future.done():
                del last[row.key]

        window = Window[str](self.window, name="cloudtables-rows")
        ordered = InOrder(window, took)
        try:
            with window:
                for row in rows:
                    waits = self._waits(row, last, ordered)
                    future = ordered.submit(self.write, row, after=waits)
                    if row.key is not None:
                        last[row.key] = future
                ordered.take()
        except PaceWait:
            ordered.take_stored()  # the caller goes on after every row stored in order, no fewer
            raise
        progress.finish()
        return self.result()

    def _waits(
        self, row: PreparedRow, last: Mapping[KeyValue, Future[str]], ordered: InOrder[str, PreparedRow]
    ) -> list[Future[str]]:
        """Return the rows in flight this one must follow: its key's last row, and inserts it could be taken for."""
        waits = []
        if row.key is not None and (earlier := last.get(row.key)) is not None and not earlier.done():
            waits.append(earlier)
        if self._confusable is not None:
            confusable = self._confusable
            waits += [f for f, other in ordered.pending if not f.done() and confusable(row, other)]
        return waits

    def write(self, row: PreparedRow) -> str:
        """Write one row; return what was done: ``inserted``, ``updated``, ``unchanged`` or ``ignored``."""
        try:
            return self._write(row)
        except BadRequestError as exc:
            refused = self.plan.refused(row, exc)
            if refused is None:
                raise
            raise refused from exc

    def _write(self, row: PreparedRow) -> str:
        plan = self.plan
        current = self.keys.take(row.key) if row.key is not None else None
        if current is None:
            stored = self._insert(row)
            outcome = "inserted"
        elif plan.mode == "insert":
            raise plan.conflict(row)
        elif plan.mode == "ignore":
            return "ignored"
        else:
            changed = plan.changes(row, current)
            if not changed:
                return "unchanged"
            stored = self._update(int(current[ROW_ID_KEY]), changed)
            outcome = "updated"
        if row.key is not None:
            self.keys.put(row.key, stored)  # a repeated key later in the input updates this row
        return outcome

    def result(self) -> WriteResult:
        c = self.counts
        return WriteResult(
            rows=c["inserted"] + c["updated"] + c["unchanged"],
            requests=c["inserted"] + c["updated"],
            inserted=c["inserted"],
            updated=c["updated"],
            unchanged=c["unchanged"],
            ignored=c["ignored"],
        )


def write_rows(
    plan: WritePlan,
    calls: RowCalls,
    rows: Iterable[Mapping[str, Any]],
    *,
    window: int,
    progress: Callable[[int | None], ProgressLogger],
    warn_duplicates: Callable[[int], None],
) -> WriteResult:
    """
    Check the first rows, read the data set (keys, and the newest row id), then send every row.

    :param progress: a progress logger for the total, when the read-ahead saw the end of the rows.
    :param warn_duplicates: told how many stored rows repeat a key (writes go to the first of each).
    """
    ahead = plan.read_ahead(rows)
    keys = KeyMap()
    inserts = LostInserts.on(calls, plan, keys)
    found, duplicates = plan.stored_by_key(ahead.first, inserts.read_before)
    if ahead.first and inserts.newest is None:
        inserts.read_before()  # without a key too: the rows before, to tell this write's own from equal ones
    keys.update(found)
    if duplicates:
        warn_duplicates(duplicates)
    confusable = None if plan.keyed else inserts.confusable
    writer = RowWriter(
        plan, keys, insert=inserts.insert, update=calls.update, window=window, confusable=confusable
    )
    try:
        return writer.write_all(ahead.rows(), progress(ahead.total))
    except PaceWait as wait:  # results are taken in order: the rows counted are the first rows, all stored
        wait.rows_done = sum(writer.counts.values())
        raise


def insert_one(schema: DatasetSchema, calls: RowCalls, fields: dict[str, Any]) -> dict[str, Any]:
    """Insert one row (API fields) and return it as stored: a lone insert, its lost answer checked too."""
    inserts = LostInserts.on(calls, WritePlan(schema, "insert", None), KeyMap())
    return inserts.insert(PreparedRow(1, fields, None))


def delete_each(
    row_ids: Iterable[Any],
    delete: Callable[[int], object],
    progress: ProgressLogger,
    *,
    gone: Callable[[Any], None],
    window: int = 1,
) -> int:
    """Delete rows by id, ``window`` in flight, and return how many were deleted; ``gone`` hears of rows already gone."""
    deleted = 0

    def one(row_id: Any) -> bool:
        try:
            delete(int(row_id))
        except NotFoundError:
            gone(row_id)
            return False
        return True

    def took(done: bool, row_id: Any) -> None:
        nonlocal deleted
        deleted += done
        progress.update(1)

    with Window[bool](window, name="cloudtables-deletes") as pool:
        ordered = InOrder(pool, took)
        for row_id in row_ids:
            ordered.submit(one, row_id)
        ordered.take()
    progress.finish()
    return deleted
