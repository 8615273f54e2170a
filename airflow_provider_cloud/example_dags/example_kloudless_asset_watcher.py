"""
Event-driven scheduling: an ``AssetWatcher`` on the Kloudless events trigger starts a run for each batch of new files.

The asset ``kloudless://kloudless_default/events`` is watched by ``KloudlessEventsEventTrigger`` on the
triggerer. The trigger keeps its cursor in the asset's state store (on its first poll it stores the latest
cursor and fires nothing) and turns every batch of new ``add``/``update`` events into an asset event with a
small payload: ``{"previous_cursor", "cursor", "count", "event_ids", "types"}``. Its arguments are fixed
(no cursor, no time; the poll interval is the environment variable ``CLOUD_PROVIDER_KLOUDLESS_POLL_SECONDS``,
default 60, read when the file is parsed), so every parse of this file declares the same watcher.

Each asset event schedules this DAG, whose run:

1. ``read_batch`` re-reads exactly the batch each triggering payload describes, from the hook: at most
   ``count`` events after ``previous_cursor``, keeping the ids the payload lists (duplicates across payloads
   are dropped: delivery is at least once);
2. ``download_csv_files`` downloads the CSV files those events point to into ``<file base>/kloudless/<run>/``;
3. ``import_csv`` upserts each file's rows into Datasette by ``id``;
4. ``summarize`` reports the events, files and rows.

Nothing is committed here: the trigger moved its cursor when it fired. To replay a batch by hand, trigger the
DAG with the conf ``{"payloads": [<payload>, ...]}``.

Settings, all read when a task runs: connections ``kloudless_default`` and ``datasette_default``; Variables
``cloud_provider_file_base`` (default ``file://`` + the folder in the environment variable
``CLOUD_PROVIDER_FILE_BASE``, else ``/tmp/airflow-provider-cloud``) and ``cloud_provider_kloudless_table``
(default ``orders``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from typing import Any

import pendulum
from airflow.sdk import Asset, AssetWatcher, Param, dag, get_current_context, task

from airflow_provider_cloud.hooks.kloudless import KloudlessHook
from airflow_provider_cloud.operators.kloudless import KloudlessDownloadFileOperator, file_path
from airflow_provider_cloud.operators.rows import ImportRowsOperator
from airflow_provider_cloud.triggers.kloudless_events import KloudlessEventsEventTrigger

log = logging.getLogger(__name__)

KLOUDLESS_CONN_ID = "kloudless_default"
DATASETTE_CONN_ID = "datasette_default"
EVENT_TYPES = ["add", "update"]
#: The file base without the Variable; the environment is read where the file is parsed, which on Airflow 3
#: includes the worker, right before it runs a task.
LOCAL_FILE_BASE = "file://" + os.path.abspath(
    os.environ.get("CLOUD_PROVIDER_FILE_BASE", "/tmp/airflow-provider-cloud")
)
FILE_BASE = "{{ var.value.get('cloud_provider_file_base', local_file_base) }}"
TABLE = "{{ var.value.get('cloud_provider_kloudless_table', 'orders') }}"
POLL_SECONDS = float(os.environ.get("CLOUD_PROVIDER_KLOUDLESS_POLL_SECONDS", "60"))
#: Run ids hold ':' and '+', which are awkward in object keys and URLs.
RUN_NAME = "{{ run_id | replace(':', '') | replace('+', '_') }}"

# [START howto_asset_watcher_kloudless_events]
new_files = Asset(
    name="kloudless_default_events",
    uri=f"kloudless://{KLOUDLESS_CONN_ID}/events",
    watchers=[
        AssetWatcher(
            name="kloudless_default_new_files",
            trigger=KloudlessEventsEventTrigger(
                conn_id=KLOUDLESS_CONN_ID, event_types=EVENT_TYPES, poll_interval=POLL_SECONDS, max_events=100
            ),
        )
    ],
)
# [END howto_asset_watcher_kloudless_events]


def batch_payloads(context: Mapping[str, Any]) -> list[dict[str, Any]]:
    """
    Return the trigger payloads a run is for: those of its triggering asset events, then ``params["payloads"]``.

    A run scheduled by the watcher has the first kind; a run triggered by hand (or by ``dag.test``) with the
    conf ``{"payloads": [...]}`` the second.
    """
    events = context["triggering_asset_events"].get(new_files, ())
    payloads = [
        dict(event.extra["payload"]) for event in events if isinstance(event.extra.get("payload"), Mapping)
    ]
    params = context.get("params") or {}
    payloads.extend(dict(p) for p in params.get("payloads") or ())
    for payload in payloads:
        if "previous_cursor" not in payload or not isinstance(payload.get("count"), int):
            raise ValueError(
                f"not a Kloudless events trigger payload (no previous_cursor or count): {payload!r}"
            )
    return payloads


def event_id(event: Mapping[str, Any]) -> str:
    """Return an event's id as the trigger lists it."""
    return str(event.get("id", event.get("event_id")))


def reread_batches(
    hook: KloudlessHook, payloads: Iterable[Mapping[str, Any]], event_types: list[str]
) -> dict[str, Any]:
    """
    Re-read the events of each payload: at most ``count`` events of ``event_types`` after ``previous_cursor``.

    Only the ids the payload lists are kept, each once. Returns the sensor's XCom shape
    ``{"previous_cursor", "cursor", "count", "events"}``, which the download operator takes as ``events``.

    :raises CursorExpiredError: a batch is older than the events the service retains.
    """
    events: list[dict[str, Any]] = []
    seen: set[str] = set()
    first = last = None
    for payload in payloads:
        wanted = {str(i) for i in payload.get("event_ids") or ()}
        stream = hook.iter_events(payload["previous_cursor"], max_events=payload["count"], types=event_types)
        found = [dict(e) for e in stream if not wanted or event_id(e) in wanted]
        missing = wanted - {event_id(e) for e in found}
        if missing:
            log.warning(
                "%d events of the batch after %s were not found again: %s",
                len(missing),
                payload["previous_cursor"],
                sorted(missing),
            )
        events.extend(e for e in found if event_id(e) not in seen)
        seen.update(event_id(e) for e in found)
        first = payload["previous_cursor"] if first is None else first
        last = payload.get("cursor", stream.cursor)
    return {"previous_cursor": first, "cursor": last, "count": len(events), "events": events}


@dag(
    schedule=[new_files],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={
        "payloads": Param(
            [], type="array", description="Trigger payloads to replay by hand (a watcher run needs none)"
        )
    },
    user_defined_macros={"local_file_base": LOCAL_FILE_BASE},
    tags=["example", "kloudless", "datasette"],
    doc_md=__doc__,
)
def example_kloudless_asset_watcher() -> None:
    # [START howto_asset_watcher_consumer]
    @task
    def read_batch() -> dict[str, Any]:
        """Return the events of the triggering batches, re-read from Kloudless."""
        payloads = batch_payloads(get_current_context())
        hook = KloudlessHook(KLOUDLESS_CONN_ID)
        try:
            return reread_batches(hook, payloads, EVENT_TYPES)
        finally:
            hook.close()

    batch = read_batch()
    download_csv_files = KloudlessDownloadFileOperator(
        task_id="download_csv_files",
        conn_id=KLOUDLESS_CONN_ID,
        events=batch,
        name_pattern="*.csv",
        max_files=1000,  # one run may consume several queued batches of up to 100 events
        destination=FILE_BASE + "/kloudless/" + RUN_NAME + "/",
    )
    import_csv = ImportRowsOperator.partial(
        task_id="import_csv", conn_id=DATASETTE_CONN_ID, dataset=TABLE, key="id", create=True
    ).expand(source=download_csv_files.output.map(file_path))
    # [END howto_asset_watcher_consumer]

    @task(trigger_rule="none_failed")
    def summarize() -> dict[str, Any]:
        """Return the events consumed, the files downloaded, the rows imported and the batch's cursors."""
        ti = get_current_context()["ti"]
        consumed = ti.xcom_pull(task_ids="read_batch") or {}
        files = ti.xcom_pull(task_ids="download_csv_files") or []
        imports = ti.xcom_pull(task_ids="import_csv", map_indexes=range(len(files))) if files else []
        return {
            "events": consumed.get("count", 0),
            "files": [f["path"] for f in files],
            "rows_imported": sum(i["rows_written"] for i in imports if i),
            "cursor_before": consumed.get("previous_cursor"),
            "cursor_after": consumed.get("cursor"),
        }

    import_csv >> summarize()


example_kloudless_asset_watcher()
