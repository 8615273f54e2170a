"""
A paced import defers through long waits for its rate window and goes on where it stopped (CloudTables emulator).

The task's parts run here one after the other as Airflow would run them: each in a new operator with a new
hook (a new process would have nothing else), the task state store a dict shared by the parts, the time
trigger waited out by sleeping until its moment. Under ``dag.test()`` and a real triggerer:
``tests/dags/test_deferred_import_dag.py`` and ``tests/e2e/test_e2e_deferred_import.py``.
"""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from airflow.sdk.exceptions import AirflowException, TaskDeferred

from airflow_provider_cloud.operators.rows import ImportRowsOperator
from airflow_provider_cloud.testing.cloudtables import CloudTablesEmulator
from tests.dags.deferred_import_support import connection, last_values, refused, stored
from tests.dags.files.e2e_deferred_import import READINGS_POINTS, readings, readings_csv
from tests.integration.operators.test_rows_resume import StateStore, context

pytestmark = pytest.mark.integration

CONN_ID = "cloudtables_paced"
LIMIT, WINDOW = 8, 1.5
ROWS = 24
MAX_PARTS = 40


@pytest.fixture
def ct(monkeypatch: pytest.MonkeyPatch) -> Iterator[CloudTablesEmulator]:
    with CloudTablesEmulator(rate_limit=LIMIT, rate_window=WINDOW, request_log_size=5_000) as emulator:
        emulator.add_dataset("Readings", READINGS_POINTS)
        connect(monkeypatch, emulator)
        yield emulator


def connect(monkeypatch: pytest.MonkeyPatch, ct: CloudTablesEmulator, **extra: Any) -> None:
    settings = {"rate_limit": LIMIT, "rate_window": WINDOW, **extra}
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(connection(ct, **settings)))


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "readings.csv"
    path.write_text(readings_csv(readings(ROWS)))
    return path


def importer(source: Path, **kwargs: Any) -> ImportRowsOperator:
    options = {"key": "code", "defer_waits_over": 0.3, **kwargs}
    return ImportRowsOperator(
        task_id="import", conn_id=CONN_ID, dataset="Readings", source=str(source), **options
    )


def wait_out(deferred: TaskDeferred) -> None:
    """Do what the triggerer does with the time trigger: wait for its moment."""
    seconds = (deferred.trigger.moment - datetime.datetime.now(datetime.UTC)).total_seconds()
    time.sleep(max(0.0, seconds))


def stored_readings(ct: CloudTablesEmulator) -> dict[str, tuple[Any, Any]]:
    return stored(ct, ct.datasets()[0]["id"])


def test_the_import_stops_at_a_row_boundary_and_resumes_in_new_parts_within_the_limit(ct, source):
    store = StateStore()
    with pytest.raises(TaskDeferred) as caught:
        importer(source).execute(context(store, 1))

    deferred = caught.value
    assert deferred.method_name == "execute_complete"
    classpath, kwargs = deferred.trigger.serialize()
    assert classpath == "airflow.providers.standard.triggers.temporal.DateTimeTrigger"
    assert set(kwargs) == {"moment", "end_from_trigger"}  # a moment, nothing of the connection
    assert ct.api_key not in repr(kwargs)
    # Until the whole window is free, as a process loading the send times sees it (CLOCK_MARGIN later).
    assert WINDOW / 2 < (kwargs["moment"] - datetime.datetime.now(datetime.UTC)).total_seconds() <= WINDOW + 1
    # The checkpoint counts exactly the rows stored (every row in order before the first not sent).
    assert store.values["import_checkpoint"]["rows_stored"] == len(stored_readings(ct)) > 0
    assert 1 <= len(store.values["import_pace"]) <= LIMIT
    assert store.values["import_deferrals"]["deferrals"] == 1

    summary = None
    for _ in range(MAX_PARTS):
        wait_out(deferred)
        try:
            summary = importer(source).execute_complete(context(store, 1), event=None)
            break
        except TaskDeferred as again:
            deferred = again
    assert summary is not None
    assert summary["rows_read"] == summary["rows_written"] == ROWS
    assert summary["deferrals"] >= 2
    assert refused(ct) == 0
    assert stored_readings(ct) == last_values(ROWS)
    assert store.values == {}


def test_the_kept_send_times_hold_back_a_part_that_starts_before_the_window_is_free(ct, source):
    """A new try at once (its worker was lost) waits for the window; without the send times it is refused."""
    store = StateStore()
    with pytest.raises(TaskDeferred):
        importer(source).execute(context(store, 1))
    with pytest.raises(TaskDeferred):
        importer(source).execute(context(store, 2))  # defers before its first request
    assert refused(ct) == 0

    del store.values["import_pace"]  # the control
    with pytest.raises(TaskDeferred):
        importer(source).execute(context(store, 3))
    assert refused(ct) > 0


def test_with_deferral_off_the_import_sleeps_through_the_waits(ct, source):
    store = StateStore()
    summary = importer(source, deferrable=False).execute(context(store, 1))
    assert summary["rows_written"] == ROWS
    assert summary["deferrals"] == 0
    assert refused(ct) == 0
    assert store.values == {}


def test_an_import_that_cannot_resume_sleeps_instead_of_deferring(ct, source):
    with structlog.testing.capture_logs() as logs:
        summary = importer(source, key=None, mode="insert").execute(context(StateStore(), 1))
    assert summary["rows_written"] == ROWS
    assert len(ct.rows(ct.datasets()[0]["id"])) == ROWS
    assert refused(ct) == 0
    assert (
        "Waits for the rate limit will be slept through, not deferred: mode 'insert': only upsert, ignore, "
        "replace write rows again as they were"
    ) in [entry["event"] for entry in logs]


def test_a_task_of_a_shared_key_outside_the_keys_pool_is_refused_before_any_request(ct, source, monkeypatch):
    connect(monkeypatch, ct, rate_budget_pool="ct_budget")
    ct.clear_requests_seen()
    with pytest.raises(AirflowException, match="through the pool 'ct_budget'.*give it pool='ct_budget'"):
        importer(source).execute(context(StateStore(), 1))
    assert ct.requests_seen == []


def test_defer_waits_over_must_be_a_positive_number(source):
    with pytest.raises(ValueError, match="defer_waits_over must be a positive number of seconds or None"):
        importer(source, defer_waits_over=0)
    assert importer(source, defer_waits_over=None).deferrable is False
