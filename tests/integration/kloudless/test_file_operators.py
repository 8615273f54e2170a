"""KloudlessDownloadFileOperator and KloudlessUploadFileOperator against the in-thread Kloudless emulator."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from airflow.sdk import ObjectStoragePath
from airflow.sdk.exceptions import AirflowException

from airflow_provider_cloud.exceptions import ConflictError, NotFoundError
from airflow_provider_cloud.hooks.kloudless import KloudlessHook
from airflow_provider_cloud.operators._kloudless_selection import FileFilter, select_files
from airflow_provider_cloud.operators.kloudless import (
    KloudlessDownloadFileOperator,
    KloudlessUploadFileOperator,
    file_path,
)
from airflow_provider_cloud.sensors.kloudless import KloudlessEventsSensor

pytestmark = pytest.mark.integration

RESULT_KEYS = {"file_id", "name", "path", "size"}


class RecordingTaskInstance:
    """The part of a task instance the operators use: extra XCom pushes, recorded."""

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def run(operator: Any) -> tuple[Any, dict[str, Any]]:
    """Run ``execute`` as a worker would; return its XCom value and the extra keys it pushed."""
    ti = RecordingTaskInstance()
    result = operator.execute(context={"ti": ti})
    return result, ti.pushed


def download(conn_id: str, destination: Any, **kwargs: Any) -> KloudlessDownloadFileOperator:
    return KloudlessDownloadFileOperator(
        task_id="download", conn_id=conn_id, destination=destination, **kwargs
    )


def read_bytes(path: str) -> bytes:
    target = ObjectStoragePath(path)
    with target.fs.open(target.path, "rb") as handle:
        return handle.read()


def sensor_xcom(conn_id: str) -> dict[str, Any]:
    """Poke a real events sensor from the oldest retained event and return its XCom value."""
    sensor = KloudlessEventsSensor(
        task_id="wait", conn_id=conn_id, start_from="oldest", max_events=1000, deferrable=False
    )
    done = sensor.poke({})
    assert done.is_done
    return done.xcom_value


@pytest.fixture
def hook(kloudless_conn_id: str) -> Iterator[KloudlessHook]:
    made = KloudlessHook(kloudless_conn_id)
    yield made
    made.close()


# -- download by file id --------------------------------------------------------------------------


def test_download_by_id_into_a_local_folder(
    kloudless_emulator, kloudless_account_id, kloudless_conn_id, tmp_path
):
    content = secrets.token_bytes(300_000)
    meta = kloudless_emulator.add_file(kloudless_account_id, "data.csv", content)
    folder = (tmp_path / "inbox").as_uri() + "/"

    result, pushed = run(download(kloudless_conn_id, folder, file_id=meta["id"]))

    target = tmp_path / "inbox" / "data.csv"
    assert result == [
        {"file_id": meta["id"], "name": "data.csv", "path": target.as_uri(), "size": len(content)}
    ]
    assert target.read_bytes() == content
    assert pushed == {}  # nothing but the return value
    assert sorted(p.name for p in (tmp_path / "inbox").iterdir()) == ["data.csv"]  # no temporary left


def test_download_by_id_to_a_full_memory_path_with_a_template(
    kloudless_emulator, kloudless_account_id, kloudless_conn_id, memory_dir
):
    meta = kloudless_emulator.add_file(kloudless_account_id, "report.csv", b"id,name\n1,a\n")
    operator = download(
        kloudless_conn_id, str(memory_dir) + "/{{ params.day }}/latest.csv", file_id="{{ params.file }}"
    )
    operator.render_template_fields(
        {"params": {"day": "2026-01-02", "file": meta["id"]}}  # type: ignore[arg-type]
    )

    result, _ = run(operator)

    expected = memory_dir / "2026-01-02" / "latest.csv"
    assert result == [{"file_id": meta["id"], "name": "report.csv", "path": str(expected), "size": 12}]
    assert read_bytes(str(expected)) == b"id,name\n1,a\n"


def test_download_replaces_an_existing_file(
    kloudless_emulator, kloudless_account_id, kloudless_conn_id, tmp_path
):
    meta = kloudless_emulator.add_file(kloudless_account_id, "a.csv", b"new\n")
    (tmp_path / "a.csv").write_bytes(b"old contents, longer\n")

    run(download(kloudless_conn_id, str(tmp_path), file_id=meta["id"]))  # an existing folder, no slash

    assert (tmp_path / "a.csv").read_bytes() == b"new\n"


def test_several_ids_with_the_same_name_get_distinct_paths(
    kloudless_emulator, kloudless_account_id, kloudless_conn_id, tmp_path
):
    kl, account = kloudless_emulator, kloudless_account_id
    first = kl.add_file(account, "data.csv", b"1\n", kl.add_folder(account, "a")["id"])
    second = kl.add_file(account, "data.csv", b"2\n", kl.add_folder(account, "b")["id"])

    result, _ = run(download(kloudless_conn_id, f"{tmp_path}/", file_id=[first["id"], second["id"]]))

    assert [r["name"] for r in result] == ["data.csv", "data.csv"]
    assert result[0]["path"] == (tmp_path / "data.csv").as_uri()
    assert result[1]["path"] == (tmp_path / f"data.{second['id']}.csv").as_uri()
    assert [read_bytes(r["path"]) for r in result] == [b"1\n", b"2\n"]


def test_a_missing_file_id_is_a_not_found_error_and_writes_nothing(kloudless_conn_id, tmp_path):
    with pytest.raises(NotFoundError, match="No file with id 'F-gone'") as info:
        run(download(kloudless_conn_id, f"{tmp_path}/", file_id="F-gone"))
    assert info.value.status_code == 404
    assert list(tmp_path.iterdir()) == []


def test_a_folder_id_is_refused(kloudless_emulator, kloudless_account_id, kloudless_conn_id, tmp_path):
    folder = kloudless_emulator.add_folder(kloudless_account_id, "inbox")
    with pytest.raises(NotFoundError):  # the API has no file with a folder's id
        run(download(kloudless_conn_id, f"{tmp_path}/", file_id=folder["id"]))


# -- download from events -------------------------------------------------------------------------


@pytest.fixture
def busy_account(kloudless_emulator, kloudless_account_id, hook) -> dict[str, dict[str, Any]]:
    """Fill the account with the events a real drive produces; return the files by role."""
    kl, account = kloudless_emulator, kloudless_account_id
    files = {
        "orders": kl.add_file(account, "orders.csv", b"id,total\n1,10\n"),
        "notes": kl.add_file(account, "notes.txt", b"hello\n"),
        "folder": kl.add_folder(account, "archive"),
        "temp": kl.add_file(account, "temp.csv", b"id\n9\n"),
        "upper": kl.add_file(account, "CUSTOMERS.CSV", b"id,name\n1,Ann\n"),
    }
    hook.delete_file(files["temp"]["id"])
    files["orders"] = kl.add_file(account, "orders.csv", b"id,total\n1,10\n2,20\n", overwrite=True)
    files["nested"] = kl.add_file(account, "orders.csv", b"id,total\n3,30\n", files["folder"]["id"])
    kl.produce_event(account, "add", {"id": "cal-1", "api": "calendar", "type": "event", "name": "x.csv"})
    kl.produce_event(account, "add")  # a made-up file that cannot be downloaded
    return files


def test_new_csv_files_from_the_sensor_xcom(busy_account, kloudless_conn_id, tmp_path):
    batch = sensor_xcom(kloudless_conn_id)

    result, pushed = run(download(kloudless_conn_id, f"{tmp_path}/", events=batch, name_pattern="*.csv"))

    orders, upper, nested = busy_account["orders"], busy_account["upper"], busy_account["nested"]
    assert [(r["file_id"], r["name"]) for r in result] == [
        (upper["id"], "CUSTOMERS.CSV"),  # latest events first to last: the overwrite moved orders.csv back
        (orders["id"], "orders.csv"),
        (nested["id"], "orders.csv"),
    ]
    assert [r["path"] for r in result] == [
        (tmp_path / "CUSTOMERS.CSV").as_uri(),
        (tmp_path / "orders.csv").as_uri(),
        (tmp_path / f"orders.{nested['id']}.csv").as_uri(),
    ]
    assert read_bytes(result[1]["path"]) == b"id,total\n1,10\n2,20\n"  # once, at its latest version
    assert [r["size"] for r in result] == [14, 19, 14]
    assert [file_path(r) for r in result] == [r["path"] for r in result]
    assert pushed == {}


def test_the_events_list_json_text_and_python_text_are_read_alike(busy_account, kloudless_conn_id, tmp_path):
    batch = sensor_xcom(kloudless_conn_id)
    forms = [batch, batch["events"], json.dumps(batch), str(batch), str(batch["events"])]

    results = [
        run(download(kloudless_conn_id, f"{tmp_path}/{n}/", events=form, name_pattern="*.csv"))[0]
        for n, form in enumerate(forms)
    ]

    assert {tuple(r["file_id"] for r in result) for result in results} == {
        (busy_account["upper"]["id"], busy_account["orders"]["id"], busy_account["nested"]["id"])
    }


def test_event_types_name_and_mime_type_filters(
    busy_account, kloudless_emulator, kloudless_account_id, kloudless_conn_id, tmp_path
):
    batch = sensor_xcom(kloudless_conn_id)

    def names(**filters: Any) -> list[str]:
        destination = f"{tmp_path}/{secrets.token_hex(4)}/"
        return [r["name"] for r in run(download(kloudless_conn_id, destination, events=batch, **filters))[0]]

    assert names(name_pattern="*.txt") == ["notes.txt"]
    assert names(name_pattern=["notes.*", "customers.*"]) == ["notes.txt", "CUSTOMERS.CSV"]
    assert names(mime_types="text/plain") == ["notes.txt"]
    assert names(mime_types=["text/*"], name_pattern="*.csv") == ["CUSTOMERS.CSV", "orders.csv", "orders.csv"]
    assert names(event_types="update") == ["orders.csv"]  # the one overwrite

    # A file added before the batch and only updated within it is not new: "add" leaves it out.
    start = kloudless_emulator.latest_cursor(kloudless_account_id)
    kloudless_emulator.add_file(kloudless_account_id, "notes.txt", b"changed\n", overwrite=True)
    fresh = kloudless_emulator.add_file(kloudless_account_id, "fresh.csv", b"id\n5\n")
    sensor = KloudlessEventsSensor(task_id="wait", conn_id=kloudless_conn_id, cursor=start, deferrable=False)
    later = sensor.poke({}).xcom_value
    only_added, _ = run(download(kloudless_conn_id, f"{tmp_path}/added/", events=later, event_types="add"))
    assert [r["file_id"] for r in only_added] == [fresh["id"]]


def test_a_renamed_file_is_saved_under_its_new_name(
    kloudless_emulator, kloudless_account_id, kloudless_conn_id, tmp_path
):
    meta = kloudless_emulator.add_file(kloudless_account_id, "draft.txt", b"a,b\n1,2\n")
    kloudless_emulator.produce_event(kloudless_account_id, "rename", {**meta, "name": "final.csv"})

    result, _ = run(
        download(
            kloudless_conn_id, f"{tmp_path}/", events=sensor_xcom(kloudless_conn_id), name_pattern="*.csv"
        )
    )

    assert [(r["file_id"], r["name"]) for r in result] == [(meta["id"], "final.csv")]
    assert (tmp_path / "final.csv").read_bytes() == b"a,b\n1,2\n"


def test_selection_skips_deleted_folders_and_other_apis_and_counts_why(busy_account, kloudless_conn_id):
    events = sensor_xcom(kloudless_conn_id)["events"]

    selection = select_files(events, FileFilter.build(name_pattern="*.csv"))

    assert selection.skipped == {
        "folder": 1,
        "not_a_file": 1,  # the calendar event
        "duplicate": 2,  # temp.csv's delete and orders.csv's update superseded earlier events
        "deleted": 1,
        "not_downloadable": 1,
        "name": 1,
    }
    assert [f.name for f in selection.files] == ["CUSTOMERS.CSV", "orders.csv", "orders.csv"]


def test_max_files_fails_before_downloading_unless_told_to_truncate(
    busy_account, kloudless_conn_id, tmp_path
):
    batch = sensor_xcom(kloudless_conn_id)
    with pytest.raises(AirflowException, match="3 files match, more than max_files=2"):
        run(download(kloudless_conn_id, f"{tmp_path}/", events=batch, name_pattern="*.csv", max_files=2))
    assert list(tmp_path.iterdir()) == []

    result, _ = run(
        download(
            kloudless_conn_id, f"{tmp_path}/", events=batch, name_pattern="*.csv", max_files=2, truncate=True
        )
    )
    assert [r["file_id"] for r in result] == [busy_account["upper"]["id"], busy_account["orders"]["id"]]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["CUSTOMERS.CSV", "orders.csv"]


def test_a_file_deleted_after_the_batch_is_skipped_or_fails_when_asked(
    busy_account, hook, kloudless_conn_id, tmp_path
):
    batch = sensor_xcom(kloudless_conn_id)
    hook.delete_file(busy_account["orders"]["id"])  # after the batch: its delete event is not in it

    result, _ = run(download(kloudless_conn_id, f"{tmp_path}/", events=batch, name_pattern="*.csv"))
    assert [r["file_id"] for r in result] == [busy_account["upper"]["id"], busy_account["nested"]["id"]]

    with pytest.raises(NotFoundError):
        run(
            download(
                kloudless_conn_id, f"{tmp_path}/x/", events=batch, name_pattern="*.csv", skip_missing=False
            )
        )


def test_no_events_or_no_match_returns_an_empty_list(kloudless_conn_id, tmp_path):
    for events in ([], {"events": []}, "None", ""):
        result, pushed = run(download(kloudless_conn_id, f"{tmp_path}/", events=events))
        assert result == []
        assert pushed == {}
    assert list(tmp_path.iterdir()) == []


def test_one_file_path_for_several_files_is_refused(busy_account, kloudless_conn_id, tmp_path):
    batch = sensor_xcom(kloudless_conn_id)
    with pytest.raises(ValueError, match="end it with '/'"):
        run(download(kloudless_conn_id, str(tmp_path / "one.csv"), events=batch, name_pattern="*.csv"))
    assert list(tmp_path.iterdir()) == []


def test_results_are_small_json_and_never_contents(
    kloudless_emulator, kloudless_account_id, kloudless_conn_id, tmp_path
):
    content = b"x" * (2 * 1024 * 1024)
    meta = kloudless_emulator.add_file(kloudless_account_id, "big.csv", content)

    downloaded, _ = run(download(kloudless_conn_id, f"{tmp_path}/", file_id=meta["id"]))
    uploaded, _ = run(
        KloudlessUploadFileOperator(
            task_id="upload", conn_id=kloudless_conn_id, source=downloaded[0]["path"], name="copy.csv"
        )
    )

    for value in (downloaded, uploaded):
        text = json.dumps(value)
        assert len(text) < 300
        assert "xxxx" not in text
    assert set(downloaded[0]) == RESULT_KEYS
    assert json.loads(json.dumps(downloaded)) == downloaded


# -- upload ---------------------------------------------------------------------------------------


def test_upload_then_download_round_trips_the_bytes(
    kloudless_emulator, kloudless_account_id, kloudless_conn_id, tmp_path, memory_dir
):
    content = secrets.token_bytes(1_500_000)
    source = memory_dir / "in" / "payload.bin"
    source.fs.makedirs(source.parent.path, exist_ok=True)
    with source.fs.open(source.path, "wb") as handle:
        handle.write(content)
    folder = kloudless_emulator.add_folder(kloudless_account_id, "uploads")

    uploaded, _ = run(
        KloudlessUploadFileOperator(
            task_id="upload", conn_id=kloudless_conn_id, source=str(source), parent_id=folder["id"]
        )
    )
    assert uploaded == {
        "file_id": uploaded["file_id"],
        "name": "payload.bin",
        "size": len(content),
        "path": "/uploads/payload.bin",
    }
    assert kloudless_emulator.file_content(kloudless_account_id, uploaded["file_id"]) == content

    downloaded, _ = run(download(kloudless_conn_id, f"{tmp_path}/back/", file_id=uploaded["file_id"]))
    assert (tmp_path / "back" / "payload.bin").read_bytes() == content
    assert downloaded[0]["size"] == len(content)


def test_upload_overwrite_semantics(kloudless_emulator, kloudless_account_id, kloudless_conn_id, tmp_path):
    first, second = tmp_path / "v1.csv", tmp_path / "v2.csv"
    first.write_bytes(b"id\n1\n")
    second.write_bytes(b"id\n1\n2\n")

    def upload(source: Any, **kwargs: Any) -> dict[str, Any]:
        return run(
            KloudlessUploadFileOperator(
                task_id="upload", conn_id=kloudless_conn_id, source=str(source), name="data.csv", **kwargs
            )
        )[0]

    created = upload(first)
    with pytest.raises(ConflictError) as info:
        upload(second)
    assert info.value.status_code == 409
    assert kloudless_emulator.file_content(kloudless_account_id, created["file_id"]) == b"id\n1\n"

    replaced = upload(second, overwrite=True)
    assert replaced == {**created, "size": 7}  # same id, name and path
    assert kloudless_emulator.file_content(kloudless_account_id, created["file_id"]) == b"id\n1\n2\n"
    assert [e["type"] for e in kloudless_emulator.events(kloudless_account_id)] == ["add", "update"]


def test_upload_of_a_missing_source_fails_without_a_request(kloudless_emulator, kloudless_conn_id, tmp_path):
    before = len(kloudless_emulator.requests_seen)
    with pytest.raises(FileNotFoundError):
        run(
            KloudlessUploadFileOperator(
                task_id="u", conn_id=kloudless_conn_id, source=str(tmp_path / "no.csv")
            )
        )
    with pytest.raises(ValueError, match="source= is empty"):
        run(KloudlessUploadFileOperator(task_id="u", conn_id=kloudless_conn_id, source="None"))
    assert len(kloudless_emulator.requests_seen) == before
