"""
The example DAGs' scenarios end to end, each a function that drives its run, waits for it and checks what it did.

Shared by the quick stack (``test_e2e_stack.py``, whose docstring tells each scenario) and the production stack
(``test_e2e_production.py``). Each returns the id of the run it checked. They run in this order on one stack:
the watcher's comes after the sensor's (both DAGs use one Kloudless account; see ``test_e2e_stack.py``).
"""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timedelta
from pathlib import Path

from airflow_provider_cloud.example_dags import sample_data
from tests.dags.example_dags_support import create_people_table, table_ids
from tests.e2e.airflow_stack import STACK_ID_VAR
from tests.e2e.example_runs import (
    ARCHIVE_DAG,
    ARCHIVE_TABLE,
    EMBED_DAG,
    EVENTS_DAG,
    KLOUDLESS_CURSOR,
    PEOPLE,
    PEOPLE_CURSOR,
    ROWS_DAG,
    RUN_TIMEOUT,
    WATCHER_DAG,
    Runs,
    consumer_run_with_file,
    next_logical_date,
    states,
    trigger_at,
    variable,
    wait_until,
    watcher_cursor,
)
from tests.e2e.secret_scan import scan_command_lines, scan_files

# -- 1. Datasette rows ---------------------------------------------------------------------------------------


def datasette_rows_imports_exports_and_cleans_up(runs: Runs) -> str:
    stack, datasette, run_id = runs.stack, runs.services.datasette, runs.run_ids[ROWS_DAG]

    assert stack.wait_for_run(ROWS_DAG, run_id, timeout=RUN_TIMEOUT) == "success"
    assert set(states(stack, ROWS_DAG, run_id).values()) == {"success"}
    cut_off = (runs.ds - timedelta(days=30)).isoformat()  # retention_days before {{ ds }}
    kept = [p for p in runs.people if p["updated_at"] >= cut_off]
    assert 0 < len(kept) < PEOPLE
    newest = runs.people[-1]["updated_at"]
    summary = stack.xcom(ROWS_DAG, run_id, "summarize")
    assert (summary["imported"], summary["rejected"], summary["exported"]) == (PEOPLE, 0, PEOPLE)
    assert summary["cleaned"] == PEOPLE - len(kept)
    assert (summary["cursor_before"], summary["cursor_after"]) == (None, newest)
    assert variable(stack, PEOPLE_CURSOR) == newest
    export = Path(summary["export_path"].removeprefix("file://"))
    assert export.parent == runs.services.file_base / "exports" / "people"
    exported = [json.loads(line) for line in export.read_text().splitlines()]
    assert [row["id"] for row in exported] == [p["id"] for p in runs.people]
    assert table_ids(datasette, "people") == [p["id"] for p in kept]
    return run_id


# -- 2. CloudTables embed ------------------------------------------------------------------------------------


def cloudtables_embed_publishes_the_page_and_keeps_the_api_key_out_of_xcom(runs: Runs) -> str:
    stack, cloudtables, run_id = runs.stack, runs.services.cloudtables, runs.run_ids[EMBED_DAG]

    assert stack.wait_for_run(EMBED_DAG, run_id, timeout=RUN_TIMEOUT) == "success"
    tasks = ("import_people", "mint_embed_token", "publish_page")
    assert states(stack, EMBED_DAG, run_id) == dict.fromkeys(tasks, "success")
    xcoms = {task_id: stack.xcom(EMBED_DAG, run_id, task_id) for task_id in tasks}
    assert xcoms["import_people"]["rows_written"] == PEOPLE
    number = cloudtables.datapoint_id(runs.services.dataset_id, "Person")
    assert sorted(row[number] for row in cloudtables.rows(runs.services.dataset_id)) == [
        p["id"] for p in runs.people
    ]
    (minted,) = cloudtables.tokens
    embed = xcoms["mint_embed_token"]
    assert (embed["token"], embed["dataset"], embed["dataset_id"]) == (
        minted.token,
        "People",
        runs.services.dataset_id,
    )
    page_path = runs.services.file_base / "embed" / "People.html"
    assert xcoms["publish_page"]["path"] == page_path.as_uri()
    page = page_path.read_text()
    assert embed["script_tag"] in page
    assert "<script" in embed["script_tag"]
    assert f'data-token="{minted.token}"' in page
    assert cloudtables.api_key not in json.dumps(xcoms)
    for task_id in tasks:
        log = stack.task_log(EMBED_DAG, run_id, task_id)
        assert log, f"no task log for {task_id}"
        assert cloudtables.api_key not in log
    return run_id


# -- 3. Kloudless events: the deferrable sensor ----------------------------------------------------------------


def kloudless_sensor_defers_resumes_on_the_upload_and_commits_the_cursor(runs: Runs) -> str:
    stack, run_id = runs.stack, runs.run_ids[EVENTS_DAG]
    kl, account = runs.services.kloudless, runs.services.account_id
    before = str(runs.services.earlier_cursor)

    deferred = stack.wait_for_deferral(EVENTS_DAG, run_id, "wait_for_files", timeout=RUN_TIMEOUT)
    assert deferred.state == "deferred"
    uploaded = kl.add_file(account, "orders-events.csv", sample_data.orders_csv(6, first_id=101, day=runs.ds))

    assert stack.wait_for_run(EVENTS_DAG, run_id, timeout=RUN_TIMEOUT) == "success"
    after = str(kl.latest_cursor(account))
    sensor = stack.task_instances(EVENTS_DAG, run_id)["wait_for_files"]
    assert sensor.state == "success"
    assert sensor.try_number == 1  # resumed within the same try
    assert sensor.trigger_logs, (
        "no triggerer wrote a log for the sensor: its trigger never ran on a triggerer"
    )
    assert sensor.deferred
    log = stack.task_log(EVENTS_DAG, run_id, "wait_for_files")
    assert "Pausing task as DEFERRED" in log
    assert "new Kloudless events after cursor" in log  # the trigger's own line, from the triggerer
    assert "Trigger fired event" in log
    assert set(states(stack, EVENTS_DAG, run_id).values()) == {"success"}
    batch = stack.xcom(EVENTS_DAG, run_id, "wait_for_files")
    assert (str(batch["previous_cursor"]), str(batch["cursor"]), batch["count"]) == (before, after, 1)
    (downloaded,) = stack.xcom(EVENTS_DAG, run_id, "download_csv_files")
    assert (downloaded["file_id"], downloaded["name"]) == (uploaded["id"], "orders-events.csv")
    assert stack.xcom(EVENTS_DAG, run_id, "import_csv", map_index=0)["rows_written"] == 6
    summary = stack.xcom(EVENTS_DAG, run_id, "summarize")
    assert (summary["events"], summary["rows_imported"]) == (1, 6)
    assert (summary["cursor_before"], summary["cursor_after"]) == (before, after)
    assert variable(stack, KLOUDLESS_CURSOR) == after
    ids = set(table_ids(runs.services.datasette, "orders"))
    assert set(range(101, 107)) <= ids
    assert not ids & set(range(1, 6))  # the file before the stored cursor was not read again
    return run_id


# -- 4. Kloudless AssetWatcher ----------------------------------------------------------------------------------


def asset_watcher_runs_the_consumer_after_an_upload(runs: Runs) -> str:
    stack, kl, account = runs.stack, runs.services.kloudless, runs.services.account_id
    wait_until("the watcher to store its cursor", stack, lambda: watcher_cursor(stack) is not None)

    uploaded = kl.add_file(
        account, "orders-watcher.csv", sample_data.orders_csv(4, first_id=201, day=runs.ds)
    )
    event = kl.events(account)[-1]
    assert event["metadata"]["id"] == uploaded["id"]

    checked: set[str] = set()
    run = wait_until(
        "a consumer run holding the uploaded file",
        stack,
        lambda: consumer_run_with_file(stack, uploaded["id"], checked),
    )
    run_id = run["dag_run_id"]
    assert run["run_type"] == "asset_triggered"
    assert run["state"] == "success", f"{states(stack, WATCHER_DAG, run_id)}\n{stack.diagnostics()}"
    asset_events = stack.api("GET", f"dags/{WATCHER_DAG}/dagRuns/{run_id}/upstreamAssetEvents")[
        "asset_events"
    ]
    payloads = [e["extra"]["payload"] for e in asset_events if e["extra"].get("from_trigger")]
    assert any(event["id"] in p["event_ids"] for p in payloads), asset_events
    files = stack.xcom(WATCHER_DAG, run_id, "download_csv_files")
    assert "orders-watcher.csv" in [f["name"] for f in files]
    summary = stack.xcom(WATCHER_DAG, run_id, "summarize")
    assert summary["rows_imported"] >= 4
    assert set(range(201, 205)) <= set(table_ids(runs.services.datasette, "orders"))
    latest = kl.latest_cursor(account)
    assert wait_until("the watcher to store the new cursor", stack, lambda: watcher_cursor(stack) == latest)
    return str(run_id)


# -- 5. Kloudless archive: rows past retention to a Kloudless folder, then deleted -----------------------------


def kloudless_archive_uploads_the_expired_rows_then_deletes_them(runs: Runs) -> str:
    """
    Seed the archive's table, start its run (after the Kloudless scenarios), check the upload and the clean-up.

    Started here, not with the others: its upload is an event of the account the sensor and the watcher read,
    which the sensor would find in its first batch. The watcher's trigger fires on it; that consumer run finds
    no ``*.csv`` file (the archive is ``.csv.gz``) and nothing looks at it.
    """
    stack, services = runs.stack, runs.services
    when = next_logical_date(stack, ARCHIVE_DAG)
    ds = datetime.fromisoformat(when).date()
    people = sample_data.people_rows(PEOPLE, today=ds, span_days=60)
    create_people_table(services.datasette, ARCHIVE_TABLE, people)
    run_id = runs.run_ids[ARCHIVE_DAG] = trigger_at(stack, ARCHIVE_DAG, when)
    stack.unpause(ARCHIVE_DAG)

    assert stack.wait_for_run(ARCHIVE_DAG, run_id, timeout=RUN_TIMEOUT) == "success"
    assert set(states(stack, ARCHIVE_DAG, run_id).values()) == {"success"}
    cut_off = (ds - timedelta(days=30)).isoformat()  # retention_days before {{ ds }}
    expired = [p["id"] for p in people if p["updated_at"] < cut_off]
    assert 0 < len(expired) < PEOPLE
    assert stack.xcom(ARCHIVE_DAG, run_id, "count_expired") == len(expired)  # the dry run's count
    name = f"{ARCHIVE_TABLE}-{ds.isoformat()}.csv.gz"
    export = services.file_base / "archive" / ARCHIVE_TABLE / name
    archive = export.read_bytes()
    lines = gzip.decompress(archive).decode().splitlines()
    assert [int(line.split(",")[0]) for line in lines[1:]] == expired  # all there after the dry run
    summary = stack.xcom(ARCHIVE_DAG, run_id, "summarize")
    assert summary == {
        "expired": len(expired),
        "archived": len(expired),
        "archive_path": export.as_uri(),
        "kloudless_path": f"/archive/{name}",
        "kloudless_file_id": summary["kloudless_file_id"],
        "bytes": len(archive),
        "deleted": len(expired),
    }
    assert services.kloudless.file_content(services.account_id, summary["kloudless_file_id"]) == archive
    assert table_ids(services.datasette, ARCHIVE_TABLE) == [p["id"] for p in people if p["id"] not in expired]
    return run_id


# -- 6. Secrets, at DEBUG level ---------------------------------------------------------------------------------


def no_secret_of_ours_shows_in_logs_database_or_command_lines_even_at_debug(runs: Runs) -> None:
    # Last in a module: every run has finished. The connections' secrets may show nowhere; the minted
    # embed token only in XCom (by design) — not in a log, a rendered field or a trigger's kwargs.
    stack, services = runs.stack, runs.services
    (minted,) = services.cloudtables.tokens
    secrets = {
        "datasette token": services.datasette.token,
        "CloudTables API key": services.cloudtables.api_key,
        "Kloudless token": services.kloudless_token,
        "embed token": minted.token,
    }
    in_files = scan_files(stack.home, secrets, skip=stack.backend.files_outside_the_logs())
    ours = [finding for finding in in_files if not finding.airflow_supervisor_payload]
    assert ours == [], "\n".join(map(str, ours))
    in_database = [
        finding
        for finding in stack.backend.scan_database(secrets)
        if not (finding.secret == "embed token" and finding.where.startswith("xcom."))
    ]
    assert in_database == [], "\n".join(map(str, in_database))
    assert scan_command_lines(STACK_ID_VAR, stack.stack_id, secrets) == []
    relayed = sorted({finding.secret for finding in in_files if finding.airflow_supervisor_payload})
    assert relayed in (
        [],
        ["embed token"],
    )  # Airflow's supervisor relaying the token operator's XCom (README)
