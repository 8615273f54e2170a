"""
What an import checks before its first write, against a real Datasette: the file's header and the rejects path.

Each of these used to fail only row by row (or at the first bad row, after good rows were written).
"""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowException

from airflow_provider_cloud.exceptions import RowDataError
from tests.integration.operators.rows_support import table_ids
from tests.integration.operators.test_rows_bad_input import (
    csv_file,
    fails_with,
    good_lines,
    run_import,
    table,
)

pytestmark = pytest.mark.integration
__all__ = ["table"]  # the fixture, shared


@pytest.mark.parametrize("on_bad_rows", ["fail", "skip"])
def test_a_header_without_the_key_fails_before_any_row_naming_file_key_and_columns(
    datasette_conn_id, datasette_server, table, tmp_path, on_bad_rows
):
    source = csv_file(tmp_path / "in.csv", [f"{i},{i}" for i in range(1, 30)], header="name,qty")
    rejects = tmp_path / "bad.jsonl"

    error = fails_with(
        RowDataError,
        datasette_conn_id,
        table,
        source=str(source),
        on_bad_rows=on_bad_rows,
        rejects_path=str(rejects),
    )

    assert (error.source, error.line, error.column) == (source.as_uri(), 1, "id")
    assert str(error) == (
        f"{source.as_uri()}, line 1, column 'id': the file has no key column 'id' (its columns are 'name', "
        "'qty'): pass key= naming the file's key, or rename= its column"
    )
    assert not rejects.exists()  # not a rejects file of every row
    assert table_ids(datasette_server, table) == []


def test_a_header_without_the_key_given_for_a_new_table(
    datasette_conn_id, datasette_server, fresh_table_name, tmp_path
):
    source = csv_file(tmp_path / "in.csv", ["1,a", "2,b"], header="code,name")
    error = fails_with(
        RowDataError, datasette_conn_id, fresh_table_name, source=str(source), key="id", create=True
    )
    assert "the file has no key column 'id' (its columns are 'code', 'name')" in str(error)
    assert fresh_table_name not in [t["name"] for t in datasette_server.sql("select name from sqlite_master")]


def test_a_renamed_key_column_passes_the_header_check(datasette_conn_id, datasette_server, table, tmp_path):
    source = csv_file(tmp_path / "in.csv", good_lines(3), header="ident,name,qty")
    summary = run_import(datasette_conn_id, table, source=str(source), rename={"ident": "id"})
    assert summary["rows_written"] == 3


@pytest.mark.parametrize("where", ["a-file-in-the-way/bad.jsonl", "a-directory", "/proc/apc-bad.jsonl"])
def test_an_unwritable_rejects_path_fails_before_the_first_write(
    datasette_conn_id, datasette_server, table, tmp_path, where
):
    (tmp_path / "a-file-in-the-way").write_text("x")
    (tmp_path / "a-directory").mkdir()
    lines = good_lines(500)
    lines[450] = "451,name 451"  # the first bad row comes after 45 full batches
    source = csv_file(tmp_path / "in.csv", lines)
    rejects = tmp_path / where

    error = fails_with(
        AirflowException,
        datasette_conn_id,
        table,
        source=str(source),
        on_bad_rows="skip",
        rejects_path=str(rejects),
    )

    assert str(error).startswith(f"rejects_path {str(rejects)!r} cannot be written (")
    assert str(error).endswith("); nothing was imported")
    assert table_ids(datasette_server, table) == []
