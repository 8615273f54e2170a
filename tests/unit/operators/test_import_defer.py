"""The deferral bookkeeping of paced imports (``operators/_import_defer.py``): the pool, the stalls, the threshold."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowException

from airflow_provider_cloud.hooks.core import NoPacing
from airflow_provider_cloud.operators._import_defer import (
    DEFERRALS_KEY,
    PACE_KEY,
    STALLS_BEFORE_SLEEPING,
    ImportPacing,
    TaskStateLedger,
    check_defer_waits_over,
)
from tests.integration.operators.test_rows_resume import StateStore


class Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, message: str, *args: Any) -> None:
        self.lines.append(message % args)


class PacedStore:
    """A paced RowStore as far as the import's pacing sees it."""

    def __init__(self, pool: str | None = None) -> None:
        self.pool = pool
        self.handle = NoPacing()
        self.ledgers: list[Any] = []

    def describe(self, dataset: str, *, refresh: bool = False) -> Any: ...
    def iter_rows(self, dataset: str, **kwargs: Any) -> Any: ...
    def write_rows(self, dataset: str, rows: Any, **kwargs: Any) -> Any: ...
    def delete_rows(self, dataset: str, **kwargs: Any) -> Any: ...

    def budget_pool(self) -> str | None:
        return self.pool

    @contextlib.contextmanager
    def paced(self, ledger: Any = None) -> Iterator[NoPacing]:
        self.ledgers.append(ledger)
        yield self.handle


def pacing(store: StateStore | None, hook: Any = None, pool: str = "default_pool") -> ImportPacing:
    context = {"task_state_store": store} if store is not None else {}
    return ImportPacing(hook or PacedStore(), context, wait_over=60.0, pool=pool, conn_id="ct")


def test_the_threshold_is_set_on_the_hooks_pacing_and_its_send_times_kept_in_the_task_state():
    store, hook = StateStore(), PacedStore()
    with pacing(store, hook).block() as handle:
        assert handle.wait_over == 60.0
    assert isinstance(hook.ledgers[0], TaskStateLedger)
    hook.ledgers[0].save([1.23456, 2.0])
    assert store.values[PACE_KEY] == [1.235, 2.0]
    assert hook.ledgers[0].load() == [1.235, 2.0]


def test_outside_a_task_nothing_defers():
    with pacing(None).block() as handle:
        assert handle.wait_over is None


def test_a_shared_key_needs_its_pool():
    with pytest.raises(AirflowException, match="pool 'ct_budget'.*runs in 'default_pool'"):
        pacing(StateStore(), PacedStore(pool="ct_budget"))
    assert pacing(StateStore(), PacedStore(pool="ct_budget"), pool="ct_budget").wait_over == 60.0


def test_parts_that_store_nothing_end_deferring_after_a_few_and_the_count_survives_the_parts():
    store, log = StateStore(), Log()
    store.values["import_checkpoint"] = {"rows_stored": 7}
    first = pacing(store)
    assert first.so_far(False, log)[0] == 0
    first.deferring(1, 100.0)
    for deferrals in range(2, STALLS_BEFORE_SLEEPING + 2):
        part = pacing(store)
        assert part.so_far(True, log) == (deferrals - 1, 100.0)
        assert part.wait_over == 60.0
        part.deferring(deferrals, 100.0)
    assert store.values[DEFERRALS_KEY]["stalls"] == STALLS_BEFORE_SLEEPING
    last = pacing(store)
    last.so_far(True, log)
    assert last.wait_over is None
    assert log.lines == [
        f"No row stored in the last {STALLS_BEFORE_SLEEPING} parts: this one sleeps through its waits"
    ]
    store.values["import_checkpoint"] = {"rows_stored": 8}  # a part that stored rows starts the count again
    last.deferring(9, 100.0)
    assert store.values[DEFERRALS_KEY]["stalls"] == 0
    last.finished()
    assert DEFERRALS_KEY not in store.values


def test_a_new_try_starts_its_count_afresh():
    store = StateStore()
    store.values[DEFERRALS_KEY] = {"deferrals": 4, "started": 1.0, "rows": 0, "stalls": 0}
    deferrals, started = pacing(store).so_far(False, Log())
    assert deferrals == 0
    assert started > 1.0


@pytest.mark.parametrize("bad", [0, -1, "60", True])
def test_the_threshold_must_be_positive_seconds(bad):
    with pytest.raises(ValueError, match="defer_waits_over must be a positive number of seconds"):
        check_defer_waits_over(bad)
    assert check_defer_waits_over(None) is None
    assert check_defer_waits_over(5) == 5.0
