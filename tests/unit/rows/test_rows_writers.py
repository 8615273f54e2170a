from __future__ import annotations

import datetime
import decimal
import gzip
import json
import math
import uuid
from typing import Any

import pytest

from airflow_provider_cloud.exceptions import RowDataError
from airflow_provider_cloud.rows import CsvOptions, WriteSummary, json_default, read_records, write_rows
from tests.unit.rows.rows_helpers import get, names_in, put

ROWS = [
    {"id": 1, "name": "Ann", "zip": "02134", "score": 3.5, "active": True, "note": None, "tags": ["a", "b"]},
    {
        "id": 2,
        "name": 'Bob "B", Jr.',
        "zip": "10001",
        "score": -0.25,
        "active": False,
        "note": "multi\nline",
        "tags": [],
    },
    {"id": 3, "name": "Zoë 😀", "zip": "007", "score": 1e20, "active": True, "note": "", "tags": [{"k": 1}]},
]


def read_data(url, **kwargs) -> list[dict[str, Any]]:
    with read_records(url, **kwargs) as reader:
        records = list(reader)
    assert all(r.ok for r in records), [r.error for r in records if not r.ok]
    return [r.data for r in records if r.data is not None]


@pytest.mark.parametrize(
    "name",
    ["rows.csv", "rows.csv.gz", "rows.tsv", "rows.jsonl", "rows.jsonl.gz", "rows.json", "rows.json.gz"],
)
def test_round_trip_every_format_on_every_store(any_dir, name):
    url = f"{any_dir}/{name}"
    summary = write_rows(url, iter(ROWS))
    assert summary == WriteSummary(path=url, rows=3)
    if ".csv" in name or ".tsv" in name:
        # CSV has no types: declare the list column and the zip codes ("10001" would be detected
        # as a number); and it cannot tell "" from NULL, so read empty cells as text.
        types = {"tags": "json", "zip": "text"}
        back = read_data(url, types=types, csv_options=CsvOptions(null_values=()))
        expected = [dict(row, note="" if row["note"] is None else row["note"]) for row in ROWS]
    else:
        back = read_data(url)
        expected = ROWS
    assert back == expected
    assert names_in(any_dir) == [name]


def test_round_trip_csv_with_nulls(any_dir):
    url = f"{any_dir}/n.csv"
    rows: list[dict[str, Any]] = [{"a": None, "b": 1}, {"a": "x", "b": None}]
    write_rows(url, rows)
    assert read_data(url) == rows


def test_csv_text_layout(file_dir):
    url = f"{file_dir}/out.csv"
    write_rows(url, ROWS[:2])
    assert get(url).decode() == (
        "id,name,zip,score,active,note,tags\r\n"
        '1,Ann,02134,3.5,true,,"[""a"",""b""]"\r\n'
        '2,"Bob ""B"", Jr.",10001,-0.25,false,"multi\nline",[]\r\n'
    )


def test_csv_options_on_write(file_dir):
    url = f"{file_dir}/out.csv"
    options = CsvOptions(delimiter=";", quoting="all", null_value="NULL", lineterminator="\n", write_bom=True)
    write_rows(url, [{"a": None, "b": 1, "c": True}], csv_options=options)
    assert get(url).decode("utf-8") == '\ufeff"a";"b";"c"\n"NULL";"1";"true"\n'
    assert read_data(url, csv_options=CsvOptions(delimiter=";", null_values=("NULL",))) == [
        {"a": None, "b": 1, "c": True}
    ]


def test_csv_quote_nonnumeric_leaves_numbers_bare(file_dir):
    url = f"{file_dir}/out.csv"
    write_rows(
        url, [{"a": "x", "b": 2, "c": 2.5}], csv_options=CsvOptions(quoting="nonnumeric", lineterminator="\n")
    )
    assert get(url).decode() == '"a","b","c"\n"x",2,2.5\n'
    assert read_data(url) == [{"a": "x", "b": 2, "c": 2.5}]


def test_tsv_uses_tabs(file_dir):
    url = f"{file_dir}/out.tsv"
    write_rows(url, [{"a": 1, "b": "x,y"}])
    assert get(url).decode() == "a\tb\r\n1\tx,y\r\n"


def test_csv_without_header(file_dir):
    url = f"{file_dir}/out.csv"
    write_rows(url, [{"a": 1, "b": 2}], csv_options=CsvOptions(header=False))
    assert get(url).decode() == "1,2\r\n"


def test_columns_choose_order_and_fill_missing_with_null(file_dir):
    url = f"{file_dir}/out.csv"
    write_rows(url, [{"b": 2, "a": 1}, {"a": 3}], columns=["a", "b"])
    assert get(url).decode() == "a,b\r\n1,2\r\n3,\r\n"
    url = f"{file_dir}/out.jsonl"
    write_rows(url, [{"b": 2, "a": 1}, {"a": 3}], columns=["a", "b"])
    assert get(url).decode() == '{"a":1,"b":2}\n{"a":3,"b":null}\n'


@pytest.mark.parametrize("name", ["out.csv", "out.jsonl", "out.json"])
def test_unknown_column_in_a_later_row_fails_and_writes_nothing(any_dir, name):
    url = put(f"{any_dir}/{name}", b"previous export")
    rows = [{"a": 1, "b": 2}, {"a": 3, "b": 4}, {"a": 5, "c": 6}]
    columns = None if name == "out.csv" else ["a", "b"]
    with pytest.raises(RowDataError) as caught:
        write_rows(url, rows, columns=columns)
    assert str(caught.value) == (
        f"{url}, column 'c': row 3 has column 'c' which is not among the columns written ('a', 'b'); "
        "pass columns=[...] to choose them, or extra_columns='ignore' to drop the others"
    )
    assert get(url) == b"previous export"
    assert names_in(any_dir) == [name]


def test_extra_columns_ignored_when_asked(file_dir):
    url = f"{file_dir}/out.csv"
    write_rows(url, [{"a": 1}, {"a": 2, "z": 9}], extra_columns="ignore")
    assert read_data(url) == [{"a": 1}, {"a": 2}]


def test_failing_source_leaves_no_file(any_dir):
    def rows():
        yield {"a": 1}
        yield {"a": 2}
        raise ConnectionError("the API went away")

    with pytest.raises(ConnectionError):
        write_rows(f"{any_dir}/out.json.gz", rows())
    assert names_in(any_dir) == []


def test_non_mapping_row(file_dir):
    with pytest.raises(RowDataError, match="row 2 is a list, not a mapping"):
        write_rows(f"{file_dir}/out.jsonl", [{"a": 1}, [1, 2]])  # type: ignore[list-item]


def test_zero_rows(any_dir):
    assert write_rows(f"{any_dir}/z.json", []).rows == 0
    assert get(f"{any_dir}/z.json") == b"[]\n"
    assert json.loads(get(f"{any_dir}/z.json")) == []
    write_rows(f"{any_dir}/z.jsonl", [])
    assert get(f"{any_dir}/z.jsonl") == b""
    write_rows(f"{any_dir}/z.csv", [], columns=["a", "b"])
    assert get(f"{any_dir}/z.csv") == b"a,b\r\n"
    assert read_data(f"{any_dir}/z.csv") == []
    write_rows(f"{any_dir}/none.csv", [])
    assert get(f"{any_dir}/none.csv") == b""


def test_json_array_layout(file_dir):
    url = f"{file_dir}/out.json"
    write_rows(url, [{"a": 1}, {"b": "é"}])
    assert get(url).decode() == '[\n{"a":1},\n{"b":"é"}\n]\n'


def test_jsonl_layout(file_dir):
    url = f"{file_dir}/out.jsonl"
    write_rows(url, [{"a": 1, "b": [1, {"c": None}]}, {}])
    assert get(url).decode() == '{"a":1,"b":[1,{"c":null}]}\n{}\n'


def test_values_json_has_no_type_for():
    moment = datetime.datetime(2024, 5, 1, 12, 30, tzinfo=datetime.UTC)
    assert json_default(moment) == "2024-05-01T12:30:00+00:00"
    assert json_default(datetime.date(2024, 5, 1)) == "2024-05-01"
    assert json_default(datetime.time(7, 5)) == "07:05:00"
    assert json_default(decimal.Decimal("12.50")) == "12.50"
    assert json_default(b"\x00\xff") == "AP8="
    assert json_default(uuid.UUID(int=1)) == "00000000-0000-0000-0000-000000000001"
    assert sorted(json_default({2, 1})) == [1, 2]
    with pytest.raises(TypeError, match="cannot write a value of type object"):
        json_default(object())


@pytest.mark.parametrize("name", ["out.csv", "out.jsonl"])
def test_special_values_written(file_dir, name):
    url = f"{file_dir}/{name}"
    row = {
        "when": datetime.datetime(2024, 5, 1, 12, 30),
        "day": datetime.date(2024, 5, 1),
        "price": decimal.Decimal("12.50"),
        "blob": b"hi",
    }
    write_rows(url, [row])
    expected = {"when": "2024-05-01T12:30:00", "day": "2024-05-01", "price": "12.50", "blob": "aGk="}
    if name.endswith(".csv"):
        assert read_data(url, detect_types=False) == [expected]
    else:
        assert read_data(url) == [expected]


def test_unwritable_value_names_row_and_column(file_dir):
    with pytest.raises(RowDataError) as caught:
        write_rows(f"{file_dir}/out.jsonl", [{"a": 1}, {"a": 2, "b": object()}])
    assert caught.value.column == "b"
    assert "row 2: cannot write a value of type object" in str(caught.value)
    assert names_in(file_dir) == []


def test_nan_cannot_be_json_but_is_csv_text(file_dir):
    with pytest.raises(
        RowDataError, match=r"row 1: nan cannot be written as JSON \(only finite numbers can\)"
    ):
        write_rows(f"{file_dir}/out.json", [{"x": math.nan}])
    write_rows(f"{file_dir}/out.csv", [{"x": math.nan, "y": math.inf}])
    assert read_data(f"{file_dir}/out.csv") == [{"x": "nan", "y": "inf"}]
    assert math.isinf(read_data(f"{file_dir}/out.csv", types={"y": float})[0]["y"])


def test_unencodable_text_is_a_clear_error(file_dir):
    url = f"{file_dir}/out.csv"
    with pytest.raises(RowDataError, match=r"'€' cannot be encoded as latin-1"):
        write_rows(url, [{"a": "€"}], csv_options=CsvOptions(encoding="latin-1"))
    assert names_in(file_dir) == []
    write_rows(url, [{"a": "café"}], csv_options=CsvOptions(encoding="latin-1"))
    assert get(url) == "a\r\ncafé\r\n".encode("latin-1")


def test_csv_quoting_none_without_escapechar(file_dir):
    with pytest.raises(RowDataError, match="row 1 cannot be written as CSV with these options"):
        write_rows(f"{file_dir}/out.csv", [{"a": "x,y"}], csv_options=CsvOptions(quoting="none"))


def test_gzip_output_is_gzip(file_dir):
    write_rows(f"{file_dir}/out.jsonl.gz", [{"a": 1}])
    assert gzip.decompress(get(f"{file_dir}/out.jsonl.gz")) == b'{"a":1}\n'


def test_argument_checks(file_dir):
    with pytest.raises(ValueError, match="columns name 'a' more than once"):
        write_rows(f"{file_dir}/x.csv", [], columns=["a", "a"])
    with pytest.raises(TypeError, match="not one string"):
        write_rows(f"{file_dir}/x.csv", [], columns="ab")
    with pytest.raises(ValueError, match="extra_columns must be"):
        write_rows(f"{file_dir}/x.csv", [], extra_columns="drop")  # type: ignore[arg-type]
    with pytest.raises(RowDataError, match="cannot tell the row format"):
        write_rows(f"{file_dir}/x.xlsx", [])


def test_large_output_is_written_in_pieces(file_dir):
    url = f"{file_dir}/big.jsonl"
    count = write_rows(url, ({"i": i, "pad": "x" * 100} for i in range(5000))).rows
    assert count == 5000
    data = read_data(url)
    assert len(data) == 5000
    assert data[-1] == {"i": 4999, "pad": "x" * 100}


def _mixed_rows(count: int) -> list[dict[str, Any]]:
    """Plain rows, with here and there a boolean, a NULL, a date, a missing column or an extra one."""
    rows: list[dict[str, Any]] = []
    for i in range(count):
        row: dict[str, Any] = {"id": i, "name": f"n{i}", "score": i / 4}
        if i % 97 == 5:
            row["name"] = None
        if i % 151 == 7:
            row["score"] = True
        if i % 203 == 9:
            row["name"] = datetime.date(2024, 1, 1 + i % 28)
        if i % 257 == 11:
            del row["score"]
        if i % 311 == 13:
            row["extra"] = "dropped"
        rows.append(row)
    return rows


@pytest.mark.parametrize("chunk_rows", [1, 3, 64, 512])
@pytest.mark.parametrize("null_value", ["", "NULL"])
def test_chunked_csv_writing_equals_writing_row_by_row(file_dir, monkeypatch, chunk_rows, null_value):
    from airflow_provider_cloud.rows import writers

    rows = _mixed_rows(2_000)
    options = CsvOptions(null_value=null_value)
    columns = ["id", "name", "score"]
    monkeypatch.setattr(writers, "_CHUNK_ROWS", chunk_rows)
    write_rows(f"{file_dir}/chunked.csv", rows, columns=columns, csv_options=options, extra_columns="ignore")
    monkeypatch.setattr(writers, "_plain_values", lambda *args: None)
    write_rows(f"{file_dir}/by_row.csv", rows, columns=columns, csv_options=options, extra_columns="ignore")
    chunked = get(f"{file_dir}/chunked.csv")
    assert chunked == get(f"{file_dir}/by_row.csv")
    assert chunked.count(b"\n") == 2_001
    assert b"true" in chunked  # a boolean in a chunk of numbers went the row-by-row way


def test_a_csv_error_inside_a_plain_chunk_names_its_row(file_dir):
    rows = [{"a": i, "b": f"x{i}"} for i in range(1_000)]
    rows[700]["b"] = "has,comma"
    options = CsvOptions(quoting="none")
    with pytest.raises(RowDataError, match=r"row 701 cannot be written as CSV with these options"):
        write_rows(f"{file_dir}/none.csv", rows, csv_options=options)
    assert names_in(file_dir) == []
