"""
CSV types against a real Datasette: one type per column for the whole import, so no cell is stored as other than
the file says (``rows/convert.py``).
"""

from __future__ import annotations

import sqlite3

import pytest

from airflow_provider_cloud.exceptions import RowDataError
from airflow_provider_cloud.operators.rows import ImportRowsOperator

pytestmark = pytest.mark.integration


def run_import(conn_id, table, source, **kwargs):
    kwargs.setdefault("batch_size", 10)
    operator = ImportRowsOperator(
        task_id="import_rows", conn_id=conn_id, dataset=table, source=str(source), **kwargs
    )
    return operator.execute(context={})


def stored(server, table, columns):
    return server.sql(f'select {", ".join(columns)} from "{table}" order by id')


def write(path, header, lines):
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def test_true_and_false_among_words_are_stored_as_written(
    datasette_conn_id, datasette_server, fresh_table_name, tmp_path
):
    answers = ["true", "maybe", "FALSE", "no", "true"]
    source = write(tmp_path / "a.csv", "id,answer", [f"{i},{a}" for i, a in enumerate(answers, start=1)])
    run_import(datasette_conn_id, fresh_table_name, source, key="id", create=True)
    assert [r["answer"] for r in stored(datasette_server, fresh_table_name, ["answer"])] == answers


def test_columns_the_table_stores_as_text_keep_the_files_text(
    datasette_conn_id, datasette_server, fresh_table_name, tmp_path
):
    connection = sqlite3.connect(datasette_server.db_path)
    connection.execute(
        f'create table "{fresh_table_name}" (id integer primary key, code text, flag text, n integer)'
    )
    connection.commit()
    connection.close()
    cells = [("2.50", "true", "1"), ("007", "false", "2"), ("1e3", "TRUE", "3"), ("42", "false", "4")]
    source = write(
        tmp_path / "t.csv", "id,code,flag,n", [f"{i},{c},{f},{n}" for i, (c, f, n) in enumerate(cells, 1)]
    )

    run_import(datasette_conn_id, fresh_table_name, source)

    rows = stored(datasette_server, fresh_table_name, ["code", "flag", "n", "typeof(n) t"])
    assert [(r["code"], r["flag"], r["n"], r["t"]) for r in rows] == [
        (c, f, int(n), "integer") for c, f, n in cells
    ]


def test_a_later_word_in_a_column_detected_boolean_fails_naming_line_and_column(
    datasette_conn_id, datasette_server, fresh_table_name, tmp_path
):
    lines = [f"{i},{'true' if i % 2 else 'false'}" for i in range(1, 601)]
    lines[559] = "560,maybe"  # after the first block of 512 rows decided the column is boolean
    source = write(tmp_path / "f.csv", "id,flag", lines)

    with pytest.raises(RowDataError) as caught:
        run_import(datasette_conn_id, fresh_table_name, source, key="id", create=True)

    error = caught.value
    assert (error.source, error.line, error.column) == (source.as_uri(), 561, "flag")
    assert (
        "'maybe' is not a boolean: the column's type was detected as boolean from its values (from line 2"
        in str(error)
    )
    assert "types={'flag': 'text'}" in str(error)
    # nothing of the failed batch (rows 551-560): the full batches before it only
    assert [r["id"] for r in stored(datasette_server, fresh_table_name, ["id"])] == list(range(1, 551))

    run_import(datasette_conn_id, fresh_table_name, source, types={"flag": "text"})  # as the error says
    flags = [r["flag"] for r in stored(datasette_server, fresh_table_name, ["flag"])]
    assert flags[559] == "maybe"


def test_integers_and_floats_in_one_column_are_stored_as_the_same_numbers(
    datasette_conn_id, datasette_server, fresh_table_name, tmp_path
):
    numbers = ["1", "2", "2.5", "-7", "1e3", "0.125"]
    source = write(tmp_path / "n.csv", "id,x", [f"{i},{x}" for i, x in enumerate(numbers, start=1)])
    run_import(datasette_conn_id, fresh_table_name, source, key="id", create=True)
    rows = stored(datasette_server, fresh_table_name, ["x", "typeof(x) t"])
    assert [r["x"] for r in rows] == [float(x) for x in numbers]
    assert {r["t"] for r in rows} == {"real"}


def test_a_column_empty_in_the_first_rows_of_a_new_table_gets_its_values_type(
    datasette_conn_id, datasette_server, fresh_table_name, tmp_path
):
    # Empty for 700 rows (past the reader's first block of 512 and the first batches), integers after: the
    # table was created from the first batch, as TEXT, and stored the integers as text.
    lines = [f"{i},,name {i}" for i in range(1, 701)] + [f"{i},{i * 3},name {i}" for i in range(701, 801)]
    source = write(tmp_path / "late.csv", "id,qty,name,never", [f"{line}," for line in lines])
    run_import(datasette_conn_id, fresh_table_name, source, key="id", create=True, batch_size=100)
    declared = {
        row["name"]: row["type"] for row in datasette_server.sql(f'pragma table_info("{fresh_table_name}")')
    }
    assert declared == {"id": "INTEGER", "qty": "INTEGER", "name": "TEXT", "never": "TEXT"}
    kinds = datasette_server.sql(
        f'select typeof(qty) kind, count(*) n from "{fresh_table_name}" group by kind order by kind'
    )
    assert kinds == [{"kind": "integer", "n": 100}, {"kind": "null", "n": 700}]
    assert datasette_server.sql(f'select qty from "{fresh_table_name}" where id = 800') == [{"qty": 2400}]
