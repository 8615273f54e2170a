"""
The first-generation Kloudless SDK (``kloudless`` 1.1.x), unmodified, against the emulator: what it sees.

Run in an environment of its own (the project's tests use 2.0.1): ``python checks.py <config.json>``, the config
giving ``url``, ``api_key``, ``accounts`` (``first``, ``second``, ``inactive``, ``doomed``) and ``token`` (of
``first``). It imports nothing of this project and prints one JSON object, a result per check: the value the
SDK returned, or ``{"error": <exception class>, "status": <HTTP status>}``. The pytest test asserts on it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from contextlib import closing
from typing import Any

import kloudless
from kloudless import exceptions

Results = dict[str, Any]


def outcome(call: Callable[[], Any]) -> Any:
    """Return what ``call()`` returns, or the SDK error it raises as ``{"error", "status"}``."""
    try:
        return call()
    except exceptions.KloudlessException as error:
        return {"error": type(error).__name__, "status": error.status}


def accounts(results: Results, ids: dict[str, int]) -> None:
    results["list"] = [a.id for a in kloudless.Account.all(page_size=1000)]
    results["list_active"] = [a.id for a in kloudless.Account.all(active=True, page_size=1000)]
    results["list_inactive"] = [a.id for a in kloudless.Account.all(active=False)]
    results["list_admin"] = [a.id for a in kloudless.Account.all(admin=True)]
    results["page_2_of_1"] = [a.id for a in kloudless.Account.all(page=2, page_size=1)]
    account = kloudless.Account.retrieve(id=ids["first"])
    results["retrieve"] = [account.id, account.account, account.service, account.active]
    refreshed = kloudless.Account(id=ids["first"])
    refreshed.refresh()
    results["refresh"] = refreshed.account
    account.account = "renamed@example.com"
    account.save()
    results["save"] = kloudless.Account.retrieve(id=ids["first"]).account
    results["import"] = outcome(
        lambda: kloudless.Account.create(data={"account": "x", "service": "s3", "token": "t"})
    )
    doomed = kloudless.Account.retrieve(id=ids["doomed"])
    doomed.delete()
    results["deleted_retrieve"] = outcome(lambda: kloudless.Account.retrieve(id=ids["doomed"]))
    results["deleted_again"] = outcome(lambda: kloudless.Account(id=ids["doomed"]).delete())


def bearer(results: Results, token: str) -> None:
    me = kloudless.Account(id="me", configuration={"api_key": None, "token": token})
    me.refresh()
    results["bearer_me"] = me.id
    other = kloudless.Account(id="me", configuration={"api_key": None, "token": "not-a-token"})
    results["bearer_bad"] = outcome(other.refresh)


def storage(results: Results, ids: dict[str, int]) -> None:
    account = kloudless.Account.retrieve(id=ids["first"])
    folder = account.folders.create(data={"parent_id": "root", "name": "docs"})
    again = account.folders.create(
        data={"parent_id": "root", "name": "docs"}, params={"conflict_if_exists": "false"}
    )
    results["folder_again_same"] = again.id == folder.id
    results["folder_conflict"] = outcome(
        lambda: account.folders.create(
            data={"parent_id": "root", "name": "docs"}, params={"conflict_if_exists": "true"}
        )
    )
    results["root_contents"] = [(i.type, i.name) for i in account.folders().contents()]
    made = account.files.create(file_name="report.csv", parent_id=folder.id, file_data=b"a,b\n1,2\n")
    results["upload"] = [made.name, made.size, made.account, made.parent["id"] == folder.id]
    read = account.files.retrieve(made.id)
    results["metadata"] = {
        "type": read.type,
        "path": read.path,
        "mime_type": read.mime_type,
        "downloadable": read.downloadable,
        "created_is_datetime": type(read.created).__name__ == "datetime",
        "ancestors": [a["id"] for a in read.ancestors],
    }
    with closing(read.contents()) as response:
        results["download"] = response.content.decode()
    read.update(file_data=b"new")
    with closing(read.contents()) as response:
        results["overwrite"] = [read.size, response.content.decode()]
    results["same_name"] = outcome(
        lambda: account.files.create(file_name="report.csv", parent_id=folder.id, file_data=b"x")
    )
    replaced = account.files.create(
        file_name="report.csv", parent_id=folder.id, file_data=b"xy", params={"overwrite": "true"}
    )
    results["upload_overwrite"] = [replaced.id == made.id, replaced.size]
    read.name = "renamed.csv"
    results["rename"] = [read.save(), read.name]
    sub = account.folders.create(data={"parent_id": folder.id, "name": "sub"})
    read.parent_id = sub.id
    results["move"] = [read.save(), read.path, [i.name for i in sub.contents()]]
    sub.name = "sub2"
    results["folder_rename"] = [sub.save(), sub.path]
    results["folder_not_empty"] = outcome(folder.delete)
    read.delete()
    results["deleted_file"] = outcome(lambda: account.files.retrieve(made.id))
    folder.delete(recursive=True)
    results["deleted_folder"] = outcome(lambda: account.folders.retrieve(folder.id))


def move_between_accounts(results: Results, ids: dict[str, int]) -> None:
    """The SDK's own README example, "Moving a file": to a folder of another account."""
    listed = kloudless.Account.all()
    first, second = listed[0], listed[1]
    first_id = first.id
    first.files.create(file_name="travel.txt", parent_id="root", file_data=b"to move")
    second.folders.create(data={"parent_id": "root", "name": "arrivals"})
    f = next(f for f in first.folders().contents() if f.type == "file")
    folder = next(folder for folder in second.folders().contents() if folder.type == "folder")
    old_id = f.id
    f.account = second.id
    f.name = "new file name.txt"
    f.parent_id = folder.id
    results["move_account"] = [f.save(), f.account == second.id, f.id != old_id, f.path]
    with closing(f.contents()) as response:
        results["move_account_content"] = response.content.decode()
    results["move_account_parent"] = first.id == second.id  # the SDK points its account object at the new one
    results["move_account_old"] = outcome(lambda: kloudless.Account(id=first_id).files.retrieve(old_id))


def events(results: Results, ids: dict[str, int]) -> None:
    account = kloudless.Account.retrieve(id=ids["second"])
    cursor = account.events.latest_cursor()
    results["latest_cursor_is_int"] = isinstance(cursor, int)
    for n in range(5):
        account.files.create(file_name=f"e{n}.txt", parent_id="root", file_data=b"e")
    seen: list[str] = []
    page = account.events.all(cursor=cursor, page_size=2)
    seen += [e.metadata["name"] for e in page]
    while page.remaining:  # the 1.x integration tests' loop
        page = account.events.all(cursor=page.cursor, page_size=2)
        seen += [e.metadata["name"] for e in page]
    results["events"] = seen
    results["events_types"] = sorted({e.type for e in account.events.all(cursor=cursor)})
    results["events_page_size"] = outcome(lambda: account.events.all(page_size=100000))


def calendars(results: Results, ids: dict[str, int]) -> None:
    account = kloudless.Account.retrieve(id=ids["second"])
    listed = account.calendars.all()
    results["calendars"] = [[c.primary, int(c.account_id) == ids["second"]] for c in listed]
    calendar = account.calendars.retrieve(id="primary")
    results["calendar_primary"] = calendar.id == listed[0].id
    data = {"name": "Standup", "start": "2017-09-01T12:30:00Z", "end": "2017-09-01T13:30:00Z"}
    event = calendar.events.create(data=data)
    results["calendar_event"] = [event.name, event.calendar_id == calendar.id]
    results["calendar_events"] = [e.name for e in calendar.events.all()]
    results["calendar_event_read"] = calendar.events.retrieve(id=event.id).name
    event.name = "Renamed"
    results["calendar_event_update"] = outcome(event.save)
    results["calendar_create"] = outcome(lambda: account.calendars.create(data={"name": "Mine"}))
    calendar.events(id=event.id).delete()
    results["calendar_event_deleted"] = outcome(lambda: calendar.events.retrieve(id=event.id))


def not_served(results: Results, ids: dict[str, int]) -> None:
    account = kloudless.Account.retrieve(id=ids["second"])
    item = account.files.create(file_name="kept.txt", parent_id="root", file_data=b"k")
    results["unserved"] = {
        "search": outcome(lambda: account.search.all(q="x")),
        "recent": outcome(lambda: account.recent.all()),
        "links": outcome(lambda: account.links.all()),
        "multipart": outcome(lambda: account.multipart.create(params={"name": "m", "parent_id": "root"})),
        "copy": outcome(lambda: item.copy_file(parent_id="root", name="copy.txt")),
        "properties": outcome(lambda: item.properties.all()),
        "permissions": outcome(lambda: item.permissions.all()),
        "convert": outcome(lambda: account.convert(data={"raw_id": "x", "type": "file"})),
        "users": outcome(lambda: account.users.all()),
        "crm": outcome(lambda: account.crm_contacts.all()),
    }
    raw = account.raw(raw_uri="/drive/v2/about", raw_method="GET")
    results["raw"] = [raw.json()["uri"], raw.json()["method"]]


def main(config_path: str) -> None:
    with open(config_path) as handle:
        config = json.load(handle)
    kloudless.configure(api_key=config["api_key"], base_url=config["url"], api_version="1")
    ids = config["accounts"]
    results: Results = {"version": kloudless.__version__}
    for part in (accounts, storage, move_between_accounts, events, calendars, not_served):
        try:
            part(results, ids)
        except Exception as error:  # report every part, even after one breaks
            results[f"{part.__name__}_failed"] = f"{type(error).__name__}: {error}"
    try:
        bearer(results, config["token"])
    except Exception as error:
        results["bearer_failed"] = f"{type(error).__name__}: {error}"
    print(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1])
