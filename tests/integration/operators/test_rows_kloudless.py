"""Import from and export to ``kloudless://`` paths: the Kloudless emulator and a real Datasette, over HTTP."""

from __future__ import annotations

import csv

import pytest

from airflow_provider_cloud.exceptions import RowDataError
from airflow_provider_cloud.hooks.kloudless import KloudlessHook
from airflow_provider_cloud.operators.rows import ExportRowsOperator, ImportRowsOperator
from tests.integration.operators.rows_support import expected_from_csv, table_rows, write_people_csv

pytestmark = pytest.mark.integration


@pytest.fixture
def inbox(kloudless_conn_id):
    """A folder ``inbox`` in the account; returns its id."""
    return KloudlessHook(kloudless_conn_id).create_folder("inbox")["id"]


def test_import_whose_source_is_a_kloudless_csv(
    kloudless_conn_id, inbox, datasette_conn_id, datasette_server, fresh_table_name, tmp_path
):
    local = write_people_csv(tmp_path / "people.csv", 2_000, seed=16)
    KloudlessHook(kloudless_conn_id).upload_file(local, parent_id=inbox)
    source = f"kloudless://{kloudless_conn_id}@me/inbox/people.csv"

    summary = ImportRowsOperator(
        task_id="import_rows",
        conn_id=datasette_conn_id,
        dataset=fresh_table_name,
        source=source,
        key="id",
        create=True,
    ).execute(context={})

    assert summary["source"] == source
    assert (summary["rows_read"], summary["rows_written"], summary["rows_rejected"]) == (2_000, 2_000, 0)
    assert table_rows(datasette_server, fresh_table_name) == expected_from_csv(local)


def test_import_of_a_missing_kloudless_file_names_it(
    kloudless_conn_id, inbox, datasette_conn_id, fresh_table_name
):
    operator = ImportRowsOperator(
        task_id="import_rows",
        conn_id=datasette_conn_id,
        dataset=fresh_table_name,
        source=f"kloudless://{kloudless_conn_id}@me/inbox/none.csv",
        create=True,
    )

    with pytest.raises(
        RowDataError, match=r"^kloudless://kloudless_default@me/inbox/none\.csv: file not found$"
    ):
        operator.execute(context={})


def test_export_writes_a_kloudless_csv(
    kloudless_emulator,
    kloudless_conn_id,
    inbox,
    datasette_conn_id,
    datasette_server,
    fresh_table_name,
    tmp_path,
):
    local = write_people_csv(tmp_path / "people.csv", 300, seed=17)
    ImportRowsOperator(
        task_id="import_rows",
        conn_id=datasette_conn_id,
        dataset=fresh_table_name,
        source=str(local),
        key="id",
        create=True,
    ).execute(context={})
    destination = f"kloudless://{kloudless_conn_id}@me/inbox/out.csv"
    seen_before = len(kloudless_emulator.requests_seen)

    result = ExportRowsOperator(
        task_id="export_rows", conn_id=datasette_conn_id, dataset=fresh_table_name, destination=destination
    ).execute(context={})

    assert result["rows"] == 300
    seen = kloudless_emulator.requests_seen[seen_before:]
    writes = [
        (e["method"], e["path"].split("/storage/")[1].split("/")[0]) for e in seen if e["method"] != "GET"
    ]
    assert writes == [("POST", "files"), ("PATCH", "files")]  # uploaded once, then renamed into place
    hook = KloudlessHook(kloudless_conn_id)
    items = {item["name"]: item for item in hook.list_folder(inbox)}
    assert sorted(items) == ["out.csv"]  # the writer's temporary was moved into place, none left
    download = tmp_path / "back.csv"
    hook.download_file(items["out.csv"]["id"], download)
    with download.open(newline="", encoding="utf-8") as handle:
        exported = list(csv.DictReader(handle))
    stored = table_rows(datasette_server, fresh_table_name)
    assert exported == [{k: "" if v is None else str(v) for k, v in row.items()} for row in stored]
