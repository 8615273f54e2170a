"""
A corpus of bad input to the row operators, against a real Datasette (and the CloudTables emulator).

Each case makes its input under ``tmp_path`` and says what must happen: the exception's class, where the message
says the problem is (the file and line and column, or the setting at fault) and which rows the table holds
afterwards. Imports send batches of 10 rows into an empty table ``(id integer primary key, name text, qty
integer)``, so a bad row at data row ``k`` leaves the full batches before it, ``1 .. 10 * ((k - 1) // 10)``:
nothing of the failed batch. A file-level problem leaves the table empty. Cases where the input is only odd
(names that look like SQL, paths in table names) must succeed and touch nothing else.
"""

from __future__ import annotations

import gzip
import http.server
import json
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowException

from airflow_provider_cloud.exceptions import (
    AuthenticationError,
    BadRequestError,
    RowDataError,
    UnexpectedResponseError,
)
from airflow_provider_cloud.operators.rows import CleanupRowsOperator, ExportRowsOperator, ImportRowsOperator
from tests.integration.operators.rows_support import one_write_at_a_time, table_ids

pytestmark = pytest.mark.integration

BATCH = 10
HEADER = "id,name,qty"
IN_TMP = "<a rejects file in the test's folder>"


def rows(count: int, start: int = 1) -> list[str]:
    return [f"{i},name {i},{i}" for i in range(start, start + count)]


def with_row(count: int, number: int, text: str) -> list[str]:
    """``count`` good rows with data row ``number`` replaced by ``text``."""
    lines = rows(count)
    lines[number - 1] = text
    return lines


def before(row: int) -> list[int]:
    """Ids in the table when data row ``row`` fails: the full batches before it."""
    return list(range(1, BATCH * ((row - 1) // BATCH) + 1))


@dataclass(frozen=True)
class Case:
    """
    One bad input: ``make(tmp_path)`` writes it and returns the file (or ``None``) and the operator's arguments.

    ``line`` and ``column`` are where a ``RowDataError`` must say the problem is (``None``: the whole file);
    ``names`` is what any other error's message must name; ``written`` the ids left in the table.
    """

    make: Callable[[Path], tuple[Path | None, dict[str, Any]]]
    error: type[BaseException] = RowDataError
    line: int | None = None
    column: str | None = None
    names: str = ""
    written: list[int] = field(default_factory=list)
    says: str = ""
    #: Write into a new table (created by the import) rather than the empty one.
    new_table: bool = False


def csv(lines: list[str], header: str = HEADER, name: str = "in.csv", encoding: str = "utf-8", **kwargs: Any):
    def make(tmp: Path) -> tuple[Path, dict[str, Any]]:
        path = tmp / name
        text = "\n".join([header, *lines]) + "\n"
        path.write_bytes(
            gzip.compress(text.encode(encoding)) if name.endswith(".gz") else text.encode(encoding)
        )
        if kwargs.get("rejects_path") == IN_TMP:
            return path, {"source": str(path), **kwargs, "rejects_path": str(tmp / "bad.jsonl")}
        return path, {"source": str(path), **kwargs}

    return make


def raw(data: bytes, name: str = "in.csv", **kwargs: Any):
    def make(tmp: Path) -> tuple[Path, dict[str, Any]]:
        (tmp / name).write_bytes(data)
        if kwargs.get("rejects_path") == IN_TMP:
            return tmp / name, {"source": str(tmp / name), **kwargs, "rejects_path": str(tmp / "bad.jsonl")}
        return tmp / name, {"source": str(tmp / name), **kwargs}

    return make


def text(content: str, name: str, **kwargs: Any):
    return raw(content.encode("utf-8"), name, **kwargs)


def jsonl(lines: list[str], **kwargs: Any):
    return text("\n".join(lines) + "\n", "in.jsonl", **kwargs)


def good_json(count: int, start: int = 1) -> list[str]:
    return [json.dumps({"id": i, "name": f"name {i}", "qty": i}) for i in range(start, start + count)]


def detected(count: int, column: str, at: int, value: str, cell: Callable[[int], str]):
    """A file whose ``column`` looks like one type in its first block (512 rows) and holds ``value`` at ``at``."""
    lines = [f"{i},{cell(i)}" for i in range(1, count + 1)]
    lines[at - 1] = f"{at},{value}"
    return csv(lines, header=f"id,{column}", create=True, key="id")


def flags(count: int, at: int, value: str, **kwargs: Any):
    """Rows ``id,flag`` (``true``/``false``, as JSON too) with ``value`` at data row ``at``, into a new table."""
    lines = [f"{i},{'true' if i % 2 else 'false'}" for i in range(1, count + 1)]
    lines[at - 1] = f"{at},{value}"
    return csv(lines, header="id,flag", create=True, key="id", **kwargs)


def rejects(where: str, **kwargs: Any):
    def make(tmp: Path) -> tuple[Path, dict[str, Any]]:
        (tmp / "a-file").write_text("x")
        path = tmp / "in.csv"
        path.write_text("\n".join([HEADER, *with_row(500, 450, "450,short")]) + "\n")
        target = where if where.startswith("/") else str(tmp / where)
        return path, {"source": str(path), "on_bad_rows": "skip", "rejects_path": target, **kwargs}

    return make


def gz_cut(tmp: Path) -> tuple[Path, dict[str, Any]]:
    data = gzip.compress(("\n".join([HEADER, *rows(2_000)]) + "\n").encode())
    (tmp / "in.csv.gz").write_bytes(data[: len(data) // 2])
    return tmp / "in.csv.gz", {"source": str(tmp / "in.csv.gz")}


def no_file(tmp: Path) -> tuple[Path, dict[str, Any]]:
    return tmp / "missing.csv", {"source": str(tmp / "missing.csv")}


def a_directory(tmp: Path) -> tuple[Path, dict[str, Any]]:
    (tmp / "dir.csv").mkdir()
    return tmp / "dir.csv", {"source": str(tmp / "dir.csv")}


def inline_text(tmp: Path) -> tuple[None, dict[str, Any]]:
    return None, {"rows": "[{'id': 1}]"}


JOINED = "\n".join([HEADER, *rows(14)]) + "\n" + "\ufeff" + "\n".join([HEADER, *rows(5, start=15)]) + "\n"
BIG = "9" * 25

CASES: dict[str, Case] = {
    # encodings
    "latin-1-declared-utf-8": Case(
        csv(with_row(30, 15, "15,café,15"), encoding="latin-1"),
        line=16,
        written=before(15),
        says="not valid UTF-8 text (byte 0xe9)",
    ),
    "utf-16-without-bom": Case(csv(rows(5), encoding="utf-16-le"), line=1, says="NUL characters"),
    "utf-16-with-bom-read-as-utf-8": Case(csv(rows(5), encoding="utf-16"), line=1, says="byte 0xff"),
    "declared-utf-16-without-bom": Case(
        csv(rows(5), encoding="utf-16-le", csv_options={"encoding": "utf-16"}), says="not valid utf-16 text"
    ),
    "nul-in-a-row": Case(
        raw(("\n".join([HEADER, *rows(22)]) + "\n23,a\x00b,23\n").encode()),
        line=24,
        written=before(23),
        says="NUL",
    ),
    # quoting
    "unclosed-quote": Case(
        csv([*rows(34), '35,"name 35,35']), line=36, written=before(35), says="never closed"
    ),
    "quote-then-text": Case(
        csv(with_row(20, 12, '12,"x"y,12')), line=13, written=before(12), says="malformed CSV"
    ),
    "unclosed-quote-in-header": Case(csv(rows(3), header='"id,name,qty'), line=1, says="in the header"),
    # ragged rows
    "too-many-cells": Case(
        csv(with_row(30, 27, "27,name,27,extra")), line=28, written=before(27), says="found 4"
    ),
    "too-few-cells": Case(csv(with_row(30, 7, "7,name 7")), line=8, written=before(7), says="found 2"),
    # headers
    "duplicate-header": Case(csv(rows(3), header="id,name,name"), line=1, column="name", says="twice"),
    "blank-header-name": Case(csv(rows(3), header="id,,qty"), line=1, says="column 2 has no name"),
    "header-without-the-key": Case(
        csv([f"{i},{i}" for i in range(1, 30)], header="name,qty"),
        line=1,
        column="id",
        says="no key column 'id'",
    ),
    "header-without-the-key-skip": Case(
        csv(
            [f"{i},{i}" for i in range(1, 30)],
            header="name,qty",
            on_bad_rows="skip",
            rejects_path=IN_TMP,
        ),
        line=1,
        column="id",
    ),
    "header-again-mid-file": Case(
        csv([*rows(14), HEADER, *rows(5, start=15)]), line=16, written=before(15), says="the header again"
    ),
    "two-csv-files-joined": Case(
        text(JOINED, "in.csv"), line=16, written=before(15), says="after a byte-order mark"
    ),
    # files
    "empty-file": Case(text("", "in.csv"), says="file is empty"),
    "blank-lines-only": Case(text("\n\n\n", "in.csv"), says="file is empty"),
    "missing-file": Case(no_file, says="file not found"),
    "directory": Case(a_directory, says="is a directory"),
    "truncated-gz": Case(gz_cut, says="truncated"),
    "not-gzip-behind-gz": Case(raw(b"id,name\n1,a\n", "in.csv.gz"), says="not valid gzip data"),
    "unknown-extension": Case(text("id\n1\n", "in.txt"), says="cannot tell the row format"),
    # keys
    "null-key": Case(
        csv(with_row(30, 13, ",name 13,13")),
        line=14,
        column="id",
        written=before(13),
        says="no value for its key",
    ),
    "key-of-another-type-after-the-first-block": Case(
        csv(with_row(600, 598, "abc,name,1")), line=599, column="id", written=before(598)
    ),
    # declared types
    "integer-not-a-number": Case(
        csv(with_row(30, 19, "19,n,12x"), types={"qty": "integer"}),
        line=20,
        column="qty",
        written=before(19),
        says="'12x' is not an integer",
    ),
    "integer-not-whole": Case(
        csv(with_row(30, 4, "4,n,1.5"), types={"qty": "integer"}),
        line=5,
        column="qty",
        says="not a whole number",
    ),
    "integer-over-64-bits": Case(
        csv(with_row(30, 22, f"22,n,{BIG}"), types={"qty": "integer"}),
        line=23,
        column="qty",
        written=before(22),
        says="64-bit",
    ),
    "boolean-maybe": Case(
        flags(30, 11, "maybe", types={"flag": "boolean"}),
        line=12,
        column="flag",
        written=before(11),
        says="not a boolean",
        new_table=True,
    ),
    "float-word": Case(
        csv(with_row(30, 30, "30,n,lots"), types={"qty": "float"}),
        line=31,
        column="qty",
        written=before(30),
        says="not a number",
    ),
    "json-invalid": Case(
        flags(30, 2, "{x", types={"flag": "json"}),
        line=3,
        column="flag",
        says="not valid JSON",
        new_table=True,
    ),
    "types-name-a-missing-column": Case(
        csv(rows(3), types={"colour": "text"}), says="types name columns that are not in the file"
    ),
    "unknown-type-name": Case(csv(rows(3), types={"qty": "whole"}), error=ValueError, names="types['qty']"),
    # detected types: one per column for the whole import
    "word-after-a-boolean-block": Case(
        detected(600, "flag", 560, "maybe", lambda i: "true" if i % 2 else "false"),
        line=561,
        column="flag",
        written=before(560),
        says="types={'flag': 'text'}",
        new_table=True,
    ),
    "word-after-an-integer-block": Case(
        detected(600, "n", 530, "n/a", str),
        line=531,
        column="n",
        written=before(530),
        says="not an integer",
        new_table=True,
    ),
    "boolean-after-a-float-block": Case(
        detected(700, "x", 650, "true", lambda i: f"{i}.5"),
        line=651,
        column="x",
        written=before(650),
        says="not a number",
        new_table=True,
    ),
    # JSON and JSON Lines
    "json-object-not-array": Case(
        text('{"id": 1}', "in.json"), line=1, says="expected a JSON array of objects"
    ),
    "json-element-not-object": Case(
        text("[\n" + ",\n".join([*good_json(12), "[1, 2]"]) + "\n]", "in.json"),
        line=14,
        written=before(13),
        says="got an array",
    ),
    "json-truncated": Case(
        text("[\n" + ",\n".join(good_json(12)) + ',\n{"id": 13, "na', "in.json"),
        line=14,
        written=before(13),
        says="truncated",
    ),
    "json-trailing-comma": Case(
        text("[\n" + ",\n".join(good_json(3)) + ",\n]", "in.json"), line=5, says="trailing commas"
    ),
    "json-nan": Case(
        text("[\n" + ",\n".join([*good_json(21), '{"id": 22, "name": "x", "qty": NaN}']) + "\n]", "in.json"),
        line=23,
        column="qty",
        written=before(22),
        says="NaN is not a JSON number",
    ),
    "jsonl-not-json": Case(
        jsonl([*good_json(15), "{id: 16}"]), line=16, written=before(16), says="not valid JSON"
    ),
    "jsonl-array-line": Case(
        jsonl([*good_json(3), "[4, 5]"]), line=4, says="expected a JSON object, got an array"
    ),
    "jsonl-infinity": Case(
        jsonl([*good_json(30), '{"id": 31, "qty": Infinity}']),
        line=31,
        column="qty",
        written=before(31),
        says="Infinity",
    ),
    "jsonl-negative-infinity-nested": Case(
        jsonl([*good_json(8), '{"id": 9, "name": {"a": [-Infinity]}}']),
        line=9,
        column="name",
        says="-Infinity",
    ),
    "jsonl-declared-type": Case(
        jsonl([*good_json(5), '{"id": 6, "qty": "six"}'], types={"qty": "integer"}),
        line=6,
        column="qty",
        says="'six' is not an integer",
    ),
    "jsonl-undecodable": Case(
        raw(("\n".join(good_json(12)) + "\n").encode() + b'{"id": 13, "name": "caf\xe9"}\n', "in.jsonl"),
        line=13,
        written=before(13),
        says="not valid UTF-8",
    ),
    "json-declared-integer-over-64-bits": Case(
        jsonl([*good_json(3), f'{{"id": 4, "qty": {BIG}}}'], types={"qty": "integer"}),
        line=4,
        column="qty",
        says="64-bit",
    ),
    # settings
    "unwritable-rejects-path": Case(
        rejects("a-file/bad.jsonl"), error=AirflowException, names="rejects_path", says="nothing was imported"
    ),
    "rejects-path-is-a-directory": Case(rejects("."), error=AirflowException, names="rejects_path"),
    "rejects-path-under-proc": Case(
        rejects("/proc/apc-corpus.jsonl"), error=AirflowException, names="/proc/apc-corpus.jsonl"
    ),
    "too-many-bad-rows": Case(
        csv(
            [*with_row(30, 5, "5,x"), "31,y"],
            on_bad_rows="skip",
            rejects_path=IN_TMP,
            max_bad_rows=0,
        ),
        error=AirflowException,
        names="line 6",
        written=[],
    ),
    "rows-rendered-as-text": Case(inline_text, error=ValueError, names="rows="),
    # found by the writer (the hook), named by the file's line all the same
    "row-over-the-body-limit": Case(
        jsonl(
            [*good_json(13), json.dumps({"id": 14, "name": "x" * 3_000_000, "qty": 14}), *good_json(5, 15)]
        ),
        line=14,
        column="name",
        written=before(14),
        says="over the server's body limit",
    ),
    "row-over-the-body-limit-after-a-rejected-row": Case(
        jsonl(
            [
                *good_json(4),
                "not json",
                *good_json(8, 6),
                json.dumps({"id": 14, "name": "x" * 3_000_000, "qty": 1}),
            ],
            on_bad_rows="skip",
            rejects_path=IN_TMP,
        ),
        line=14,  # the writer's 13th row: line 5 was rejected
        column="name",
        written=[1, 2, 3, 4, 6, 7, 8, 9, 10, 11],  # the first batch of ten good rows
        says="over the server's body limit",
    ),
    "integer-over-64-bits-in-a-json-lines-file": Case(
        jsonl([*good_json(4), json.dumps({"id": 5, "name": "n", "qty": int(BIG)}), *good_json(5, start=6)]),
        line=5,
        column="qty",
        written=before(5),
        says="beyond SQLite's 64-bit range",
    ),
    "key-twice-in-the-file-with-mode-insert": Case(
        csv([*rows(14), "7,again,7", *rows(15, start=16)], mode="insert"),
        error=BadRequestError,
        written=before(15),
        says="in the batch of rows at lines 12-21 of file://",
    ),
    "key-twice-after-a-multi-line-record-and-a-rejected-row": Case(
        csv(
            [*rows(2), '3,"two\nlines",3', "4,name 4,4", "5,x", *rows(9, 6), "7,again,7", *rows(15, 16)],
            mode="insert",
            on_bad_rows="skip",
            rejects_path=IN_TMP,
        ),
        error=BadRequestError,
        written=[1, 2, 3, 4, 6, 7, 8, 9, 10, 11],
        says="in the batch of rows at lines 14-23 of file://",  # ids 12 to 21: the header, line 4's record
    ),
}


@pytest.fixture
def table(datasette_server, fresh_table_name):
    connection = sqlite3.connect(datasette_server.db_path)
    connection.execute(f'create table "{fresh_table_name}" (id integer primary key, name text, qty integer)')
    connection.commit()
    connection.close()
    return fresh_table_name


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(name, monkeypatch, datasette_conn_id, datasette_server, table, tmp_path):
    one_write_at_a_time(monkeypatch, datasette_server, datasette_conn_id)  # exactly the rows before a refusal
    case = CASES[name]
    path, kwargs = case.make(tmp_path)
    kwargs.setdefault("batch_size", BATCH)
    dataset = f"{table}_new" if case.new_table else table
    with pytest.raises(case.error) as caught:
        ImportRowsOperator(
            task_id="import_rows", conn_id=datasette_conn_id, dataset=dataset, **kwargs
        ).execute({})
    error, message = caught.value, str(caught.value)
    if isinstance(error, RowDataError):
        url = path.as_uri() if path is not None else "rows"
        assert (error.source, error.line, error.column) == (url, case.line, case.column), message
        where = ", ".join(
            [
                url,
                *([f"line {case.line}"] if case.line else []),
                *([f"column {case.column!r}"] if case.column else []),
            ]
        )
        assert message.startswith(where + ": "), message
    assert case.names in message
    assert case.says in message
    created = datasette_server.sql(f"select count(*) n from sqlite_master where name = '{dataset}'")[0]["n"]
    assert (table_ids(datasette_server, dataset) if created else []) == case.written
    assert created or case.new_table  # the import never drops a table


# -- names and filter values that look like SQL or paths: data, never code ---------------------------------

ODD_TABLES = {
    "sql-in-table-name": "x'; drop table {victim}; --",
    "quote-in-table-name": 'a"b',
    "dots-and-slashes-in-table-name": "../a/b",
    "space-and-letters-in-table-name": "sales 2024 ünï",
}


def victim(server: Any, name: str) -> str:
    """A table that must survive every case: one row."""
    connection = sqlite3.connect(server.db_path)
    connection.execute(f'create table "{name}" (id integer primary key, name text)')
    connection.execute(f"insert into \"{name}\" values (1, 'still here')")
    connection.commit()
    connection.close()
    return name


def survives(server: Any, name: str) -> bool:
    return server.sql(f'select name from "{name}"') == [{"name": "still here"}]


@pytest.mark.parametrize("name", list(ODD_TABLES))
def test_odd_table_names_are_names(name, datasette_conn_id, datasette_server, fresh_table_name, tmp_path):
    kept = victim(datasette_server, f"{fresh_table_name}_victim")
    table = ODD_TABLES[name].format(victim=kept)
    source = tmp_path / "in.csv"
    source.write_text("\n".join([HEADER, *rows(25)]) + "\n")
    summary = ImportRowsOperator(
        task_id="import_rows",
        conn_id=datasette_conn_id,
        dataset=table,
        source=str(source),
        key="id",
        create=True,
    ).execute({})
    assert summary["rows_written"] == 25
    assert table_ids(datasette_server, table.replace('"', '""')) == list(range(1, 26))
    assert survives(datasette_server, kept)


def test_sql_in_a_column_name_is_a_column_name(
    datasette_conn_id, datasette_server, fresh_table_name, tmp_path
):
    kept = victim(datasette_server, f"{fresh_table_name}_victim")
    column = f'note"; drop table "{kept}"; --'
    source = tmp_path / "in.csv"
    source.write_text('id,"' + column.replace('"', '""') + '"\n1,a\n2,b\n')
    ImportRowsOperator(
        task_id="import_rows",
        conn_id=datasette_conn_id,
        dataset=fresh_table_name,
        source=str(source),
        key="id",
        create=True,
    ).execute({})
    assert [r[column] for r in datasette_server.sql(f'select * from "{fresh_table_name}"')] == ["a", "b"]
    assert survives(datasette_server, kept)


@pytest.mark.parametrize(
    "where",
    [{"name": "'; drop table {victim}; --"}, {"name": "x' or '1'='1"}, {"name__in": ["a'", '"b', "/.."]}],
    ids=["drop-table", "always-true", "quotes-in-a-list"],
)
def test_sql_in_filter_values_matches_nothing(where, datasette_conn_id, datasette_server, table, tmp_path):
    kept = victim(datasette_server, f"{table}_victim")
    where = {k: v.format(victim=kept) if isinstance(v, str) else v for k, v in where.items()}
    source = tmp_path / "in.csv"
    source.write_text("\n".join([HEADER, *rows(12)]) + "\n")
    ImportRowsOperator(task_id="i", conn_id=datasette_conn_id, dataset=table, source=str(source)).execute({})

    deleted = CleanupRowsOperator(task_id="c", conn_id=datasette_conn_id, dataset=table, where=where).execute(
        {}
    )
    exported = ExportRowsOperator(
        task_id="e",
        conn_id=datasette_conn_id,
        dataset=table,
        destination=str(tmp_path / "out.csv"),
        where=where,
    ).execute({})

    assert (deleted, exported["rows"]) == (0, 0)
    assert table_ids(datasette_server, table) == list(range(1, 13))
    assert survives(datasette_server, kept)


def test_sql_in_a_filter_column_is_refused_naming_the_filter(datasette_conn_id, datasette_server, table):
    kept = victim(datasette_server, f"{table}_victim")
    column = f'name"; drop table "{kept}"; --'
    with pytest.raises(ValueError, match="no column") as caught:
        CleanupRowsOperator(task_id="c", conn_id=datasette_conn_id, dataset=table, where={column: 1}).execute(
            {}
        )
    assert f"filter {column!r}: no column {column!r}" in str(caught.value)
    assert survives(datasette_server, kept)


# -- CloudTables: the same checks before the first write, and nothing written at all ------------------------

CT_CASES = {
    "header-without-the-key": (
        lambda: "name,qty\n" + "".join(f"n{i},{i}\n" for i in range(1, 30)),
        {},
        1,
        "code",
    ),
    "null-key": (
        lambda: "code,name,qty\n" + "".join(f"{'' if i == 17 else f'C{i}'},n{i},{i}\n" for i in range(1, 30)),
        {},
        18,
        "code",
    ),
    "declared-type": (
        lambda: "code,name,qty\n" + "".join(f"C{i},n{i},{'x' if i == 9 else i}\n" for i in range(1, 30)),
        {"types": {"qty": "integer"}},
        10,
        "qty",
    ),
    "word-after-a-number-block": (
        lambda: (
            "code,name,qty\n" + "".join(f"C{i},n{i},{'lots' if i == 600 else i}\n" for i in range(1, 700))
        ),
        {},
        601,
        "qty",
    ),
}


@pytest.mark.parametrize("name", list(CT_CASES))
def test_bad_input_to_cloudtables(name, cloudtables_conn_id, cloudtables_emulator, tmp_path):
    content, kwargs, line, column = CT_CASES[name]
    dataset = cloudtables_emulator.add_dataset(
        "Stock", [("code", "text"), ("name", "text"), ("qty", "number")]
    )
    source = tmp_path / "stock.csv"
    source.write_text(content())
    with pytest.raises(RowDataError) as caught:
        ImportRowsOperator(
            task_id="import_rows",
            conn_id=cloudtables_conn_id,
            dataset="Stock",
            source=str(source),
            key="code",
            **kwargs,
        ).execute({})
    error = caught.value
    assert (error.source, error.line, error.column) == (source.as_uri(), line, column)
    assert str(error).startswith(f"{source.as_uri()}, line {line}, column {column!r}: ")
    assert cloudtables_emulator.rows(dataset) == []  # rows are checked before the first write


# -- answers that are not the service's ------------------------------------------------------------------


class HtmlPage(http.server.BaseHTTPRequestHandler):
    """A login page of a proxy or a captive portal: 200 and HTML for every request."""

    def do_GET(self) -> None:
        body = b"<html><body>Please sign in</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        return None


def test_html_answered_with_200_is_not_taken_for_data(datasette_server, monkeypatch, tmp_path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HtmlPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        connection = datasette_server.connection_dict()
        connection["host"] = f"http://127.0.0.1:{server.server_address[1]}"
        monkeypatch.setenv("AIRFLOW_CONN_PORTAL", json.dumps(connection))
        source = tmp_path / "in.csv"
        source.write_text("\n".join([HEADER, *rows(5)]) + "\n")
        with pytest.raises(UnexpectedResponseError) as caught:
            ImportRowsOperator(
                task_id="import_rows", conn_id="portal", dataset="t", source=str(source)
            ).execute({})
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    message = str(caught.value)
    assert "the response is not JSON" in message
    assert "GET /data/t/-/schema.json" in message  # the request it was the answer to
    assert "Please sign in" in message  # what came instead
    assert datasette_server.token not in message


def test_a_revoked_token_fails_at_once_and_writes_nothing(
    datasette_server, fresh_table_name, monkeypatch, tmp_path
):
    revoked = "dstok_" + "x" * 40  # signed with no key the server knows: as a revoked or rotated token
    monkeypatch.setenv(*datasette_server.env_var("revoked", token=revoked))
    source = tmp_path / "in.csv"
    source.write_text("\n".join([HEADER, *rows(5)]) + "\n")
    with pytest.raises(AuthenticationError) as caught:
        ImportRowsOperator(
            task_id="import_rows",
            conn_id="revoked",
            dataset=fresh_table_name,
            source=str(source),
            create=True,
        ).execute({})
    assert caught.value.status_code == 401
    assert revoked not in str(caught.value)
    assert datasette_server.sql(
        f"select count(*) n from sqlite_master where name = '{fresh_table_name}'"
    ) == [{"n": 0}]
