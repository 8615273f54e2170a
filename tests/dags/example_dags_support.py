"""
Helpers of ``tests/test_example_dags.py``: run an example DAG with ``dag.test()`` and read its XComs, load the
asset watcher's DAG file as a module, drive an event trigger once, and time an upload to a deferred sensor.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import airflow_provider_cloud.example_dags as example_dags
from airflow_provider_cloud.example_dags import sample_data
from airflow_provider_cloud.testing.dagtest import xcom_rows
from tests.dags.dag_support import load_dag

EXAMPLE_DAGS = Path(example_dags.__file__).resolve().parent
DAG_FILES = {
    "example_datasette_rows": "example_datasette_rows.py",
    "example_cloudtables_embed": "example_cloudtables_embed.py",
    "example_kloudless_events": "example_kloudless_events.py",
    "example_kloudless_asset_watcher": "example_kloudless_asset_watcher.py",
    "example_kloudless_archive": "example_kloudless_archive.py",
}


def all_xcoms(dag_id: str, run_id: str) -> dict[str, Any]:
    """Return ``task_id → return value``; a mapped task gets the list of its values by map index."""
    found: dict[str, dict[int, Any]] = {}
    for task_id, key, map_index, value in xcom_rows(dag_id, run_id):
        if key == "return_value":
            found.setdefault(task_id, {})[map_index] = value
    return {
        task_id: values[-1] if list(values) == [-1] else [values[i] for i in sorted(values)]
        for task_id, values in found.items()
    }


def run_example(dag_id: str, **test_kwargs: Any) -> tuple[Any, dict[str, Any]]:
    """Run an example DAG with ``dag.test()``; return the run and its XComs."""
    dag = load_dag(EXAMPLE_DAGS / DAG_FILES[dag_id], dag_id)
    dag_run = dag.test(**test_kwargs)
    return dag_run, all_xcoms(dag_id, dag_run.run_id)


def variable(name: str) -> str | None:
    from airflow.models.variable import Variable

    return Variable.get(name, default_var=None)


def table_ids(datasette_server: Any, table: str) -> list[int]:
    return [row["id"] for row in datasette_server.sql(f'select id from "{table}" order by id')]


def create_people_table(datasette_server: Any, table: str, people: Iterable[Mapping[str, Any]]) -> None:
    """Create a table of ``sample_data`` people straight in Datasette's database file (no code under test)."""
    columns = sample_data.PEOPLE_COLUMNS
    connection = sqlite3.connect(datasette_server.db_path)
    try:
        connection.execute(
            f'create table "{table}" (id integer primary key, name text, email text, score real, updated_at text)'
        )
        connection.executemany(
            f'insert into "{table}" ({", ".join(columns)}) values (?, ?, ?, ?, ?)',
            [[person[c] for c in columns] for person in people],
        )
        connection.commit()
    finally:
        connection.close()


DEFERRED_UPLOAD_WAIT = 60.0


def events_polls(kl: Any, cursor: str) -> int:
    """Count the events requests the emulator saw after ``cursor``."""
    return sum(
        1 for r in kl.requests_seen if r["path"].endswith("/events") and r["query"].get("cursor") == [cursor]
    )


def upload_once_deferred(kl: Any, cursor: str, upload: Callable[[], Any]) -> None:
    """
    Call ``upload`` once two events requests after ``cursor`` were seen: the sensor's poke and its trigger's poll.

    The poke makes one request, so a second one with the same cursor comes from the trigger: the sensor has
    deferred by then. Gives up after :data:`DEFERRED_UPLOAD_WAIT` seconds (the run then fails on its timeout).
    """
    deadline = time.monotonic() + DEFERRED_UPLOAD_WAIT
    while time.monotonic() < deadline:
        if events_polls(kl, cursor) >= 2:
            upload()
            return
        time.sleep(0.02)


def event_id(event: dict[str, Any]) -> str:
    """Return a Kloudless event's id as the events trigger lists it."""
    return str(event.get("id", event.get("event_id")))


def load_module(name: str) -> Any:
    """Execute the asset watcher DAG file as a fresh module (one parse)."""
    spec = importlib.util.spec_from_file_location(
        name, EXAMPLE_DAGS / DAG_FILES["example_kloudless_asset_watcher"]
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def watcher_trigger(module: Any) -> Any:
    (watcher,) = module.new_files.watchers
    return watcher.trigger


async def first_trigger_event(trigger: Any) -> dict[str, Any]:
    """Run a trigger until it fires once (at most 20 s); return the event's payload."""
    events = trigger.run()
    try:
        async with asyncio.timeout(20):
            event = await events.__anext__()
    finally:
        await events.aclose()
    return event.payload
