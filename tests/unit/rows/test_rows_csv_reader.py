from __future__ import annotations

import gzip
from typing import Any

import pytest

from airflow_provider_cloud.exceptions import RowDataError
from airflow_provider_cloud.rows import CsvOptions, GoodRows, Record, as_storage_path, read_records
from tests.unit.rows.rows_helpers import put


def read_all(url, **kwargs) -> list[Record]:
    with read_records(url, **kwargs) as reader:
        return list(reader)


def good(records: list[Record]) -> list[dict[str, Any]]:
    assert all(r.ok for r in records), [r.error for r in records if not r.ok]
    return [r.data for r in records if r.data is not None]


def test_reads_typed_rows_with_line_numbers(any_dir):
    url = put(f"{any_dir}/people.csv", "id,name,zip,score,active\n1,Ann,02134,3.5,true\n2,Bob,,10,FALSE\n")
    records = read_all(url)
    assert [r.line for r in records] == [2, 3]
    assert good(records) == [
        {"id": 1, "name": "Ann", "zip": "02134", "score": 3.5, "active": True},
        {"id": 2, "name": "Bob", "zip": None, "score": 10, "active": False},
    ]


def test_columns_are_known_before_iterating(file_dir):
    url = put(f"{file_dir}/a.csv", "b,a\n1,2\n")
    with read_records(url) as reader:
        assert reader.columns == ("b", "a")
        assert reader.format == "csv"
        assert reader.source == url


def test_utf8_bom_is_stripped(file_dir):
    url = put(f"{file_dir}/bom.csv", "\ufeffid,name\n1,Zoë\n".encode())
    with read_records(url) as reader:
        assert reader.columns == ("id", "name")
        assert good(list(reader)) == [{"id": 1, "name": "Zoë"}]


@pytest.mark.parametrize(
    ("name", "text", "options"),
    [
        ("semi.csv", "a;b\n1;x,y\n", CsvOptions(delimiter=";")),
        ("tabs.tsv", "a\tb\n1\tx,y\n", None),
        ("pipes.txt", "a|b\n1|x,y\n", CsvOptions(delimiter="|")),
    ],
)
def test_delimiters(file_dir, name, text, options):
    url = put(f"{file_dir}/{name}", text)
    fmt = "csv" if name.endswith(".txt") else None
    assert good(read_all(url, csv_options=options, format=fmt)) == [{"a": 1, "b": "x,y"}]


def test_quoting_doubled_quotes_and_embedded_delimiters(file_dir):
    url = put(f"{file_dir}/q.csv", 'a,b\n"x, ""quoted"" y",2\n')
    assert good(read_all(url)) == [{"a": 'x, "quoted" y', "b": 2}]


def test_quoting_none_keeps_quote_characters(file_dir):
    url = put(f"{file_dir}/q.csv", 'a,b\n"x",2\n')
    assert good(read_all(url, csv_options=CsvOptions(quoting="none"))) == [{"a": '"x"', "b": 2}]


def test_escapechar(file_dir):
    url = put(f"{file_dir}/e.csv", "a,b\nx\\,y,2\n")
    options = CsvOptions(escapechar="\\", quoting="none")
    assert good(read_all(url, csv_options=options)) == [{"a": "x,y", "b": 2}]


def test_custom_null_values(file_dir):
    url = put(f"{file_dir}/n.csv", "a,b,c\nNULL,,N/A\n")
    options = CsvOptions(null_values=("NULL", "N/A"))
    assert good(read_all(url, csv_options=options)) == [{"a": None, "b": "", "c": None}]


def test_gzip_by_extension(any_dir):
    url = put(f"{any_dir}/z.csv.gz", gzip.compress(b"a,b\n1,2\n3,4\n"))
    assert good(read_all(url)) == [{"a": 1, "b": 2}, {"a": 3, "b": 4}]


def test_quoted_newlines_report_the_starting_line(file_dir):
    text = 'id,text\n1,"first\nsecond\nthird"\n2,plain\r\n3,"a\r\nb"\n4,end\n'
    url = put(f"{file_dir}/nl.csv", text)
    records = read_all(url)
    assert [r.line for r in records] == [2, 5, 6, 8]
    assert good(records)[0]["text"] == "first\nsecond\nthird"
    assert good(records)[2]["text"] == "a\r\nb"


def test_blank_lines_are_skipped_and_counted(file_dir):
    url = put(f"{file_dir}/blank.csv", "a\n\n1\n\n\n2\n")
    records = read_all(url)
    assert [(r.line, r.data) for r in records] == [(3, {"a": 1}), (6, {"a": 2})]


def test_malformed_lines_are_error_records_and_reading_continues(file_dir):
    text = 'a,b\n1,2\n3,4,5\n6\n"x"y,7\n8,9\n10,"never closed\n11,12\n'
    url = put(f"{file_dir}/bad.csv", text)
    records = read_all(url)
    assert [r.line for r in records] == [2, 3, 4, 5, 6, 7]
    assert [r.ok for r in records] == [True, False, False, False, True, False]
    assert str(records[1].error) == f"{url}, line 3: expected 2 fields (one per column), found 3"
    assert records[1].raw == "3,4,5"
    assert records[1].data is None
    assert "found 1" in str(records[2].error)
    assert str(records[3].error).startswith(f"{url}, line 5: malformed CSV: ")
    assert records[3].raw == '"x"y,7'
    assert records[4].data == {"a": 8, "b": 9}
    assert records[5].error is not None
    assert records[5].error.line == 7
    assert "never closed" in str(records[5].error)
    assert records[5].raw == '10,"never closed\n11,12'


def test_lenient_quoting_when_not_strict(file_dir):
    url = put(f"{file_dir}/lenient.csv", 'a,b\n"x"y,7\n')
    assert good(read_all(url, csv_options=CsvOptions(strict=False))) == [{"a": "xy", "b": 7}]


@pytest.mark.parametrize("content", [b"", b"\n\n", b"\xef\xbb\xbf"])
def test_empty_file(file_dir, content):
    url = put(f"{file_dir}/empty.csv", content)
    with pytest.raises(RowDataError, match=r"empty\.csv: file is empty \(no header row\)"):
        read_records(url)


def test_empty_file_allowed(file_dir):
    url = put(f"{file_dir}/empty.csv", b"")
    with read_records(url, allow_empty=True) as reader:
        assert list(reader) == []
        assert reader.columns == ()


def test_header_only_file_has_no_rows(file_dir):
    url = put(f"{file_dir}/header.csv", "a,b\n")
    assert read_all(url) == []


def test_missing_file(any_dir):
    url = f"{any_dir}/missing.csv"
    with pytest.raises(RowDataError) as caught:
        read_records(url)
    assert str(caught.value) == f"{url}: file not found"
    assert caught.value.source == url


def test_directory_is_not_a_file(tmp_path):
    (tmp_path / "d.csv").mkdir()
    with pytest.raises(RowDataError, match="is a directory, not a file"):
        read_records(tmp_path / "d.csv")


def test_duplicate_header(file_dir):
    url = put(f"{file_dir}/dup.csv", "id,name,id\n1,2,3\n")
    with pytest.raises(RowDataError) as caught:
        read_records(url)
    assert str(caught.value) == (
        f"{url}, line 1, column 'id': the header names column 'id' twice (columns 1 and 3)"
    )


def test_blank_header_name(file_dir):
    url = put(f"{file_dir}/blank.csv", "id, ,name\n1,2,3\n")
    with pytest.raises(RowDataError, match=r"line 1: the header's column 2 has no name"):
        read_records(url)


def test_types_mapping_converts_and_reports_file_line_column(file_dir):
    url = put(f"{file_dir}/t.csv", "id,zip,price,flag\n007,02134,3,yes\nx1,1,2,no\n3,4,5,maybe\n")
    types = {"id": "integer", "zip": "text", "price": float, "flag": "boolean"}
    records = read_all(url, types=types)
    assert records[0].data == {"id": 7, "zip": "02134", "price": 3.0, "flag": True}
    assert str(records[1].error) == f"{url}, line 3, column 'id': 'x1' is not an integer"
    assert records[1].error is not None
    assert records[1].error.column == "id"
    assert records[1].data == {"id": "x1", "zip": "1", "price": "2", "flag": "no"}
    assert records[1].raw == "x1,1,2,no"
    assert (
        str(records[2].error)
        == f"{url}, line 4, column 'flag': 'maybe' is not a boolean (use true/false, yes/no, 1/0, on/off)"
    )


def test_types_naming_unknown_columns_is_a_file_error(file_dir):
    url = put(f"{file_dir}/t.csv", "id,name\n1,a\n")
    with pytest.raises(RowDataError, match=r"types name columns that are not in the file: 'nmae'"):
        read_records(url, types={"nmae": "text"})


def test_detection_off_keeps_text_but_nulls_are_none(file_dir):
    url = put(f"{file_dir}/t.csv", "id,flag,empty\n42,true,\n")
    assert good(read_all(url, detect_types=False)) == [{"id": "42", "flag": "true", "empty": None}]


def test_no_header_with_given_columns(file_dir):
    url = put(f"{file_dir}/nh.csv", "1,a\n2,b\n")
    records = read_all(url, csv_options=CsvOptions(header=False, columns=("id", "name")))
    assert [(r.line, r.data) for r in records] == [(1, {"id": 1, "name": "a"}), (2, {"id": 2, "name": "b"})]


def test_no_header_names_columns_by_position(file_dir):
    url = put(f"{file_dir}/nh.csv", "1,a\n2,b,c\n")
    with read_records(url, csv_options=CsvOptions(header=False)) as reader:
        assert reader.columns == ("column_1", "column_2")
        records = list(reader)
    assert records[0].data == {"column_1": 1, "column_2": "a"}
    assert "expected 2 fields" in str(records[1].error)


def test_no_header_empty_file(file_dir):
    url = put(f"{file_dir}/nh.csv", "")
    with pytest.raises(RowDataError, match="file is empty$"):
        read_records(url, csv_options=CsvOptions(header=False))


def test_undecodable_row_is_an_error_record_naming_the_line(file_dir):
    url = put(f"{file_dir}/latin.csv", "a,b\nok,1\ncaf\xe9,2\nfine,3\n".encode("latin-1"))
    records = read_all(url)
    assert [r.ok for r in records] == [True, False, True]
    assert str(records[1].error) == (
        f"{url}, line 3: not valid UTF-8 text (byte 0xe9); pass the file's encoding"
    )
    assert records[1].raw == "caf\\xe9,2"


def test_undecodable_header_is_a_file_error(file_dir):
    url = put(f"{file_dir}/latin.csv", "caf\xe9,b\n1,2\n".encode("latin-1"))
    with pytest.raises(RowDataError, match=r"latin\.csv, line 1: not valid UTF-8 text \(byte 0xe9\)"):
        read_records(url)


def test_other_encodings(file_dir):
    url = put(f"{file_dir}/latin.csv", "a\ncafé\n".encode("latin-1"))
    assert good(read_all(url, csv_options=CsvOptions(encoding="latin-1"))) == [{"a": "café"}]


def test_not_gzip_data_behind_gz_name(file_dir):
    url = put(f"{file_dir}/fake.csv.gz", b"a,b\n1,2\n")
    with pytest.raises(RowDataError, match="not valid gzip data"):
        read_all(url)


def test_truncated_gzip(file_dir):
    data = gzip.compress(b"a,b\n" + b"1,2\n" * 10_000)
    url = put(f"{file_dir}/cut.csv.gz", data[: len(data) // 2])
    with pytest.raises(RowDataError, match="the gzip data is truncated"):
        read_all(url)


def test_reader_is_lazy_and_closes(file_dir):
    url = put(f"{file_dir}/lazy.csv", "a\n" + "".join(f"{i}\n" for i in range(1000)))
    reader = read_records(url)
    first = next(reader)
    assert first.data == {"a": 0}
    reader.close()
    with pytest.raises(StopIteration):
        next(reader)


@pytest.mark.parametrize("name", ["share.csv", "share.csv.gz"])
def test_share_read_goes_from_the_start_to_the_whole_file(any_dir, name):
    text = "a,b\n" + "".join(f"{i},{'x' * 50}\n" for i in range(20_000))
    data = gzip.compress(text.encode()) if name.endswith(".gz") else text
    url = put(f"{any_dir}/{name}", data)
    with read_records(url) as reader:
        shares = [reader.share_read()]
        for count, _ in enumerate(reader, start=1):
            if count % 5_000 == 0:
                shares.append(reader.share_read())
        shares.append(reader.share_read())
    assert all(share is not None for share in shares)
    assert shares[0] < 0.2  # the header and a first read chunk at most
    assert shares == sorted(shares)
    assert shares[1] < 0.5 < shares[3]
    assert shares[-1] == 1.0


def test_share_read_is_unknown_when_the_size_is_not(file_dir, monkeypatch):
    url = put(f"{file_dir}/sizeless.csv", "a\n1\n")
    monkeypatch.setattr(type(as_storage_path(url).fs), "size", _no_size)
    with read_records(url) as reader:
        assert reader.share_read() is None
        assert [r.data for r in reader] == [{"a": 1}]


def _no_size(self, path):
    raise OSError("no size here")


def records_of(block):
    return block.records() if isinstance(block, GoodRows) else block


def test_blocks_hand_out_the_records_iteration_gives_in_lists(file_dir):
    lines = [f"{i},name {i},{i * 1.5}" for i in range(1, 2001)]
    lines[99] = "100,too,many,fields"
    lines[600] = ""  # a blank line
    lines[700] = '701,"two\nlines",3'
    lines[1200] = "1201,bad float,x"
    url = put(f"{file_dir}/blocks.csv", "id,name,score\n" + "\n".join(lines) + "\n")
    expected = read_all(url, types={"score": "float"})

    with read_records(url, types={"score": "float"}) as reader:
        blocks = list(reader.blocks())

    def seen(records):
        return [(r.line, r.data, str(r.error) if r.error else None, r.raw) for r in records]

    assert seen(record for block in blocks for record in records_of(block)) == seen(expected)
    assert len(expected) == 1999  # the blank line is no row
    assert all(0 < len(records_of(block)) <= 512 for block in blocks)
    # blocks of good rows come without a record per row, those with bad ones as lists of records
    assert isinstance(blocks[-1], GoodRows)
    assert all(isinstance(block, list) for block in blocks if not all(r.ok for r in records_of(block)))
    assert [r.line for r in expected if not r.ok] == [101, 1203]  # line 702 holds two


def test_blocks_start_after_the_records_already_taken(file_dir):
    url = put(f"{file_dir}/partly.csv", "a\n" + "".join(f"{i}\n" for i in range(1000)))
    with read_records(url) as reader:
        assert [next(reader).data, next(reader).data] == [{"a": 0}, {"a": 1}]
        rest = [record.data for block in reader.blocks() for record in records_of(block)]
    assert rest == [{"a": i} for i in range(2, 1000)]
