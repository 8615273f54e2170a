"""What ``make demo`` prints at the end (``scripts/demo.py``): what each example DAG did, a few lines each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: The retention the demo gives ``example_kloudless_archive`` (its param ``retention_days``, through the conf).
ARCHIVE_AFTER_DAYS = 14


def print_summary(demo: Any, *, touched: int, poll_seconds: float) -> None:
    """Print what each example DAG did, from ``demo.results`` (``touched``, ``poll_seconds``: the demo's settings)."""
    say = demo.say
    first, second = demo.results["rows"]
    say()
    say("1. example_datasette_rows: CSV -> Datasette (upsert) -> JSON Lines after the cursor -> clean-up")
    for label, run in (("run 1", first), (f"run 2 ({touched} people updated)", second)):
        say(
            f"   {label}: imported {run['imported']} rows, exported {run['exported']}, cleaned {run['cleaned']}"
            f" (not updated for 30 days); cursor {show(run['cursor_before'])} -> {show(run['cursor_after'])}"
        )
        say(f"      export: {local(run['export_path'])}")
    embed = demo.results["embed"]
    token = embed["mint_embed_token"]
    say("2. example_cloudtables_embed: rows -> CloudTables, embed token through XCom, HTML page")
    say(
        f"   imported {embed['import_people']['rows_written']} rows into data set People"
        f" ({token['dataset_id']}); token {token['token'][:4]}... valid {token['expires_in']} s"
    )
    say(f"   page with the <script> tag: {local(embed['publish_page']['path'])}")
    events = demo.results["events"]["summarize"]
    say("3. example_kloudless_events: deferrable sensor -> download CSV -> Datasette -> commit the cursor")
    polls = demo.results["trigger_polls"]
    say(
        f"   nothing new at the sensor's first poke, so it deferred; its trigger (polling every {poll_seconds} s)"
        f" found the uploaded files on poll {polls}"
    )
    say(
        f"   {count(events['events'], 'event')} consumed, {count(len(events['files']), 'CSV file')}, "
        f"{events['rows_imported']} rows imported; cursor {show(events['cursor_before'])} -> "
        f"{show(events['cursor_after'])} (Variable cloud_provider_kloudless_cursor)"
    )
    for path in events["files"]:
        say(f"      downloaded: {local(path)}")
    payload, outcome = demo.results["watcher"]
    watched = outcome["summarize"]
    say("4. example_kloudless_asset_watcher: AssetWatcher trigger fired -> consumer run")
    say(
        f"   trigger payload: {count(payload['count'], 'event')} {payload['types']} after cursor "
        f"{payload['previous_cursor']} -> {payload['cursor']}"
    )
    say(
        f"   consumer: {count(watched['events'], 'event')} re-read, {count(len(watched['files']), 'CSV file')}, "
        f"{watched['rows_imported']} rows imported"
    )
    for path in watched["files"]:
        say(f"      downloaded: {local(path)}")
    archive = demo.results["archive"]
    say("5. example_kloudless_archive: dry run -> CSV archive -> Kloudless folder (overwrite) -> clean-up")
    say(
        f"   dry run: {archive['expired']} people not updated for {ARCHIVE_AFTER_DAYS} days would go;"
        f" archived {archive['archived']} rows, deleted {archive['deleted']}"
    )
    if archive["archive_path"]:
        same = "same bytes" if archive["same_bytes"] else "DIFFERENT bytes"
        say(f"      archive: {local(archive['archive_path'])}")
        say(
            f"      uploaded to Kloudless {archive['kloudless_path']} ({archive['bytes']} bytes, {same} as the"
            " archive)"
        )
    counts = {t: demo.datasette.sql(f'select count(*) as n from "{t}"')[0]["n"] for t in ("people", "orders")}
    say()
    say(
        f"Datasette now holds people: {counts['people']} rows, orders: {counts['orders']} rows "
        f"({local(demo.datasette.db_path.as_uri())})"
    )


def count(n: int, thing: str) -> str:
    return f"{n} {thing}" + ("" if n == 1 else "s")


def show(cursor: Any) -> str:
    return "(none stored)" if cursor in (None, "") else str(cursor)


def local(url: str) -> str:
    """Return a ``file://`` URL as a path relative to the repository when it is inside it."""
    path = Path(url.removeprefix("file://"))
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
