"""
End-to-end check (c): a DAG scheduled by an ``AssetWatcher`` on the Kloudless events trigger.

The triggerer runs ``KloudlessEventsEventTrigger`` against the connection ``e2e_kloudless`` (the test points
it at a Kloudless emulator on 127.0.0.1). On its first poll the trigger stores the latest cursor and fires
nothing; each later batch of ``add`` events becomes an asset event, which creates a run of this DAG. The
task returns the trigger payloads it was scheduled by, so the test can match the event it produced.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import Asset, AssetWatcher, dag, task

from airflow_provider_cloud.triggers.kloudless_events import KloudlessEventsEventTrigger

CONN_ID = "e2e_kloudless"

new_files = Asset(
    "e2e_kloudless_new_files",
    watchers=[
        AssetWatcher(
            name="e2e_kloudless_new_files_watcher",
            trigger=KloudlessEventsEventTrigger(conn_id=CONN_ID, event_types=["add"], poll_interval=1.0),
        )
    ],
)


@dag(schedule=[new_files], start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, tags=["e2e"])
def e2e_asset_watcher():
    @task
    def react(**context: Any) -> list[dict[str, Any]]:
        events = context["triggering_asset_events"][new_files]
        return [event.extra.get("payload", {}) for event in events]

    react()


e2e_asset_watcher()
