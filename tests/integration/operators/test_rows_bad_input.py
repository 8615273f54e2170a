"""
Bad input to ImportRowsOperator against a real Datasette: each error names what it can, nothing of its batch is written.

Every import here sends batches of 10 rows, so a bad row at data row ``k`` leaves exactly the full batches
before it in the table: ids ``1 .. 10 * ((k - 1) // 10)``.
"""

from __future__ import annotations

import json

import pytest
from airflow.sdk.exceptions import AirflowException

from airflow_provider_cloud.exceptions import NotFoundError, RowDataError, UnsupportedConnectionError
from airflow_provider_cloud.operators.rows import ImportRowsOperator
from tests.integration.operators.rows_support import create_table, table_ids

pytestmark = pytest.mark.integration

BATCH = 10


@pytest.fixture
def table(datasette_server, fresh_table_name):
    """An empty people table (id integer primary key, name, score, qty, active, born, note)."""
    create_table(datasette_server, fresh_table_name)
    return fresh_table_name


def run_import(conn_id, table, **kwargs):
    kwargs.setdefault("batch_size", BATCH)
    operator = ImportRowsOperator(task_id="import_rows", conn_id=conn_id, dataset=table, **kwargs)
    return operator.execute(context={})


def csv_file(path, lines, header="id,name,qty"):
    path.write_bytes(("\r\n".join([header, *lines]) + "\r\n").encode("utf-8"))
    return path


def good_lines(count, start=1):
    return [f"{i},name {i},{i}" for i in range(start, start + count)]


def full_batches_before(row):
    """Ids written when data row ``row`` fails: the full batches before it."""
    return list(range(1, BATCH * ((row - 1) // BATCH) + 1))


def fails_with(error_type, conn_id, table, **kwargs):
    with pytest.raises(error_type) as caught:
        run_import(conn_id, table, **kwargs)
    return caught.value


def test_malformed_csv_line_wrong_field_count(datasette_conn_id, datasette_server, table, tmp_path):
    lines = good_lines(40)
    lines[26] = "27,name 27"  # data row 27, file line 28
    source = csv_file(tmp_path / "in.csv", lines)

    error = fails_with(RowDataError, datasette_conn_id, table, source=str(source))

    assert str(error) == f"{source.as_uri()}, line 28: expected 3 fields (one per column), found 2"
    assert (error.line, error.column) == (28, None)
    assert table_ids(datasette_server, table) == full_batches_before(27)


def test_unterminated_quote(datasette_conn_id, datasette_server, table, tmp_path):
    lines = good_lines(30)
    lines[23] = '24,"name 24,24'  # swallows the rest of the file
    source = csv_file(tmp_path / "in.csv", lines)

    error = fails_with(RowDataError, datasette_conn_id, table, source=str(source))

    assert str(error) == (
        f"{source.as_uri()}, line 25: malformed CSV: a quoted value is never closed "
        "(unterminated quote at the end of the file)"
    )
    assert table_ids(datasette_server, table) == full_batches_before(24)


@pytest.mark.parametrize("key", [None, "id"], ids=["table-key", "given-key"])
def test_row_without_its_key(datasette_conn_id, datasette_server, table, tmp_path, key):
    lines = good_lines(30)
    lines[14] = ",name 15,15"  # data row 15, file line 16
    source = csv_file(tmp_path / "in.csv", lines)

    error = fails_with(RowDataError, datasette_conn_id, table, source=str(source), key=key)

    assert str(error) == f"{source.as_uri()}, line 16, column 'id': the row has no value for its key"
    assert table_ids(datasette_server, table) == full_batches_before(15)


def test_unknown_column(datasette_conn_id, datasette_server, table, tmp_path):
    source = csv_file(
        tmp_path / "in.csv", [f"{i},name {i},red" for i in range(1, 21)], header="id,name,colour"
    )

    error = fails_with(RowDataError, datasette_conn_id, table, source=str(source))

    assert str(error) == (
        f"{source.as_uri()}, line 2, column 'colour': unknown column (the data set has "
        "['active', 'born', 'id', 'name', 'note', 'qty', 'score'])"
    )
    assert table_ids(datasette_server, table) == []


def test_value_that_cannot_be_converted(datasette_conn_id, datasette_server, table, tmp_path):
    lines = good_lines(40)
    lines[32] = "33,name 33,abc"
    source = csv_file(tmp_path / "in.csv", lines)

    error = fails_with(RowDataError, datasette_conn_id, table, source=str(source), types={"qty": "integer"})

    assert str(error) == f"{source.as_uri()}, line 34, column 'qty': 'abc' is not an integer"
    assert table_ids(datasette_server, table) == full_batches_before(33)


def test_json_value_of_the_wrong_type(datasette_conn_id, datasette_server, table, tmp_path):
    rows = [{"id": i, "name": f"name {i}", "qty": i} for i in range(1, 31)]
    rows[21]["qty"] = "many"
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")

    error = fails_with(RowDataError, datasette_conn_id, table, source=str(source), types={"qty": "integer"})

    assert str(error) == f"{source.as_uri()}, line 22, column 'qty': 'many' is not an integer"
    assert table_ids(datasette_server, table) == full_batches_before(22)


def test_empty_file(datasette_conn_id, datasette_server, table, tmp_path):
    source = tmp_path / "empty.csv"
    source.write_bytes(b"")

    error = fails_with(RowDataError, datasette_conn_id, table, source=str(source))

    assert str(error) == f"{source.as_uri()}: file is empty (no header row)"
    assert (error.line, error.column) == (None, None)
    assert table_ids(datasette_server, table) == []


def test_missing_file(datasette_conn_id, datasette_server, table, tmp_path):
    source = tmp_path / "nowhere" / "in.csv"

    error = fails_with(RowDataError, datasette_conn_id, table, source=str(source))

    assert str(error) == f"{source.as_uri()}: file not found"
    assert table_ids(datasette_server, table) == []


def test_json_lines_line_that_is_not_an_object(datasette_conn_id, datasette_server, table, tmp_path):
    lines = [json.dumps({"id": i, "name": f"name {i}"}) for i in range(1, 31)]
    lines[22] = '[23, "name 23"]'
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")

    error = fails_with(RowDataError, datasette_conn_id, table, source=str(source))

    assert str(error) == f"{source.as_uri()}, line 23: expected a JSON object, got an array"
    assert table_ids(datasette_server, table) == full_batches_before(23)


def test_json_lines_line_that_is_not_json(datasette_conn_id, datasette_server, table, tmp_path):
    lines = [json.dumps({"id": i, "name": f"name {i}"}) for i in range(1, 31)]
    lines[11] = '{"id": 12, "name": "name 12"'
    source = tmp_path / "in.ndjson"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")

    error = fails_with(RowDataError, datasette_conn_id, table, source=str(source))

    assert str(error).startswith(f"{source.as_uri()}, line 12: not valid JSON: ")
    assert table_ids(datasette_server, table) == full_batches_before(12)


def test_json_document_that_is_not_an_array(datasette_conn_id, datasette_server, table, tmp_path):
    source = tmp_path / "in.json"
    source.write_text('{"id": 1, "name": "Ada"}\n', encoding="utf-8")

    error = fails_with(RowDataError, datasette_conn_id, table, source=str(source))

    assert str(error) == (
        f"{source.as_uri()}, line 1: expected a JSON array of objects, found an object "
        "(for one object per line, use JSON Lines)"
    )
    assert table_ids(datasette_server, table) == []


def test_duplicate_csv_header(datasette_conn_id, datasette_server, table, tmp_path):
    source = csv_file(tmp_path / "in.csv", good_lines(5), header="id,name,name")

    error = fails_with(RowDataError, datasette_conn_id, table, source=str(source))

    assert str(error) == (
        f"{source.as_uri()}, line 1, column 'name': the header names column 'name' twice (columns 2 and 3)"
    )
    assert table_ids(datasette_server, table) == []


def test_file_name_without_a_known_format(datasette_conn_id, datasette_server, table, tmp_path):
    source = csv_file(tmp_path / "in.txt", good_lines(5))

    error = fails_with(RowDataError, datasette_conn_id, table, source=str(source))

    assert str(error).startswith(f"{source.as_uri()}: cannot tell the row format from the file name")
    assert "format='csv'" in str(error)
    assert table_ids(datasette_server, table) == []


def test_connection_of_an_unsupported_type(monkeypatch, datasette_server, table, tmp_path):
    monkeypatch.setenv("AIRFLOW_CONN_WEB", '{"conn_type": "http", "host": "example"}')
    source = csv_file(tmp_path / "in.csv", good_lines(5))

    error = fails_with(UnsupportedConnectionError, "web", table, source=str(source))

    assert str(error) == (
        "Connection 'web' has type 'http', which has no row hook; "
        "the row operators work with connection types: cloudtables, datasette"
    )
    assert table_ids(datasette_server, table) == []


def test_table_that_does_not_exist(datasette_conn_id, datasette_server, fresh_table_name, tmp_path):
    source = csv_file(tmp_path / "in.csv", good_lines(5))

    error = fails_with(NotFoundError, datasette_conn_id, fresh_table_name, source=str(source))

    assert f"table {fresh_table_name!r} does not exist in database 'data' (pass create=True" in str(error)
    assert datasette_server.sql("select name from sqlite_master where name = ?", [fresh_table_name]) == []


def test_rows_given_as_a_rendered_string(datasette_conn_id, datasette_server, table):
    rendered = "[{'id': 1, 'name': 'Ada'}]"  # what "{{ ti.xcom_pull(...) }}" renders to

    error = fails_with(ValueError, datasette_conn_id, table, rows=rendered)

    assert str(error).startswith("rows= rendered to a string, not a list of rows")
    assert "render_template_as_native_obj=True" in str(error)
    assert table_ids(datasette_server, table) == []


def test_inline_row_without_its_key(datasette_conn_id, datasette_server, table):
    rows = [{"id": i, "name": f"name {i}"} for i in range(1, 26)]
    rows[12] = {"name": "no id"}

    error = fails_with(RowDataError, datasette_conn_id, table, rows=rows)

    assert str(error) == "rows, line 13, column 'id': the row has no value for its key"
    assert table_ids(datasette_server, table) == full_batches_before(13)


# -- skipping bad rows ---------------------------------------------------------------------------------


def read_rejects(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_skip_bad_rows_into_a_rejects_file(datasette_conn_id, datasette_server, table, tmp_path):
    lines = good_lines(30)
    lines[4] = "5,name 5"
    lines[11] = ",name 12,12"
    lines[19] = "20,name 20,abc"
    source = csv_file(tmp_path / "in.csv", lines)
    rejects = tmp_path / "rejects" / "bad.jsonl"

    summary = run_import(
        datasette_conn_id,
        table,
        source=str(source),
        types={"qty": "integer"},
        on_bad_rows="skip",
        rejects_path=str(rejects),
    )

    assert summary["rows_read"] == 30
    assert summary["rows_written"] == 27
    assert summary["rows_rejected"] == 3
    assert summary["rejects_path"] == str(rejects)
    assert table_ids(datasette_server, table) == [i for i in range(1, 31) if i not in (5, 12, 20)]
    url = source.as_uri()
    assert read_rejects(rejects) == [
        {
            "source": url,
            "line": 6,
            "column": None,
            "reason": "expected 3 fields (one per column), found 2",
            "row": None,
            "raw": "5,name 5",
        },
        {
            "source": url,
            "line": 13,
            "column": "id",
            "reason": "the row has no value for its key",
            "row": {"id": None, "name": "name 12", "qty": 12},
            "raw": None,
        },
        {
            "source": url,
            "line": 21,
            "column": "qty",
            "reason": "'abc' is not an integer",
            "row": {"id": "20", "name": "name 20", "qty": "abc"},
            "raw": "20,name 20,abc",
        },
    ]


def test_no_rejects_file_when_nothing_is_rejected(datasette_conn_id, datasette_server, table, tmp_path):
    source = csv_file(tmp_path / "in.csv", good_lines(12))
    rejects = tmp_path / "bad.jsonl"

    summary = run_import(
        datasette_conn_id, table, source=str(source), on_bad_rows="skip", rejects_path=str(rejects)
    )

    assert (summary["rows_written"], summary["rows_rejected"], summary["rejects_path"]) == (12, 0, None)
    assert not rejects.exists()


def test_max_bad_rows_stops_the_import(datasette_conn_id, datasette_server, table, tmp_path):
    lines = good_lines(40)
    for row in (5, 12, 27):
        lines[row - 1] = f"{row},name {row}"
    source = csv_file(tmp_path / "in.csv", lines)
    rejects = tmp_path / "bad.jsonl"

    error = fails_with(
        AirflowException,
        datasette_conn_id,
        table,
        source=str(source),
        on_bad_rows="skip",
        rejects_path=str(rejects),
        max_bad_rows=2,
    )

    assert str(error) == (
        f"{source.as_uri()}: more than 2 bad rows (the last: {source.as_uri()}, line 28: expected 3 fields "
        f"(one per column), found 2); stopped the import, rejects so far are in {rejects}"
    )
    # the first 20 good rows made two full batches; the 4 good rows after them were never sent
    assert table_ids(datasette_server, table) == [i for i in range(1, 23) if i not in (5, 12)]
    assert [r["line"] for r in read_rejects(rejects)] == [6, 13, 28]
