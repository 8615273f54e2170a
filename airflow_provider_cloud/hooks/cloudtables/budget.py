"""
One rate budget per API key, shared by every task that uses the key, and the pacer's state between processes.

CloudTables counts requests per API key (500 per 15 minutes). Each hook paces itself (:mod:`.pacing`), but
two tasks with one key each believe they own the whole budget. Sharing it, with Airflow's own APIs (a task
in Airflow 3 reaches the metadata database only through the Task SDK):

- **an Airflow pool per API key, with one slot**, named in the connection's ``rate_budget_pool`` extra:
  every task that uses the key runs in it, so one task at a time sends. A deferred task frees its slot
  (pools leave deferred tasks out unless made with ``include_deferred``), so while one task waits out the
  window another may run;
- **a ledger of recent send times in a Variable** named ``cloudtables_rate_budget_<fingerprint>`` (the first
  16 hex digits of SHA-256 over the host and the key: never the key itself). A task loads it before its
  first request and saves it when it stops sending (it defers, ends or fails), on its own thread, after
  its requests in flight have finished. The next task to get the slot starts from it.

Why this never exceeds the limit (the races):

- Two tasks never send at once: the scheduler gives the pool's one slot to one running task. The ledger is
  read and written only by the task holding the slot, so there is no lost update: each task starts from
  what the previous one saved, and saves a superset of it (what it loaded, still in the window, plus its
  own sends). The operator refuses to run a task of a shared key outside the key's pool.
- The slot passes only when a task's process has ended or deferred, after it saved the ledger: the next
  task's read comes after that write.
- Send times are wall-clock seconds, taken ``CLOCK_MARGIN`` later by the loading process (clocks of two
  workers differ); each is stamped when its request's answer came, after the service counted it.
- What is not covered: a process killed without warning (SIGKILL, a lost machine) saves nothing, so the
  next task does not know its last sends; the service's 429 then comes and is waited out by the HTTP core
  (``Retry-After``), never failing a write. A task of the key run outside the pool (a plain hook call in
  a ``PythonOperator``, another tool) is not serialised: the hook still loads and saves the ledger around
  each ``write_rows`` and ``delete_rows``, which keeps sequential use within the budget, not concurrent use.
- Pool sizes are not visible to a task: a pool of more than one slot lets tasks of the key run at once,
  and is the user's error (the README says one slot).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Iterator
from typing import Any

from airflow_provider_cloud.hooks.cloudtables.pacing import RequestPacer
from airflow_provider_cloud.hooks.core import NoPacing, PaceHandle, PaceLedger, clean_stamps

VARIABLE_PREFIX = "cloudtables_rate_budget_"
POOL_EXTRA = "rate_budget_pool"


def key_fingerprint(host: str, api_key: str) -> str:
    """Return 16 hex digits naming an API key on a host, from which the key cannot be recovered."""
    return hashlib.sha256(f"{host}\n{api_key}".encode()).hexdigest()[:16]


class VariableLedger:
    """Send times in an Airflow Variable (JSON list of epoch seconds), shared by the tasks of one key."""

    def __init__(self, name: str) -> None:
        self.name = name

    def load(self) -> list[float]:
        from airflow.sdk import Variable

        found = Variable.get(self.name, default=None)
        return clean_stamps(
            json.loads(found) if isinstance(found, str) else found, where=f"Variable {self.name}"
        )

    def save(self, stamps: list[float]) -> None:
        from airflow.sdk import Variable

        Variable.set(self.name, json.dumps([round(s, 3) for s in stamps]))


class PacedUse:
    """
    The hook's paced blocks, nested: the outermost loads the ledger and saves it on the way out.

    :param ledger: the key's shared ledger, which wins over the one a caller gives; ``None`` when unshared.
    """

    def __init__(self, pacer: RequestPacer | None, shared: PaceLedger | None, log: logging.Logger) -> None:
        self.pacer = pacer
        self.shared = shared
        self.log = log
        self._depth = 0

    @contextlib.contextmanager
    def block(self, ledger: PaceLedger | None = None) -> Iterator[PaceHandle]:
        pacer = self.pacer
        if pacer is None:
            yield NoPacing()
            return
        ledger = self.shared or ledger
        outermost = self._depth == 0
        self._depth += 1
        try:
            if outermost and ledger is not None:
                added = pacer.merge(ledger.load())
                if added:
                    self.log.info(
                        "%d requests of the last %g s were sent by earlier tries or tasks",
                        added,
                        pacer.window,
                    )
            yield pacer
        finally:
            self._depth -= 1
            if outermost:
                pacer.wait_over = None
                if ledger is not None:
                    _save(ledger, pacer, self.log)


def _save(ledger: PaceLedger, pacer: RequestPacer, log: logging.Logger) -> None:
    try:
        ledger.save(pacer.stamps())
    except Exception:  # the caller's own outcome (a result, an error, a deferral) is the one to keep
        log.warning("Could not save the send times of the rate window", exc_info=True)


def describe_pool(pool: Any) -> str | None:
    """Return the pool named in the ``rate_budget_pool`` extra, ``None`` when the budget is not shared."""
    if pool in (None, ""):
        return None
    if not isinstance(pool, str):
        raise ValueError(f"the {POOL_EXTRA} extra must be a pool name, not {pool!r}")
    return pool
