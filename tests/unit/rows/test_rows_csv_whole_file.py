"""
The CSV reader over a whole file: one detected type per column for the whole import, and files joined on.

Small blocks (``BLOCK_ROWS``) put the type decisions of a column and the joins of two files across blocks.
"""

from __future__ import annotations

import pytest

from airflow_provider_cloud.exceptions import RowDataError
from airflow_provider_cloud.rows import CsvOptions, _csv_reader, read_records
from tests.unit.rows.rows_helpers import put


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    monkeypatch.setattr(_csv_reader, "BLOCK_ROWS", 3)


def records(url, **kwargs):
    with read_records(url, **kwargs) as reader:
        return list(reader)


def test_a_column_empty_in_the_first_block_takes_the_type_of_its_first_values(file_dir):
    url = put(f"{file_dir}/late.csv", "id,n\n1,\n2,\n3,\n4,5\n5,17\n")
    assert [r.data for r in records(url)] == [
        {"id": 1, "n": None},
        {"id": 2, "n": None},
        {"id": 3, "n": None},
        {"id": 4, "n": 5},
        {"id": 5, "n": 17},
    ]


def test_true_and_false_among_words_stay_text(file_dir):
    url = put(f"{file_dir}/words.csv", "id,answer\n1,true\n2,maybe\n3,FALSE\n4,true\n5,no\n")
    assert [r.data["answer"] for r in records(url)] == ["true", "maybe", "FALSE", "true", "no"]


def test_a_word_after_a_block_of_true_and_false_fails_naming_line_column_and_how_to_declare(file_dir):
    url = put(f"{file_dir}/flags.csv", "id,answer\n1,true\n2,false\n3,true\n4,maybe\n5,true\n")
    found = records(url)
    assert [r.data["answer"] for r in found[:3]] == [True, False, True]
    error = found[3].error
    assert isinstance(error, RowDataError)
    assert (error.source, error.line, error.column) == (url, 5, "answer")
    assert str(error) == (
        f"{url}, line 5, column 'answer': 'maybe' is not a boolean: the column's type was detected as "
        "boolean from its values (from line 2 on), and the rows before were written so; to import the "
        "column as text, declare it: types={'answer': 'text'}"
    )
    assert found[4].data == {"id": 5, "answer": True}
    declared = records(url, types={"answer": "text"})
    assert [r.data["answer"] for r in declared] == ["true", "false", "true", "maybe", "true"]


def test_integers_and_floats_mixed_are_floats_across_blocks(file_dir):
    url = put(f"{file_dir}/mixed.csv", "id,x\n1,1\n2,2\n3,3\n4,2.5\n5,6\n6,1e3\n7,8\n")
    values = [r.data["x"] for r in records(url)]
    assert values == [1, 2, 3, 2.5, 6.0, 1000.0, 8.0]
    assert [type(v) for v in values] == [int] * 3 + [float] * 4  # the same numbers, widened once seen


def test_text_first_keeps_later_numbers_and_booleans_as_written(file_dir):
    url = put(f"{file_dir}/codes.csv", "id,code\n1,A1\n2,007\n3,B\n4,42\n5,true\n6,2.50\n")
    assert [r.data["code"] for r in records(url)] == ["A1", "007", "B", "42", "true", "2.50"]


@pytest.mark.parametrize("bom", ["", "\ufeff"], ids=["header", "bom-and-header"])
def test_two_csv_files_joined_make_the_second_header_a_bad_row(file_dir, bom):
    first = "\ufeffid,name\n1,a\n2,b\n3,c\n4,d\n"
    second = f"{bom}id,name\n5,e\n6,f\n"
    url = put(f"{file_dir}/joined.csv", (first + second).encode("utf-8"))
    found = records(url)
    assert [r.line for r in found] == [2, 3, 4, 5, 6, 7, 8]
    bad = found[4]
    assert isinstance(bad.error, RowDataError)
    assert (bad.error.source, bad.error.line, bad.error.column) == (url, 6, None)
    after = " after a byte-order mark" if bom else ""
    assert bad.error.reason == (
        f"the header again{after}, in the middle of the file: are two CSV files joined here?"
    )
    assert bad.raw == f"{bom}id,name"
    assert [r.data for r in found if r.ok] == [{"id": i, "name": n} for i, n in enumerate("abcdef", start=1)]


def test_a_byte_order_mark_mid_file_without_a_header_is_a_bad_row(file_dir):
    url = put(f"{file_dir}/bom.csv", "id,name\n1,a\n\ufeff2,b\n3,c\n".encode())
    found = records(url)
    assert [r.ok for r in found] == [True, False, True]
    assert found[1].error.line == 3
    assert "a byte-order mark starts the line" in found[1].error.reason


def test_a_byte_order_mark_inside_a_value_is_text(file_dir):
    url = put(f"{file_dir}/inside.csv", "id,name\n1,a\ufeffb\n".encode())
    assert [r.data for r in records(url)] == [{"id": 1, "name": "a\ufeffb"}]


def test_utf16_without_a_bom_read_as_utf8_fails_at_the_header_saying_what_it_looks_like(file_dir):
    url = put(f"{file_dir}/u16.csv", "id,name\n1,a\n".encode("utf-16-le"))
    with pytest.raises(RowDataError) as caught:
        records(url)
    assert (caught.value.source, caught.value.line) == (url, 1)
    assert caught.value.reason == (
        "the header holds NUL characters (U+0000), which text never does: is the file UTF-16, or not text at "
        "all? Pass the file's encoding (csv_options={'encoding': 'utf-16-le'}, say)"
    )
    le = records(url, csv_options=CsvOptions(encoding="utf-16-le"))
    assert [r.data for r in le] == [{"id": 1, "name": "a"}]
    with pytest.raises(RowDataError) as caught:  # without its BOM, "utf-16" cannot tell the byte order
        records(url, csv_options=CsvOptions(encoding="utf-16"))
    assert (
        str(caught.value)
        == f"{url}: the file is not valid utf-16 text: UTF-16 stream does not start with BOM"
    )


def test_a_row_with_a_nul_character_is_a_bad_row(file_dir):
    url = put(f"{file_dir}/nul.csv", b"id,name\n1,a\n2,b\x00c\n3,d\n")
    found = records(url)
    assert [r.ok for r in found] == [True, False, True]
    assert found[1].error.line == 3
    assert found[1].error.reason.startswith("the row holds NUL characters (U+0000)")
