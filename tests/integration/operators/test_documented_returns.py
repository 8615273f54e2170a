"""Each operator and sensor returns exactly the keys its how-to page documents, run against the real local servers."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_cloud.operators import cursor as cursor_module
from airflow_provider_cloud.operators._embed_access import EmbedAccess
from airflow_provider_cloud.operators.cleanup import CleanupRowsOperator
from airflow_provider_cloud.operators.cloudtables import CloudTablesAccessTokenOperator
from airflow_provider_cloud.operators.cursor import CommitCursorOperator
from airflow_provider_cloud.operators.kloudless import (
    KloudlessDownloadFileOperator,
    KloudlessUploadFileOperator,
)
from airflow_provider_cloud.operators.rows import ExportRowsOperator, ImportRowsOperator
from airflow_provider_cloud.sensors.kloudless import KloudlessEventsSensor

pytestmark = pytest.mark.integration

HOWTO = Path(__file__).resolve().parents[3] / "docs" / "howto"


def documented(page: str, name: str) -> str:
    """Return the text of the 'What ``name`` returns' section of ``docs/howto/<page>.md``."""
    text = (HOWTO / f"{page}.md").read_text(encoding="utf-8")
    found = re.search(rf"^\(returns-{name.lower()}\)=\n(?P<body>.+?)(?=^#|\Z)", text, re.M | re.S)
    assert found, f"docs/howto/{page}.md has no return-value section for {name}"
    return found["body"]


def documented_keys(page: str, name: str) -> set[str]:
    """Return the keys the section names: its table's first column, else its first ``{"a", "b"}`` set."""
    body = documented(page, name)
    rows = re.findall(r"^\| (`\w+`(?:, `\w+`)*) \|", body, re.M)
    if rows:
        return {key for row in rows for key in re.findall(r"`(\w+)`", row)}
    first = re.search(r"\{((?:\"\w+\",? ?)+)\}", body)
    assert first, f"the return-value section of {name} names no keys"
    return set(re.findall(r"\"(\w+)\"", first[1]))


def run(operator: Any) -> Any:
    return operator.execute(context={})


def test_the_row_operators_return_what_their_pages_say(datasette_conn_id, fresh_table_name, tmp_path):
    source = tmp_path / "people.csv"
    source.write_text("id,name,updated_at\n1,Ada,2026-01-01\n2,Grace,2026-01-02\n", encoding="utf-8")
    common = {"conn_id": datasette_conn_id, "dataset": fresh_table_name}

    imported = run(ImportRowsOperator(task_id="i", source=str(source), key="id", create=True, **common))
    exported = run(
        ExportRowsOperator(
            task_id="e", destination=str(tmp_path / "out.csv"), cursor_column="updated_at", **common
        )
    )
    counted = run(CleanupRowsOperator(task_id="c", where={"id": 1}, dry_run=True, **common))

    assert set(imported) == documented_keys("import-rows", "ImportRowsOperator")
    assert (imported["rows_read"], imported["rows_written"], imported["resumed_after"]) == (2, 2, 0)
    assert set(exported) == documented_keys("export-rows", "ExportRowsOperator")
    assert exported["cursor"] == "2026-01-02"
    assert counted == 1
    assert "An `int`" in documented("cleanup-rows", "CleanupRowsOperator")


def test_the_cursor_commit_returns_what_its_page_says(monkeypatch):
    class Variables:
        values: dict[str, str] = {}

        @classmethod
        def get(cls, key: str, default: Any = None) -> Any:
            return cls.values.get(key, default)

        @classmethod
        def set(cls, key: str, value: str, description: str | None = None) -> None:
            cls.values[key] = value

    monkeypatch.setattr(cursor_module, "Variable", Variables)
    result = run(CommitCursorOperator(task_id="commit", variable="v", cursor="7"))
    assert result == {"variable": "v", "previous": None, "cursor": "7", "stored": True}
    assert set(result) == documented_keys("commit-cursor", "CommitCursorOperator")


def test_the_embed_token_returns_what_its_page_says(cloudtables_emulator, cloudtables_conn_id):
    cloudtables_emulator.add_dataset("People", [("Name", "text")])
    result = run(
        CloudTablesAccessTokenOperator(
            task_id="t", conn_id=cloudtables_conn_id, dataset="People", roles="Viewer"
        )
    )
    assert isinstance(result, EmbedAccess)  # the page: a wrapper, a plain dict once read back
    read_back = EmbedAccess.deserialize(result.serialize(), EmbedAccess.__version__)
    assert type(read_back) is dict
    assert set(read_back) == documented_keys("cloudtables-access-token", "CloudTablesAccessTokenOperator")
    assert read_back["expires_in"] == 1200  # the page: 1200 when no duration was given


def test_the_kloudless_tasks_return_what_their_pages_say(
    kloudless_emulator, kloudless_account_id, kloudless_conn_id, tmp_path
):
    sensor = KloudlessEventsSensor(task_id="s", conn_id=kloudless_conn_id, start_from="oldest")
    meta = kloudless_emulator.add_file(kloudless_account_id, "data.csv", b"id\n1\n")
    (tmp_path / "a.csv").write_bytes(b"id\n2\n")
    (tmp_path / "b.csv").write_bytes(b"id\n3\n")

    waited = sensor.poke({}).xcom_value
    downloaded = run(
        KloudlessDownloadFileOperator(
            task_id="d", conn_id=kloudless_conn_id, file_id=meta["id"], destination=f"{tmp_path}/in/"
        )
    )
    one = run(
        KloudlessUploadFileOperator(task_id="u", conn_id=kloudless_conn_id, source=str(tmp_path / "a.csv"))
    )
    several = run(
        KloudlessUploadFileOperator(task_id="u2", conn_id=kloudless_conn_id, source=f"{tmp_path}/b.csv*")
    )

    assert set(waited) == documented_keys("kloudless-events-sensor", "KloudlessEventsSensor")
    download_keys = documented_keys("kloudless-download", "KloudlessDownloadFileOperator")
    assert [set(item) for item in downloaded] == [download_keys]
    upload_keys = documented_keys("kloudless-upload", "KloudlessUploadFileOperator")
    assert set(one) == upload_keys
    assert [set(item) for item in several] == [upload_keys]  # a glob: a list, even of one file
