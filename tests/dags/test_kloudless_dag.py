"""The ``kloudless_events`` DAG (sensor → process → commit) run with dag.test() against the emulator."""

from __future__ import annotations

import threading

import pytest

from tests.dags.dag_support import run_dag, task_states

pytestmark = [pytest.mark.dag, pytest.mark.integration]

DAG_ID = "kloudless_events"
CURSOR_VARIABLE = "kloudless_events_cursor"


def stored_cursor() -> str | None:
    from airflow.models.variable import Variable

    return Variable.get(CURSOR_VARIABLE, default_var=None)


@pytest.fixture
def no_stored_cursor(airflow_db):
    from airflow.models.variable import Variable

    Variable.delete(CURSOR_VARIABLE)
    yield
    Variable.delete(CURSOR_VARIABLE)


def produce_when_deferred(emulator, account_id: int, polls_before: int) -> threading.Thread:
    """Produce an event once the trigger has polled (the sensor's one poke plus one trigger poll)."""

    def events_requests() -> int:
        return sum(1 for r in emulator.requests_seen if r["path"].endswith("/events"))

    def run() -> None:
        done = threading.Event()
        for _ in range(2000):  # bounded: 2000 × 5 ms
            if events_requests() >= polls_before + 2:
                emulator.add_file(account_id, "late.csv", b"a,b\n1,2\n")
                return
            done.wait(0.005)

    thread = threading.Thread(target=run, name="produce-when-deferred", daemon=True)
    thread.start()
    return thread


def test_events_are_processed_then_committed_and_replayed_after_a_failure(
    no_stored_cursor, monkeypatch, kloudless_emulator, kloudless_account_id, kloudless_conn_id
):
    kl, account = kloudless_emulator, kloudless_account_id
    first_batch = [kl.add_file(account, "a.csv", b"x\n1\n"), kl.add_file(account, "b.csv", b"x\n2\n")]
    kl.produce_event(account, "delete")

    # Run 1: nothing stored, so every retained event; the cursor is committed at the end.
    dag_run, xcoms = run_dag(DAG_ID)
    assert str(dag_run.state) == "success"
    sensor = xcoms["wait_for_events"]
    assert set(sensor) == {"cursor", "previous_cursor", "count", "events"}
    assert sensor["previous_cursor"] == "after-auth"
    assert sensor["count"] == 3 == len(sensor["events"])
    assert sensor["cursor"] == 3
    assert xcoms["process"]["file_adds"] == 2
    assert [e["metadata"]["name"] for e in sensor["events"][:2]] == [m["name"] for m in first_batch]
    assert xcoms["commit_cursor"] == {
        "variable": CURSOR_VARIABLE,
        "previous": None,
        "cursor": "3",
        "stored": True,
    }
    assert stored_cursor() == "3"

    # Run 2: new events, but processing fails: the cursor is not committed.
    kl.add_file(account, "c.csv", b"x\n3\n")
    kl.produce_event(account, "update")
    dag_run, xcoms = run_dag(DAG_ID, run_conf={"fail_processing": True})
    assert str(dag_run.state) == "failed"
    assert task_states(dag_run) == {
        "wait_for_events": "success",
        "process": "failed",
        "commit_cursor": "upstream_failed",
    }
    failed_ids = [e["id"] for e in xcoms["wait_for_events"]["events"]]
    assert stored_cursor() == "3"

    # Run 3: the same events are seen again (at-least-once), processed and committed.
    dag_run, xcoms = run_dag(DAG_ID)
    assert str(dag_run.state) == "success"
    assert xcoms["wait_for_events"]["previous_cursor"] == "3"
    assert xcoms["process"]["event_ids"] == failed_ids
    assert xcoms["process"]["file_adds"] == 1
    assert stored_cursor() == "5"

    # Run 4: nothing new when it starts: the sensor defers, the trigger (run inline by dag.test) waits
    # until an event arrives, and the run resumes with only that event.
    polls_before = sum(1 for r in kl.requests_seen if r["path"].endswith("/events"))
    producer = produce_when_deferred(kl, account, polls_before)
    dag_run, xcoms = run_dag(DAG_ID)
    producer.join(15)
    assert str(dag_run.state) == "success"
    assert xcoms["wait_for_events"]["previous_cursor"] == "5"
    assert [e["metadata"]["name"] for e in xcoms["wait_for_events"]["events"]] == ["late.csv"]
    assert stored_cursor() == "6"

    # Run 5: no events at all: the deferred sensor times out; soft_fail skips the run, nothing is committed.
    monkeypatch.setenv("KLOUDLESS_EVENTS_DAG_TIMEOUT", "0.5")
    dag_run, xcoms = run_dag(DAG_ID)
    assert task_states(dag_run) == {
        "wait_for_events": "skipped",
        "process": "skipped",
        "commit_cursor": "skipped",
    }
    assert "commit_cursor" not in xcoms
    assert stored_cursor() == "6"
