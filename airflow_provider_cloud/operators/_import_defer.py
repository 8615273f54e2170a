"""
Paced imports that free their worker while they wait: defer to a time trigger, resume from the checkpoint.

Decisions, and why:

- **Who says a wait is long**: the hook. A paced hook (``hooks.rowstore.PacedRowStore``) raises
  ``PaceWait`` instead of sleeping longer than ``defer_waits_over`` seconds; a request already in flight
  finishes, nothing new is sent, and the write says how many of its leading rows are stored. The operator
  knows no service.
- **What survives the deferral**: the count of rows known stored (the import's checkpoint,
  ``_import_resume``) and the send times still in the rate window (:class:`TaskStateLedger`), both in
  Airflow's task state store, or, for a key that shares its budget, the key's ledger in a Variable
  (``hooks/cloudtables/budget.py``). The resumed part, a new process maybe on another worker, starts where
  the last stopped without overrunning the limit.
- **On by default** (``deferrable=True``), unlike Airflow's ``[operators] default_deferrable`` (false):
  that setting is for operators whose deferral changes what they do; here it only replaces a long sleep,
  and waits of minutes to a quarter of an hour are the normal case of a CloudTables import.
- **When it defers**: only inside a task (a task state store) and only when nothing is lost by stopping:
  before the first write, or during an import that resumes (``why_not_resumable``); others sleep as before.
  The wait is over ``defer_waits_over`` seconds (60 by default): shorter waits cost less asleep than a
  deferral's round trip through the triggerer and the scheduler, and a time trigger that fires before the
  scheduler has seen the worker exit fails the resumed task on Airflow 3.3.2 (apache/airflow#72716).
- **Until when**: until the whole rate window has freed (``PaceHandle.free_at``), not only the next slot:
  every part has fixed costs (the trigger's round trip, the data set's schema and rows read again), and a
  part resumed when one slot frees sends a few rows or none (with 8 requests a window and 3 of them for
  the reads, parts went on deferring without storing a row). Over a window the pace is the same: the
  limit's requests, then the wait.
- **The trigger**: Airflow's own ``DateTimeTrigger``; it only waits, the writes run on the worker.
"""

from __future__ import annotations

import contextlib
import datetime
import time
from collections.abc import Iterator, Mapping
from typing import Any

from airflow.sdk.exceptions import AirflowException

from airflow_provider_cloud.hooks.core import NoPacing, PaceHandle, clean_stamps
from airflow_provider_cloud.hooks.rowstore import PacedRowStore, RowStore
from airflow_provider_cloud.operators._import_resume import CHECKPOINT_KEY

#: Key of the send times of the rate window in the task state store.
PACE_KEY = "import_pace"
#: Key of the deferrals of the running try and when its first part started, in the task state store (not
#: the trigger's kwargs: ``dag.test()`` hands the resumed method the event alone).
DEFERRALS_KEY = "import_deferrals"
#: Waits longer than this many seconds free the worker by default.
DEFAULT_DEFER_WAITS_OVER = 60.0
#: Parts in a row that stored no row, after which a part sleeps through its waits instead of deferring.
STALLS_BEFORE_SLEEPING = 3
#: Seconds a part of a shared key that stored rows waits beyond the window, letting the others go first.
YIELD_SECONDS = 3.0


class TaskStateLedger:
    """The send times of a task's rate window, in its task state store (shared by its parts and tries)."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def load(self) -> list[float]:
        return clean_stamps(self.store.get(PACE_KEY), where=f"task state {PACE_KEY!r}")

    def save(self, stamps: list[float]) -> None:
        self.store.set(PACE_KEY, [round(s, 3) for s in stamps])


class ImportPacing:
    """
    The pacing of one import: its send times kept, its long waits turned into deferrals where that is safe.

    :param wait_over: defer waits longer than this (``None``: never defer).
    :param pool: the task's pool; a connection that shares its rate budget needs its own pool.
    :raises AirflowException: the connection shares its budget through a pool the task is not in.
    """

    def __init__(
        self, hook: RowStore, context: Any, *, wait_over: float | None, pool: str | None, conn_id: str
    ) -> None:
        store = context.get("task_state_store") if isinstance(context, Mapping) else None
        self.store = store
        self.hook = hook if isinstance(hook, PacedRowStore) else None
        wanted = self.hook.budget_pool() if self.hook is not None else None
        self.shared = wanted is not None
        if wanted is not None and pool != wanted:
            raise AirflowException(
                f"connection {conn_id!r} shares its rate budget between tasks through the pool {wanted!r} "
                f"(its rate_budget_pool extra); this task runs in {pool!r}: give it pool={wanted!r}"
            )
        self.wait_over = wait_over if store is not None and self.hook is not None else None
        self.handle: PaceHandle = NoPacing()
        self._last: dict[str, Any] | None = None

    @contextlib.contextmanager
    def block(self) -> Iterator[PaceHandle]:
        """Pace the import's requests from the send times kept; waits over ``wait_over`` raise ``PaceWait``."""
        if self.hook is None:
            yield self.handle
            return
        ledger = TaskStateLedger(self.store) if self.store is not None else None
        with self.hook.paced(ledger) as handle:
            handle.wait_over = self.wait_over
            self.handle = handle
            yield handle

    def cannot_stop(self, why: str | None, log: Any) -> None:
        """Sleep through waits from now on when the writes about to start cannot resume (``why``)."""
        if why is not None and self.handle.wait_over is not None:
            log.info("Waits for the rate limit will be slept through, not deferred: %s", why)
            self.handle.wait_over = None

    def so_far(self, resumed: bool, log: Any) -> tuple[int, float]:
        """
        Return the deferrals of this try so far and when its first part started (epoch seconds).

        After :data:`STALLS_BEFORE_SLEEPING` parts in a row that stored no row (a limit too small for a
        part's reads, or other tasks of a shared key taking every window first), this part sleeps
        through its waits: on the worker, holding its pool slot, so it goes on for certain.
        """
        found = self.store.get(DEFERRALS_KEY) if resumed and self.store is not None else None
        if not isinstance(found, dict) or not isinstance(found.get("deferrals"), int):
            return 0, time.time()
        self._last = found
        if int(found.get("stalls") or 0) >= STALLS_BEFORE_SLEEPING and self.wait_over is not None:
            log.info(
                "No row stored in the last %d parts: this one sleeps through its waits",
                STALLS_BEFORE_SLEEPING,
            )
            self.wait_over = None
        return found["deferrals"], float(found.get("started") or time.time())

    def deferring(self, deferrals: int, started: float) -> float:
        """
        Count a deferral of this try, and whether its part stored rows (read back by :meth:`so_far`).

        Return the seconds to wait beyond the window: :data:`YIELD_SECONDS` for a part of a shared key that
        stored rows, so that a task waiting for the same window resumes first and the tasks take turns
        (they would fire together, and the scheduler would pick the same one each time); else 0.
        """
        if self.store is None:
            return 0.0
        checkpoint = self.store.get(CHECKPOINT_KEY)
        rows = checkpoint.get("rows_stored") if isinstance(checkpoint, dict) else None
        last = self._last or {}
        stalled = rows == last.get("rows") if last else not rows
        stalls = int(last.get("stalls") or 0) + 1 if stalled else 0
        record = {"deferrals": deferrals, "started": started, "rows": rows, "stalls": stalls}
        self.store.set(DEFERRALS_KEY, record)
        return YIELD_SECONDS if self.shared and not stalled else 0.0

    def finished(self) -> None:
        """Forget the send times and deferrals kept for this task: it is done."""
        if self.store is not None and self.hook is not None:
            for key in (PACE_KEY, DEFERRALS_KEY):
                with contextlib.suppress(Exception):
                    self.store.delete(key)


def time_trigger(moment: float) -> Any:
    """Return Airflow's time trigger for a moment (epoch seconds)."""
    from airflow.providers.standard.triggers.temporal import DateTimeTrigger

    return DateTimeTrigger(moment=datetime.datetime.fromtimestamp(moment, tz=datetime.UTC))


def log_summary(log: Any, summary: dict[str, Any], *, seconds: float, deferrals: int) -> dict[str, Any]:
    """Log an import's outcome; return its summary with the time it took and its deferrals."""
    summary = {**summary, "seconds": round(seconds, 3), "deferrals": deferrals}
    resumed = summary["resumed_after"]
    earlier = f"before {deferrals} deferral(s)" if deferrals else "by an earlier try"
    resumed_note = f" (resumed after row {resumed:,}, stored {earlier})" if resumed else ""
    log.info(
        "Imported %d of %d rows into %s (%d rejected) in %.1f s%s",
        *(summary["rows_written"], summary["rows_read"], summary["dataset"], summary["rows_rejected"]),
        *(summary["seconds"], resumed_note),
    )
    return summary


def check_defer_waits_over(seconds: float | None) -> float | None:
    """Return the threshold if it is a positive number of seconds (or ``None``), else raise ``ValueError``."""
    if seconds is None:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds > 0:
        raise ValueError(f"defer_waits_over must be a positive number of seconds or None, not {seconds!r}")
    return float(seconds)
