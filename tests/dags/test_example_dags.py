"""
The example DAGs (``airflow_provider_cloud/example_dags``): they parse, and they run with ``dag.test()`` against
the local servers of the testing kit (a real Datasette, the CloudTables and Kloudless emulators).

``dag.test()`` on Airflow 3.3.2 looks its DAG up in a configured DAG bundle (it syncs the bundles to the
database and needs a ``DagVersion``), so a DAG outside ``[core] dags_folder`` fails. The tests do not copy
or link the files: :func:`example_bundle` adds the example folder as a second ``LocalDagBundle`` through
``AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST`` for the duration of a test (a ``DagBundlesManager`` reads
the setting each time one is made, and ``dag.test()`` makes one per call).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from airflow_provider_cloud.example_dags import sample_data
from tests.dags.dag_support import task_states
from tests.dags.example_dags_support import (
    DAG_FILES,
    DEFERRED_UPLOAD_WAIT,
    EXAMPLE_DAGS,
    create_people_table,
    event_id,
    events_polls,
    first_trigger_event,
    load_module,
    run_example,
    table_ids,
    upload_once_deferred,
    variable,
    watcher_trigger,
)


@pytest.fixture
def example_bundle(airflow_db, monkeypatch) -> Path:
    """Make the example folder a DAG bundle (next to the tests' own dags folder) for this test."""
    local = "airflow.dag_processing.bundles.local.LocalDagBundle"
    bundles = [
        {"name": "example-dags", "classpath": local, "kwargs": {"path": str(EXAMPLE_DAGS)}},
        {"name": "dags-folder", "classpath": local, "kwargs": {}},
    ]
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps(bundles))
    return EXAMPLE_DAGS


@pytest.fixture
def file_base(tmp_path, monkeypatch) -> Path:
    """Point the Variable ``cloud_provider_file_base`` at a fresh local folder; return the folder."""
    base = tmp_path / "files"
    base.mkdir()
    monkeypatch.setenv("AIRFLOW_VAR_CLOUD_PROVIDER_FILE_BASE", base.as_uri())
    return base


@pytest.fixture
def clean_variables(airflow_db):
    """Delete the cursor Variables the example DAGs commit, before and after the test."""
    from airflow.models.variable import Variable

    names = ("cloud_provider_people_cursor", "cloud_provider_kloudless_cursor")
    for name in names:
        Variable.delete(name)
    yield
    for name in names:
        Variable.delete(name)


# -- parsing ---------------------------------------------------------------------------------------------


def test_every_example_dag_file_parses_without_import_errors(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(EXAMPLE_DAGS))

    assert bag.import_errors == {}
    assert set(bag.dag_ids) == set(DAG_FILES)
    for dag_id, file_name in DAG_FILES.items():
        dag = bag.get_dag(dag_id)
        assert Path(dag.fileloc).name == file_name
        assert dag.catchup is False
        assert "example" in dag.tags
        assert (dag.doc_md or "").strip()
        assert dag.start_date is not None
        source = (EXAMPLE_DAGS / file_name).read_text()
        assert "# [START howto_" in source
        assert source.count("# [START ") == source.count("# [END ")


# -- 1. Datasette rows -----------------------------------------------------------------------------------


@pytest.mark.dag
@pytest.mark.integration
def test_datasette_rows_imports_exports_since_the_cursor_and_cleans_up(
    example_bundle,
    clean_variables,
    file_base,
    datasette_conn_id,
    datasette_server,
    fresh_table_name,
    monkeypatch,
):
    monkeypatch.setenv("AIRFLOW_VAR_CLOUD_PROVIDER_PEOPLE_TABLE", fresh_table_name)
    day = date(2026, 3, 1)
    people = sample_data.people_rows(90, today=day, span_days=60)
    sample_data.write_people_csv(file_base / "incoming" / "people.csv", people)
    # Kept: updated on or after the cut-off day, 30 days before the run's logical date ({{ ds }}).
    kept = [p for p in people if p["updated_at"] >= "2026-01-30"]
    assert 0 < len(kept) < len(people)

    # Run 1: no cursor stored: every row is exported, the old ones are cleaned up, the cursor is committed.
    dag_run, xcoms = run_example("example_datasette_rows", logical_date=datetime(2026, 3, 1, 6, tzinfo=UTC))

    assert str(dag_run.state) == "success"
    assert set(task_states(dag_run).values()) == {"success"}
    newest = people[-1]["updated_at"]
    summary = xcoms["summarize"]
    assert summary["imported"] == 90
    assert summary["rejected"] == 0
    assert summary["exported"] == 90
    assert summary["cleaned"] == 90 - len(kept)
    assert (summary["cursor_before"], summary["cursor_after"]) == (None, newest)
    assert variable("cloud_provider_people_cursor") == newest
    export = Path(summary["export_path"].removeprefix("file://"))
    assert export.parent == file_base / "exports" / "people"
    exported = [json.loads(line) for line in export.read_text().splitlines()]
    assert [row["id"] for row in exported] == [p["id"] for p in people]
    assert exported[0] == people[0]
    ids = [row["id"] for row in datasette_server.sql(f'select id from "{fresh_table_name}" order by id')]
    assert ids == [p["id"] for p in kept]

    # Run 2: five people were updated since: only they are exported, and the cursor moves to their time.
    now = datetime(2026, 3, 1, 5, 30, tzinfo=UTC)
    changed_ids = [p["id"] for p in kept[:5]]
    sample_data.write_people_csv(
        file_base / "incoming" / "people.csv", sample_data.touched(people, changed_ids, at=now)
    )
    dag_run, xcoms = run_example("example_datasette_rows", logical_date=datetime(2026, 3, 1, 7, tzinfo=UTC))

    assert str(dag_run.state) == "success"
    summary = xcoms["summarize"]
    assert summary["imported"] == 90
    assert summary["exported"] == 5
    assert summary["cleaned"] == 90 - len(kept)  # the old rows came back with the full CSV, and went again
    assert summary["cursor_before"] == newest
    assert summary["cursor_after"] == sample_data.iso_utc(now)
    export = Path(summary["export_path"].removeprefix("file://"))
    assert [json.loads(line)["id"] for line in export.read_text().splitlines()] == changed_ids
    assert variable("cloud_provider_people_cursor") == sample_data.iso_utc(now)


# -- 2. CloudTables embed --------------------------------------------------------------------------------


@pytest.mark.dag
@pytest.mark.integration
def test_cloudtables_embed_imports_mints_a_token_and_publishes_the_page(
    example_bundle, file_base, cloudtables_conn_id, cloudtables_emulator
):
    dataset_id = cloudtables_emulator.add_dataset("People", sample_data.CLOUDTABLES_PEOPLE_POINTS)
    people = sample_data.people_rows(25, today=date(2026, 3, 1))
    sample_data.write_people_csv(file_base / "incoming" / "people.csv", people)

    dag_run, xcoms = run_example("example_cloudtables_embed")

    assert str(dag_run.state) == "success"
    assert task_states(dag_run) == dict.fromkeys(
        ["import_people", "mint_embed_token", "publish_page"], "success"
    )
    assert xcoms["import_people"]["rows_written"] == 25
    stored = cloudtables_emulator.rows(dataset_id)
    number = cloudtables_emulator.datapoint_id(dataset_id, "Person")
    email = cloudtables_emulator.datapoint_id(dataset_id, "Email")
    assert sorted((row[number], row[email]) for row in stored) == [(p["id"], p["email"]) for p in people]
    (minted,) = cloudtables_emulator.tokens
    embed = xcoms["mint_embed_token"]
    assert embed["token"] == minted.token
    assert (embed["dataset_id"], embed["dataset"], embed["expires_in"]) == (dataset_id, "People", 86400)
    assert (minted.roles, minted.client_id, minted.client_name) == (
        ("Viewer",),
        "embed-page",
        "example_cloudtables_embed",
    )
    page = xcoms["publish_page"]
    assert page["path"] == (file_base / "embed" / "People.html").as_uri()
    text = (file_base / "embed" / "People.html").read_text()
    assert embed["script_tag"] in text
    assert f'data-token="{minted.token}"' in text
    assert page["bytes"] == len(text.encode())
    assert cloudtables_emulator.api_key not in json.dumps(xcoms, default=str)


# -- 3. Kloudless events (deferrable sensor) -------------------------------------------------------------


@pytest.mark.dag
@pytest.mark.integration
def test_kloudless_events_imports_new_csv_files_and_commits_the_cursor(
    example_bundle,
    clean_variables,
    file_base,
    datasette_conn_id,
    datasette_server,
    fresh_table_name,
    kloudless_conn_id,
    kloudless_emulator,
    kloudless_account_id,
    monkeypatch,
):
    kl, account, table = kloudless_emulator, kloudless_account_id, fresh_table_name
    monkeypatch.setenv("AIRFLOW_VAR_CLOUD_PROVIDER_KLOUDLESS_TABLE", table)
    day = date(2026, 3, 1)
    first = kl.add_file(account, "orders-1.csv", sample_data.orders_csv(5, first_id=1, day=day))
    kl.add_file(account, "readme.txt", b"not rows\n")

    # Run 1: nothing stored, so every retained event: the one CSV file is downloaded and imported.
    dag_run, xcoms = run_example("example_kloudless_events")

    assert str(dag_run.state) == "success"
    assert set(task_states(dag_run).values()) == {"success"}
    assert xcoms["wait_for_files"]["count"] == 2
    (downloaded,) = xcoms["download_csv_files"]
    assert (downloaded["file_id"], downloaded["name"]) == (first["id"], "orders-1.csv")
    assert downloaded["path"].startswith((file_base / "kloudless").as_uri() + "/")
    assert [i["rows_written"] for i in xcoms["import_csv"]] == [5]
    after_first = str(kl.latest_cursor(account))
    assert xcoms["summarize"] == {
        "events": 2,
        "files": [downloaded["path"]],
        "rows_imported": 5,
        "cursor_before": None,
        "cursor_after": after_first,
    }
    assert variable("cloud_provider_kloudless_cursor") == after_first
    assert table_ids(datasette_server, table) == [1, 2, 3, 4, 5]

    # Run 2: nothing new at first, so the sensor defers; the file arrives while its trigger polls. Only the
    # new file is read; its rows 4 and 5 are upserted, 6 to 9 added.
    monkeypatch.setenv("CLOUD_PROVIDER_KLOUDLESS_POLL_SECONDS", "0.05")
    upload = threading.Thread(
        target=upload_once_deferred,
        args=(
            kl,
            after_first,
            lambda: kl.add_file(account, "orders-2.csv", sample_data.orders_csv(6, first_id=4, day=day)),
        ),
        daemon=True,
    )
    upload.start()
    try:
        dag_run, xcoms = run_example("example_kloudless_events")
    finally:
        upload.join(DEFERRED_UPLOAD_WAIT + 5)

    assert str(dag_run.state) == "success"
    assert events_polls(kl, after_first) >= 3  # the sensor's poke, the trigger's empty poll(s), the last one
    assert xcoms["wait_for_files"]["previous_cursor"] == after_first
    assert [f["name"] for f in xcoms["download_csv_files"]] == ["orders-2.csv"]
    summary = xcoms["summarize"]
    assert (summary["events"], summary["rows_imported"]) == (1, 6)
    assert (summary["cursor_before"], summary["cursor_after"]) == (
        after_first,
        str(kl.latest_cursor(account)),
    )
    assert variable("cloud_provider_kloudless_cursor") == str(kl.latest_cursor(account))
    assert table_ids(datasette_server, table) == list(range(1, 10))


# -- 4. Kloudless asset watcher --------------------------------------------------------------------------


def test_asset_watcher_declares_the_same_trigger_on_every_parse():
    from airflow.triggers.base import BaseEventTrigger

    first, second = (watcher_trigger(load_module(f"asset_watcher_parse_{n}")) for n in (1, 2))

    (path_1, kwargs_1), (path_2, kwargs_2) = first.serialize(), second.serialize()
    assert path_1 == path_2 == "airflow_provider_cloud.triggers.kloudless_events.KloudlessEventsEventTrigger"
    assert kwargs_1 == kwargs_2
    assert BaseEventTrigger.hash(path_1, kwargs_1) == BaseEventTrigger.hash(path_2, kwargs_2)
    assert isinstance(first, BaseEventTrigger)
    assert "cursor" not in kwargs_1
    assert (kwargs_1["conn_id"], kwargs_1["event_types"]) == ("kloudless_default", ["add", "update"])
    module = load_module("asset_watcher_parse_3")
    assert module.new_files.uri == "kloudless://kloudless_default/events"


def test_batch_payloads_come_from_the_triggering_asset_events_then_the_params():
    from airflow.sdk.execution_time.comms import AssetEventDagRunReferenceResult
    from airflow.sdk.execution_time.context import TriggeringAssetEventsAccessor

    module = load_module("asset_watcher_payloads")
    asset = module.new_files
    payload = {"previous_cursor": 3, "cursor": 5, "count": 2, "event_ids": ["a", "b"], "types": {"add": 2}}
    event = AssetEventDagRunReferenceResult(
        asset={"name": asset.name, "uri": asset.uri, "extra": {}},
        extra={"from_trigger": True, "payload": payload},
        source_task_id=None,
        source_dag_id=None,
        source_run_id=None,
        source_map_index=None,
        source_aliases=[],
        timestamp=datetime(2026, 3, 1, tzinfo=UTC),
    )
    replay = {"previous_cursor": 5, "cursor": 6, "count": 1, "event_ids": ["c"]}
    context = {
        "triggering_asset_events": TriggeringAssetEventsAccessor.build([event]),
        "params": {"payloads": [replay]},
    }

    assert module.batch_payloads(context) == [payload, replay]
    empty = {"triggering_asset_events": TriggeringAssetEventsAccessor.build([]), "params": {"payloads": []}}
    assert module.batch_payloads(empty) == []
    with pytest.raises(ValueError, match="not a Kloudless events trigger payload"):
        module.batch_payloads({**empty, "params": {"payloads": [{"cursor": 1}]}})


@pytest.mark.dag
@pytest.mark.integration
def test_asset_watcher_consumer_imports_the_batch_the_trigger_fired(
    example_bundle,
    file_base,
    datasette_conn_id,
    datasette_server,
    fresh_table_name,
    kloudless_conn_id,
    kloudless_emulator,
    kloudless_account_id,
    monkeypatch,
):
    from airflow.sdk.module_loading import import_string

    from airflow_provider_cloud.triggers.kloudless_events import MemoryStateStore

    kl, account, table = kloudless_emulator, kloudless_account_id, fresh_table_name
    monkeypatch.setenv("AIRFLOW_VAR_CLOUD_PROVIDER_KLOUDLESS_TABLE", table)
    day = date(2026, 3, 1)
    kl.add_file(account, "old.csv", sample_data.orders_csv(3, first_id=100, day=day))  # before the cursor
    classpath, kwargs = watcher_trigger(load_module("asset_watcher_run")).serialize()
    trigger = import_string(classpath)(**kwargs)
    store = MemoryStateStore()
    store.values["cursor"] = before = kl.latest_cursor(account)  # as the watcher's first poll stores it
    trigger.asset_state_store = store
    new = kl.add_file(account, "orders-7.csv", sample_data.orders_csv(4, first_id=1, day=day))
    kl.add_file(account, "notes.txt", b"no rows\n")

    payload = asyncio.run(first_trigger_event(trigger))

    assert (payload["previous_cursor"], payload["cursor"], payload["count"]) == (
        before,
        kl.latest_cursor(account),
        2,
    )
    dag_run, xcoms = run_example("example_kloudless_asset_watcher", run_conf={"payloads": [payload]})

    assert str(dag_run.state) == "success"
    assert set(task_states(dag_run).values()) == {"success"}
    batch = xcoms["read_batch"]
    assert [event_id(e) for e in batch["events"]] == [str(i) for i in payload["event_ids"]]
    (downloaded,) = xcoms["download_csv_files"]
    assert downloaded["file_id"] == new["id"]
    assert xcoms["summarize"] == {
        "events": 2,
        "files": [downloaded["path"]],
        "rows_imported": 4,
        "cursor_before": before,
        "cursor_after": payload["cursor"],
    }
    assert table_ids(datasette_server, table) == [1, 2, 3, 4]

    # The same payload twice (delivered again): each event is read once, the rows are upserted again.
    dag_run, xcoms = run_example("example_kloudless_asset_watcher", run_conf={"payloads": [payload, payload]})
    assert xcoms["read_batch"]["count"] == 2
    assert xcoms["summarize"]["rows_imported"] == 4
    assert table_ids(datasette_server, table) == [1, 2, 3, 4]


# -- 5. Kloudless archive --------------------------------------------------------------------------------


@pytest.mark.dag
@pytest.mark.integration
def test_kloudless_archive_uploads_the_expired_rows_then_deletes_exactly_them(
    example_bundle,
    file_base,
    datasette_conn_id,
    datasette_server,
    fresh_table_name,
    kloudless_conn_id,
    kloudless_emulator,
    kloudless_account_id,
    monkeypatch,
):
    kl, account, table = kloudless_emulator, kloudless_account_id, fresh_table_name
    monkeypatch.setenv("AIRFLOW_VAR_CLOUD_PROVIDER_ARCHIVE_TABLE", table)
    people = sample_data.people_rows(90, today=date(2026, 3, 1), span_days=60)
    create_people_table(datasette_server, table, people)
    # Expired: not updated for 30 days (retention_days) before the run's logical date ({{ ds }}).
    expired = [p["id"] for p in people if p["updated_at"] < "2026-01-30"]
    assert 0 < len(expired) < len(people)
    # The folder exists, holding a stale copy of the day's archive: both are reused, the file overwritten.
    folder = kl.add_folder(account, "archive")
    name = f"{table}-2026-03-01.csv.gz"
    stale = kl.add_file(account, name, b"id\n", parent_id=folder["id"])

    dag_run, xcoms = run_example(
        "example_kloudless_archive", logical_date=datetime(2026, 3, 1, 6, tzinfo=UTC)
    )

    assert str(dag_run.state) == "success"
    assert set(task_states(dag_run).values()) == {"success"}
    # The dry run reported what it would delete and deleted nothing: the export after it found every row.
    assert xcoms["count_expired"] == len(expired)
    export = file_base / "archive" / table / name
    assert xcoms["archive_expired"] == {"path": export.as_uri(), "rows": len(expired), "cursor": None}
    assert [
        int(line.split(",")[0]) for line in gzip.decompress(export.read_bytes()).decode().splitlines()[1:]
    ] == expired
    assert xcoms["archive_folder"] == folder["id"]
    archive = export.read_bytes()
    assert xcoms["upload_archive"] == {
        "file_id": stale["id"],  # overwrite=True replaced the file and kept its id
        "name": name,
        "size": len(archive),
        "path": f"/archive/{name}",
    }
    assert kl.file_content(account, stale["id"]) == archive
    # The real clean-up deleted exactly the rows the dry run counted and the archive holds.
    assert xcoms["delete_archived"] == len(expired)
    assert table_ids(datasette_server, table) == [p["id"] for p in people if p["id"] not in expired]
    assert xcoms["summarize"] == {
        "expired": len(expired),
        "archived": len(expired),
        "archive_path": export.as_uri(),
        "kloudless_path": f"/archive/{name}",
        "kloudless_file_id": stale["id"],
        "bytes": len(archive),
        "deleted": len(expired),
    }

    # Run 2, the same day again: nothing expired any more, so nothing is exported, uploaded or deleted,
    # and the day's archive in Kloudless is not replaced by an empty one.
    dag_run, xcoms = run_example(
        "example_kloudless_archive", logical_date=datetime(2026, 3, 1, 7, tzinfo=UTC)
    )

    assert str(dag_run.state) == "success"
    skipped = ["archive_folder", "archive_expired", "upload_archive", "delete_archived"]
    assert task_states(dag_run) == {
        **dict.fromkeys(["count_expired", "anything_expired", "summarize"], "success"),
        **dict.fromkeys(skipped, "skipped"),
    }
    assert xcoms["summarize"] == {
        "expired": 0,
        "archived": 0,
        "archive_path": None,
        "kloudless_path": None,
        "kloudless_file_id": None,
        "bytes": None,
        "deleted": 0,
    }
    assert kl.file_content(account, stale["id"]) == archive
    assert len(table_ids(datasette_server, table)) == len(people) - len(expired)
