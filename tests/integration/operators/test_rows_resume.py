"""
A retried import resumes where the failed try stopped, against a real Datasette (and the CloudTables emulator).

The task state store of the task instance is a dict here (its use under ``dag.test()``:
``tests/dags/test_import_resume_dag.py``). The fault is a trigger that refuses one row on the server, dropped
before the retry: the source file is unchanged, so the retry may resume.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sqlite3
import time
from types import SimpleNamespace
from typing import Any

import pytest
import structlog

from airflow_provider_cloud.exceptions import BadRequestError
from airflow_provider_cloud.operators.rows import ExportRowsOperator, ImportRowsOperator
from tests.integration.operators.rows_support import (
    as_stored,
    assert_same_rows,
    create_table,
    one_write_at_a_time,
    people_rows,
    record_lines,
    table_rows,
    write_csv,
)
from tests.integration.operators.test_rows import responses_seen

pytestmark = pytest.mark.integration
__all__ = ["responses_seen"]  # the fixture, shared


class StateStore:
    """Airflow's task state store of one task instance, shared by its tries, as a dict."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self.values[key] = value

    def delete(self, key: str) -> None:
        self.values.pop(key, None)


def context(store: StateStore, try_number: int) -> dict[str, Any]:
    return {"task_state_store": store, "ti": SimpleNamespace(try_number=try_number)}


def sql(server: Any, statement: str) -> None:
    connection = sqlite3.connect(server.db_path)
    try:
        connection.execute(statement)
        connection.commit()
    finally:
        connection.close()


def refuse_row(server: Any, table: str, row_id: int) -> None:
    sql(
        server,
        f'create trigger "fault_{table}" before insert on "{table}" when new.id = {row_id} '
        "begin select raise(abort, 'injected fault'); end",
    )


def upserts(seen: list[tuple[str, str]]) -> int:
    return sum(1 for method, path in seen if method == "POST" and path.endswith("/-/upsert"))


@pytest.mark.parametrize("window", [1, 8])
def test_a_retry_after_a_server_fault_resumes_within_one_window_and_the_table_ends_equal(
    monkeypatch, datasette_conn_id, datasette_server, fresh_table_name, tmp_path, responses_seen, window
):
    if window == 1:
        one_write_at_a_time(monkeypatch, datasette_server, datasette_conn_id)
    else:
        connection = {**datasette_server.connection_dict(), "extra": {"database": "data", "window": window}}
        monkeypatch.setenv(f"AIRFLOW_CONN_{datasette_conn_id.upper()}", json.dumps(connection))
    rows = people_rows(5_000, seed=21)
    source = write_csv(tmp_path / "people.csv", rows)
    create_table(datasette_server, fresh_table_name)
    refuse_row(datasette_server, fresh_table_name, 3_750)  # in the batch of rows 3,701-3,800
    store = StateStore()

    def importer() -> ImportRowsOperator:
        return ImportRowsOperator(
            task_id="import_rows",
            conn_id=datasette_conn_id,
            dataset=fresh_table_name,
            source=str(source),
            batch_size=100,
        )

    with pytest.raises(BadRequestError, match="injected fault") as caught:
        importer().execute(context(store, 1))

    # The third window's write counts its rows from 1, yet the error names the file's lines of the batch.
    lines = record_lines(source)
    assert f"rows at lines {lines[3_700]}-{lines[3_799]} of {source.as_uri()}" in str(caught.value)

    # Windows of 16 batches: rows 1-1,600 and 1,601-3,200 returned; the third window failed mid-way.
    assert store.values["import_checkpoint"]["rows_stored"] == 3_200
    stored = len(table_rows(datasette_server, fresh_table_name))
    if window == 1:
        assert stored == 3_700
    else:  # and batches sent after the refused one before its answer came (about a window's worth)
        assert 3_700 <= stored <= 3_700 + 2 * window * 100
    sql(datasette_server, f'drop trigger "fault_{fresh_table_name}"')  # the cause is removed
    responses_seen.clear()

    with structlog.testing.capture_logs() as logs:
        summary = importer().execute(context(store, 2))

    messages = [entry["event"] for entry in logs]
    assert (
        f"Resuming the import of {source.as_uri()}: 3,200 rows were stored by try 1; they are read and "
        "checked again, not sent" in messages
    )
    assert upserts(responses_seen) == 18  # rows 3,201-5,000; 500 sent again, within one window (1,600)
    assert summary["rows_read"] == summary["rows_written"] == 5_000
    assert summary["resumed_after"] == 3_200
    assert any(m.endswith("(resumed after row 3,200, stored by an earlier try)") for m in messages)
    assert_same_rows(table_rows(datasette_server, fresh_table_name), as_stored(rows))
    assert store.values == {}  # the checkpoint is gone with the success


def test_a_changed_source_starts_from_the_beginning(
    datasette_conn_id, datasette_server, fresh_table_name, tmp_path, responses_seen
):
    rows = people_rows(2_000, seed=22)
    source = write_csv(tmp_path / "people.csv", rows)
    create_table(datasette_server, fresh_table_name)
    refuse_row(datasette_server, fresh_table_name, 1_900)
    store = StateStore()
    options = {
        "conn_id": datasette_conn_id,
        "dataset": fresh_table_name,
        "source": str(source),
        "batch_size": 100,
    }

    with pytest.raises(BadRequestError):
        ImportRowsOperator(task_id="import_rows", **options).execute(context(store, 1))
    assert store.values["import_checkpoint"]["rows_stored"] == 1_600

    sql(datasette_server, f'drop trigger "fault_{fresh_table_name}"')
    changed = [dict(r, name=f"renamed {r['id']}") for r in rows]
    write_csv(source, changed + people_rows(1, seed=1, start=2_001))  # another version: other size
    responses_seen.clear()
    with structlog.testing.capture_logs() as logs:
        summary = ImportRowsOperator(task_id="import_rows", **options).execute(context(store, 2))

    assert any("starting from the beginning" in entry["event"] for entry in logs)
    assert summary["resumed_after"] == 0
    assert upserts(responses_seen) == 21
    assert [r["name"] for r in table_rows(datasette_server, fresh_table_name)][:2] == [
        "renamed 1",
        "renamed 2",
    ]


def test_an_insert_import_does_not_resume_and_says_so(
    datasette_conn_id, datasette_server, fresh_table_name, tmp_path
):
    source = write_csv(tmp_path / "people.csv", people_rows(50, seed=23))
    store = StateStore()
    operator = ImportRowsOperator(
        task_id="import_rows",
        conn_id=datasette_conn_id,
        dataset=fresh_table_name,
        source=str(source),
        key="id",
        create=True,
        mode="insert",
    )
    with structlog.testing.capture_logs() as logs:
        summary = operator.execute(context(store, 1))
    assert summary["rows_written"] == 50
    assert (
        "This import cannot resume after a failed try (mode 'insert': only upsert, ignore, replace write rows "
        "again as they were): a retry starts over"
    ) in [entry["event"] for entry in logs]
    assert store.values == {}


# -- a killed export's temporary file --------------------------------------------------------------------


def _export_then_die(conn_id: str, table: str, destination: str) -> None:
    """In a child process: export, and die by SIGKILL after 600 rows reached the temporary file."""
    from airflow_provider_cloud.operators import _rows_support

    track = _rows_support.CursorTracker.track

    def dying(self: Any, rows: Any) -> Any:
        for number, row in enumerate(track(self, rows), start=1):
            if number == 600:
                os.kill(os.getpid(), signal.SIGKILL)  # no finally, no clean-up: as a killed task
            yield row

    _rows_support.CursorTracker.track = dying  # type: ignore[method-assign]
    ExportRowsOperator(
        task_id="export_rows", conn_id=conn_id, dataset=table, destination=destination, page_size=100
    ).execute(context={})


def test_a_killed_exports_temporary_is_removed_by_the_next_export(
    datasette_conn_id, datasette_server, fresh_table_name, tmp_path
):
    rows = people_rows(2_000, seed=24)
    create_table(datasette_server, fresh_table_name, rows)
    destination = tmp_path / "people.csv"
    child = multiprocessing.get_context("fork").Process(
        target=_export_then_die, args=(datasette_conn_id, fresh_table_name, str(destination))
    )
    child.start()
    child.join(60)
    assert child.exitcode == -9
    left = list(tmp_path.iterdir())
    assert [p.name.startswith(".people.csv.") and p.name.endswith(".tmp") for p in left] == [True]
    stale = time.time() - 600
    os.utime(left[0], (stale, stale))  # the retry comes later (Airflow's default delay is 5 minutes)

    result = ExportRowsOperator(
        task_id="export_rows",
        conn_id=datasette_conn_id,
        dataset=fresh_table_name,
        destination=str(destination),
    ).execute(context={})

    assert result["rows"] == 2_000
    assert [p.name for p in tmp_path.iterdir()] == ["people.csv"]


def test_json_rows_creating_their_table_write_at_once_so_later_columns_are_added(
    datasette_conn_id, datasette_server, fresh_table_name, tmp_path
):
    lines = [json.dumps({"id": i, "name": f"n{i}"}) for i in range(1, 40)]
    lines.append(json.dumps({"id": 40, "name": "n40", "colour": "red"}))  # a column the first rows lack
    source = tmp_path / "rows.jsonl"
    source.write_text("\n".join(lines) + "\n")
    operator = ImportRowsOperator(
        task_id="import_rows",
        conn_id=datasette_conn_id,
        dataset=fresh_table_name,
        source=str(source),
        key="id",
        create=True,
        batch_size=2,  # windows of 32 rows: row 40 comes in the second
    )
    with structlog.testing.capture_logs() as logs:
        summary = operator.execute(context(StateStore(), 1))
    assert summary["rows_written"] == 40
    assert datasette_server.sql(f'select colour from "{fresh_table_name}" where id = 40') == [
        {"colour": "red"}
    ]
    assert any(
        "the data set is created by this import from JSON rows, whose columns" in e["event"] for e in logs
    )
