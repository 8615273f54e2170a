"""
Event-triggered pipeline: wait for Kloudless events after the stored cursor, process them, commit the cursor.

The cursor lives in the Variable ``kloudless_events_cursor``; nothing stored yet means "every retained event".
Processing fails when the run's conf says ``{"fail_processing": true}``, so tests can show that a failed run
does not commit and the next run sees the same events again. The sensor's timeout comes from the environment
variable ``KLOUDLESS_EVENTS_DAG_TIMEOUT`` (seconds, default 60) so a test can make a run without events end
quickly; with ``soft_fail`` such a run is skipped, not failed.
"""

from __future__ import annotations

import os
from typing import Any

import pendulum
from airflow.sdk import dag, task

from airflow_provider_cloud.operators.cursor import CommitCursorOperator
from airflow_provider_cloud.sensors.kloudless import KloudlessEventsSensor

CURSOR_VARIABLE = "kloudless_events_cursor"


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"fail_processing": False},
)
def kloudless_events():
    wait_for_events = KloudlessEventsSensor(
        task_id="wait_for_events",
        conn_id="kloudless_default",
        cursor_variable=CURSOR_VARIABLE,
        start_from="oldest",
        max_events=100,
        deferrable=True,
        poll_interval=0.05,
        timeout=float(os.environ.get("KLOUDLESS_EVENTS_DAG_TIMEOUT", "60")),
        soft_fail=True,
    )

    @task
    def process(batch: dict[str, Any], params: dict[str, Any] | None = None) -> dict[str, Any]:
        if params and params.get("fail_processing"):
            raise RuntimeError("processing failed on purpose")
        file_adds = [
            e
            for e in batch["events"]
            if e["type"] == "add" and (e.get("metadata") or {}).get("type") == "file"
        ]
        return {
            "events": batch["count"],
            "file_adds": len(file_adds),
            "event_ids": [e["id"] for e in batch["events"]],
        }

    commit_cursor = CommitCursorOperator(
        task_id="commit_cursor",
        variable=CURSOR_VARIABLE,
        cursor="{{ ti.xcom_pull(task_ids='wait_for_events')['cursor'] }}",
    )

    process(wait_for_events.output) >> commit_cursor


kloudless_events()
