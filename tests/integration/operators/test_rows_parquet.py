"""Parquet import and export through the row operators, against a real Datasette 1.0a41."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import sqlite3
import uuid

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from airflow.sdk.exceptions import AirflowException

from airflow_provider_cloud.exceptions import RowDataError
from airflow_provider_cloud.operators.rows import ExportRowsOperator, ImportRowsOperator
from tests.integration.operators.rows_support import create_table, people_rows, table_rows

pytestmark = pytest.mark.integration


def run(operator):
    return operator.execute(context={})


def importer(conn_id, table, source, **kwargs):
    return ImportRowsOperator(task_id="import", conn_id=conn_id, dataset=table, source=str(source), **kwargs)


def exporter(conn_id, table, destination, **kwargs):
    return ExportRowsOperator(
        task_id="export", conn_id=conn_id, dataset=table, destination=str(destination), **kwargs
    )


@pytest.fixture
def people_table(datasette_server, fresh_table_name):
    rows = people_rows(300, seed=11)
    create_table(datasette_server, fresh_table_name, rows)
    return table_rows(datasette_server, fresh_table_name)


def test_export_to_parquet_then_import_gives_the_same_table(
    datasette_conn_id, datasette_server, fresh_table_name, people_table, tmp_path
):
    destination = tmp_path / "out" / "people.parquet"

    exported = run(exporter(datasette_conn_id, fresh_table_name, destination, page_size=70))

    assert exported == {"path": destination.as_uri(), "rows": 300, "cursor": None}
    assert [p.name for p in destination.parent.iterdir()] == ["people.parquet"]  # no temporary left
    # every column typed by the table's type: integer, real and text (SQLite booleans are integers)
    assert pq.read_schema(destination) == pa.schema(
        [
            ("id", pa.int64()),
            ("name", pa.string()),
            ("score", pa.float64()),
            ("qty", pa.int64()),
            ("active", pa.int64()),
            ("born", pa.string()),
            ("note", pa.string()),
        ]
    )
    assert pq.read_table(destination).to_pylist() == people_table

    copy = f"{fresh_table_name}_copy"
    imported = run(importer(datasette_conn_id, copy, destination, key="id", create=True))

    assert imported["rows_read"] == imported["rows_written"] == 300
    assert imported["source"] == destination.as_uri()
    assert table_rows(datasette_server, copy) == people_table
    types = datasette_server.sql(
        f'select typeof(id) i, typeof(score) s, typeof(qty) q, typeof(note) n from "{copy}" '
        "where score is not null and qty is not null and note is not null limit 1"
    )
    assert types == [{"i": "integer", "s": "real", "q": "integer", "n": "text"}]


def test_import_of_every_parquet_type_into_a_new_table(
    datasette_conn_id, datasette_server, fresh_table_name, tmp_path
):
    source = tmp_path / "types.parquet"
    pq.write_table(
        pa.table(
            {
                "id": pa.array([1, 2, 3], pa.int16()),
                "f": pa.array([0.25, None, -1e300]),
                "flag": [True, False, None],
                "name": ["Zoë", "", None],
                "day": pa.array([dt.date(2024, 2, 29), None, dt.date(1970, 1, 1)]),
                "at": pa.array(
                    [dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.UTC), None, None], pa.timestamp("s", "UTC")
                ),
                "price": pa.array(
                    [decimal.Decimal("12.50"), decimal.Decimal("-0.01"), None], pa.decimal128(8, 2)
                ),
                "tags": [["a"], [], None],
                "kind": pa.array(["x", "y", "x"]).dictionary_encode(),
            }
        ),
        source,
    )

    result = run(importer(datasette_conn_id, fresh_table_name, source, key="id", create=True))

    assert result["rows_written"] == 3
    assert table_rows(datasette_server, fresh_table_name) == [
        {"id": 1, "f": 0.25, "flag": 1, "name": "Zoë", "day": "2024-02-29", "at": "2024-05-01T12:30:00+00:00",
         "price": 12.5, "tags": '["a"]', "kind": "x"},
        {"id": 2, "f": None, "flag": 0, "name": "", "day": None, "at": None, "price": -0.01, "tags": "[]",
         "kind": "y"},
        {"id": 3, "f": -1e300, "flag": None, "name": None, "day": "1970-01-01", "at": None, "price": None,
         "tags": None, "kind": "x"},
    ]  # fmt: skip


def test_parquet_round_trip_through_an_object_store_path(
    datasette_conn_id, datasette_server, fresh_table_name, people_table
):
    folder = f"memory://apc-parquet/{uuid.uuid4().hex}"
    memory = fsspec.filesystem("memory")
    try:
        run(
            exporter(datasette_conn_id, fresh_table_name, f"{folder}/people.parquet", where={"qty__lt": 5000})
        )
        wanted = [row for row in people_table if row["qty"] is not None and row["qty"] < 5000]

        copy = f"{fresh_table_name}_copy"
        result = run(importer(datasette_conn_id, copy, f"{folder}/people.parquet", key="id", create=True))

        assert result["rows_written"] == len(wanted) > 0
        assert result["source"] == f"{folder}/people.parquet"
        assert table_rows(datasette_server, copy) == wanted
    finally:
        memory.rm(folder, recursive=True)


def test_a_bad_parquet_row_fails_the_import_naming_row_and_column_or_goes_to_rejects(
    datasette_conn_id, datasette_server, fresh_table_name, tmp_path
):
    create_table(datasette_server, fresh_table_name)
    source = tmp_path / "scores.parquet"
    pq.write_table(pa.table({"id": [1, 2, 3], "score": [1.0, float("inf"), 3.0]}), source)

    with pytest.raises(RowDataError) as caught:
        run(importer(datasette_conn_id, fresh_table_name, source))
    assert str(caught.value).startswith(f"{source.as_uri()}, row 2, column 'score': inf is not a number")
    assert table_rows(datasette_server, fresh_table_name) == []  # only full batches before it are written

    rejects = tmp_path / "rejects.jsonl"
    result = run(
        importer(datasette_conn_id, fresh_table_name, source, on_bad_rows="skip", rejects_path=str(rejects))
    )
    assert (result["rows_written"], result["rows_rejected"]) == (2, 1)
    (rejected,) = [json.loads(line) for line in rejects.read_text(encoding="utf-8").splitlines()]
    assert (rejected["source"], rejected["line"], rejected["column"]) == (source.as_uri(), 2, "score")


def test_a_parquet_file_without_the_key_column_is_named_before_any_write(
    datasette_conn_id, datasette_server, fresh_table_name, tmp_path
):
    create_table(datasette_server, fresh_table_name)
    source = tmp_path / "nokey.parquet"
    pq.write_table(pa.table({"name": ["a"]}), source)

    with pytest.raises(RowDataError) as caught:
        run(importer(datasette_conn_id, fresh_table_name, source))

    assert str(caught.value).startswith(f"{source.as_uri()}, column 'id': the file has no key column 'id'")
    assert table_rows(datasette_server, fresh_table_name) == []


@pytest.mark.parametrize("content", [b"id,name\n1,a\n", b"PAR1 cut short"], ids=["not-parquet", "truncated"])
def test_a_file_that_is_not_parquet_fails_naming_it_and_writes_nothing(
    datasette_conn_id, datasette_server, fresh_table_name, tmp_path, content
):
    create_table(datasette_server, fresh_table_name)
    source = tmp_path / "bad.parquet"
    source.write_bytes(content)

    with pytest.raises(RowDataError, match=rf"^{source.as_uri()}: not a Parquet file, or one cut short"):
        run(importer(datasette_conn_id, fresh_table_name, source))
    assert table_rows(datasette_server, fresh_table_name) == []


def test_an_export_whose_column_changes_type_fails_naming_the_row_and_leaves_no_file(
    datasette_conn_id, datasette_server, fresh_table_name, tmp_path
):
    # An untyped SQLite column holds any value: the first rows decide its Parquet type.
    connection = sqlite3.connect(datasette_server.db_path)
    try:
        connection.execute(f'create table "{fresh_table_name}" (id integer primary key, misc, label)')
        rows = [(n, n, "text" if n < 4500 else n) for n in range(1, 5001)]
        rows[4799] = (4800, "many", "text")
        connection.executemany(f'insert into "{fresh_table_name}" values (?, ?, ?)', rows)
        connection.commit()
    finally:
        connection.close()
    destination = tmp_path / "mixed.parquet"

    with pytest.raises(RowDataError) as caught:
        run(exporter(datasette_conn_id, fresh_table_name, destination, order_by="id"))

    assert str(caught.value).startswith(
        f"{destination.as_uri()}, row 4800, column 'misc': 'many' (str) does not fit the column's Parquet "
        "type int64, decided by the first rows' values"
    )
    assert list(tmp_path.iterdir()) == []

    # Without the odd value: a number later in a text column is written as its text.
    run(exporter(datasette_conn_id, fresh_table_name, destination, order_by="id", where={"id__lt": 4800}))
    table = pq.read_table(destination)
    assert table.schema.field("label").type == pa.string()
    assert table.column("label").to_pylist()[4498:4501] == ["text", "4500", "4501"]


def test_an_empty_table_exports_a_parquet_file_with_its_columns(
    datasette_conn_id, datasette_server, fresh_table_name, tmp_path
):
    create_table(datasette_server, fresh_table_name)
    destination = tmp_path / "empty.parquet"

    result = run(exporter(datasette_conn_id, fresh_table_name, destination))

    assert result["rows"] == 0
    schema = pq.read_schema(destination)
    assert schema.names == ["id", "name", "score", "qty", "active", "born", "note"]
    assert schema.field("score").type == pa.float64()
    assert pq.read_metadata(destination).num_rows == 0


def test_export_with_format_parquet_and_another_name(
    datasette_conn_id, fresh_table_name, people_table, tmp_path
):
    destination = tmp_path / "people.data"

    run(exporter(datasette_conn_id, fresh_table_name, destination, format="parquet", columns=["id", "name"]))

    assert pq.read_table(destination).to_pylist() == [
        {"id": r["id"], "name": r["name"]} for r in people_table
    ]


def test_a_failing_import_reports_an_airflow_error(datasette_conn_id, fresh_table_name, tmp_path):
    source = tmp_path / "gone.parquet"
    with pytest.raises(AirflowException, match="gone.parquet: file not found"):
        run(importer(datasette_conn_id, fresh_table_name, source, create=True, key="id"))
