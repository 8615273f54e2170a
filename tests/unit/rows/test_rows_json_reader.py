from __future__ import annotations

import gzip
import json

import pytest

from airflow_provider_cloud.exceptions import RowDataError
from airflow_provider_cloud.rows import (
    Record,
    _json_readers as readers_module,
    iter_inline_rows,
    read_records,
)
from tests.unit.rows.rows_helpers import put


def read_all(url, **kwargs) -> list[Record]:
    with read_records(url, **kwargs) as reader:
        return list(reader)


@pytest.fixture(params=[1, 2, 3, 5, 7, 64])
def tiny_chunks(request, monkeypatch) -> int:
    """Make the JSON array parser read a few characters at a time, to cross every boundary."""
    monkeypatch.setattr(readers_module, "JSON_CHUNK_CHARS", request.param)
    return request.param


# --- JSON Lines ------------------------------------------------------------------------------


def test_json_lines_keep_json_types(any_dir):
    url = put(
        f"{any_dir}/r.jsonl", '{"id": 1, "zip": "02134", "tags": ["a"], "x": null}\n{"id": 2.5, "ok": true}\n'
    )
    records = read_all(url)
    assert [(r.line, r.data) for r in records] == [
        (1, {"id": 1, "zip": "02134", "tags": ["a"], "x": None}),
        (2, {"id": 2.5, "ok": True}),
    ]


def test_json_lines_bad_lines_are_error_records(file_dir):
    text = '{"a": 1}\n\n{"a": \n[1, 2]\n"text"\n{"a": 3}\r\n'
    url = put(f"{file_dir}/r.ndjson", text)
    records = read_all(url)
    assert [r.line for r in records] == [1, 3, 4, 5, 6]
    assert [r.ok for r in records] == [True, False, False, False, True]
    assert str(records[1].error).startswith(f"{url}, line 3: not valid JSON: Expecting value")
    assert records[1].raw == '{"a": '
    assert str(records[2].error) == f"{url}, line 4: expected a JSON object, got an array"
    assert records[2].raw == "[1, 2]"
    assert str(records[3].error) == f"{url}, line 5: expected a JSON object, got a string"
    assert records[4].data == {"a": 3}


def test_json_lines_types_convert_and_validate(file_dir):
    url = put(f"{file_dir}/r.jsonl", '{"n": "12", "f": 1}\n{"n": "abc", "f": 2}\n{"n": 3.0}\n')
    records = read_all(url, types={"n": "integer", "f": "float"})
    assert records[0].data == {"n": 12, "f": 1.0}
    assert type(records[0].data["f"]) is float
    assert str(records[1].error) == f"{url}, line 2, column 'n': 'abc' is not an integer"
    assert records[1].data == {"n": "abc", "f": 2}
    assert records[2].data == {"n": 3}


def test_json_lines_gz_and_bom(any_dir):
    url = put(f"{any_dir}/r.jsonl.gz", gzip.compress('\ufeff{"a": "é"}\n'.encode()))
    assert [r.data for r in read_all(url)] == [{"a": "é"}]


@pytest.mark.parametrize("content", ["", "\n  \n"])
def test_json_lines_empty_file(file_dir, content):
    url = put(f"{file_dir}/e.jsonl", content)
    with pytest.raises(RowDataError, match=r"e\.jsonl: file is empty"):
        read_records(url)
    assert read_all(url, allow_empty=True) == []


def test_json_lines_undecodable_line(file_dir):
    url = put(f"{file_dir}/r.jsonl", b'{"a": 1}\n{"a": "caf\xe9"}\n')
    records = read_all(url)
    assert records[0].ok
    assert (
        str(records[1].error) == f"{url}, line 2: not valid UTF-8 text (byte 0xe9); pass the file's encoding"
    )


def test_json_lines_missing_file(any_dir):
    with pytest.raises(RowDataError, match="missing.jsonl: file not found"):
        read_records(f"{any_dir}/missing.jsonl")


# --- JSON arrays -----------------------------------------------------------------------------


ARRAY = """[
  {"id": 1, "name": "a, \\"quoted\\" [x]", "n": 123456789},
  {"id": 2,
   "nested": {"deep": [1, 2, {"x": null}]}, "f": -1.5e-3},

  {"id": 3, "t": true, "u": "\\u00e9\\ud83d\\ude00"}
]
"""


def test_json_array_streamed_across_chunk_boundaries(file_dir, tiny_chunks):
    url = put(f"{file_dir}/a.json", ARRAY)
    records = read_all(url)
    assert [r.data for r in records] == json.loads(ARRAY)
    assert [r.line for r in records] == [2, 3, 6]


def test_json_array_numbers_split_by_chunks(file_dir, tiny_chunks):
    text = '[{"a": 1234567890123}, {"a": -0.000125}, {"a": 12e10}, {"a": true}, {"a": false}, {"a": null}]'
    url = put(f"{file_dir}/n.json", text)
    assert [r.data for r in read_all(url)] == json.loads(text)


def test_json_array_non_object_elements_are_error_records(file_dir, tiny_chunks):
    url = put(f"{file_dir}/a.json", '[\n{"a": 1},\n[1, 2],\n"x",\n{"a": 2}\n]')
    records = read_all(url)
    assert [r.line for r in records] == [2, 3, 4, 5]
    assert [r.ok for r in records] == [True, False, False, True]
    assert str(records[1].error) == f"{url}, line 3: expected a JSON object, got an array"
    assert records[1].raw == "[1, 2]"
    assert records[2].raw == '"x"'


def test_json_array_types(file_dir):
    url = put(f"{file_dir}/a.json", '[{"n": "12"}, {"n": "abc"}]')
    records = read_all(url, types={"n": int})
    assert records[0].data == {"n": 12}
    assert str(records[1].error) == f"{url}, line 1, column 'n': 'abc' is not an integer"


def test_json_empty_array_has_no_rows(file_dir):
    url = put(f"{file_dir}/a.json", " [ ] \n")
    assert read_all(url) == []


@pytest.mark.parametrize("content", ["", "  \n"])
def test_json_empty_file(file_dir, content):
    url = put(f"{file_dir}/a.json", content)
    with pytest.raises(RowDataError, match=r"a\.json: file is empty"):
        read_records(url)


@pytest.mark.parametrize(
    ("content", "found"),
    [('{"a": 1}', "an object"), ("42", "a single JSON value"), ('"x"', "a single JSON value")],
)
def test_json_not_an_array(file_dir, content, found):
    url = put(f"{file_dir}/a.json", content)
    with pytest.raises(RowDataError) as caught:
        read_records(url)
    assert str(caught.value) == (
        f"{url}, line 1: expected a JSON array of objects, found {found} (for one object per line, use JSON Lines)"
    )


@pytest.mark.parametrize(
    "content",
    [
        '[\n{"a": 1},\n{"b": "unterminated',
        '[\n{"a": 1},\n{"b": 2',
        '[\n{"a": 1},\n',
        '[\n{"a": 1}',
        "[",
        '[{"a": tr',
    ],
)
def test_json_truncated(file_dir, content, tiny_chunks):
    url = put(f"{file_dir}/cut.json", content)
    with pytest.raises(RowDataError, match=r"cut\.json, line \d+: the JSON document is truncated"):
        read_all(url)


def test_json_truncated_after_rows_were_streamed(file_dir):
    url = put(f"{file_dir}/cut.json", '[\n{"a": 1},\n{"a": 2},\n{"b": ')
    reader = read_records(url)
    assert next(reader).data == {"a": 1}
    assert next(reader).data == {"a": 2}
    with pytest.raises(RowDataError, match="line 4: the JSON document is truncated"):
        next(reader)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('[\n{"a": 1},\n{"a" 2}\n]', r"line 3: invalid JSON: Expecting ':' delimiter"),
        ('[\n{"a": 1}\n{"a": 2}\n]', r"line 3: invalid JSON: expected ',' or '\]' after an element"),
        ('[{"a": 1},\n]', r"line 2: invalid JSON: a comma before '\]'"),
        ('[{"a": 1}]\n{"b": 2}', r"line 2: invalid JSON: extra data after the array"),
        ('[{"a": 1}, @]', r"line 1: invalid JSON: Expecting value"),
    ],
)
def test_json_invalid(file_dir, content, reason):
    url = put(f"{file_dir}/bad.json", content)
    with pytest.raises(RowDataError, match=reason):
        read_all(url)


def test_json_invalid_syntax_does_not_read_the_rest_of_a_large_file(file_dir, monkeypatch):
    monkeypatch.setattr(readers_module, "JSON_CHUNK_CHARS", 1024)
    body = '[{"a" 1},' + ",".join(f'{{"a": {i}}}' for i in range(200_000)) + "]"
    url = put(f"{file_dir}/big.json", body)
    reader = read_records(url)
    parser_reads = []
    original = readers_module.JsonArrayParser._read_more

    def counting(self):
        parser_reads.append(1)
        return original(self)

    monkeypatch.setattr(readers_module.JsonArrayParser, "_read_more", counting)
    with pytest.raises(RowDataError, match="line 1: invalid JSON: Expecting ':' delimiter"):
        next(reader)
    assert len(parser_reads) <= 2


def test_json_large_element_bigger_than_chunks(file_dir, monkeypatch):
    monkeypatch.setattr(readers_module, "JSON_CHUNK_CHARS", 16)
    big = {"text": "x" * 100_000, "list": list(range(2000))}
    url = put(f"{file_dir}/big.json", json.dumps([big, {"a": 1}]))
    assert [r.data for r in read_all(url)] == [big, {"a": 1}]


def test_json_undecodable_bytes(file_dir):
    url = put(f"{file_dir}/bad.json", b'[\n{"a": 1},\n{"a": "caf\xe9"}]')
    with pytest.raises(RowDataError, match=r"bad\.json, line 3: not valid UTF-8 text \(byte 0xe9\)"):
        read_all(url)


def test_json_gz(any_dir):
    url = put(f"{any_dir}/a.json.gz", gzip.compress(b'[{"a": 1}, {"a": 2}]'))
    assert [r.data for r in read_all(url)] == [{"a": 1}, {"a": 2}]


# --- rows given inline -----------------------------------------------------------------------


def test_inline_rows():
    records = list(
        iter_inline_rows([{"n": "1"}, {"n": "x"}, ["not", "a", "mapping"], {"m": 5}], types={"n": "integer"})  # type: ignore[list-item]
    )
    assert [r.line for r in records] == [1, 2, 3, 4]
    assert records[0].data == {"n": 1}
    assert str(records[1].error) == "rows, line 2, column 'n': 'x' is not an integer"
    assert records[1].data == {"n": "x"}
    assert str(records[2].error) == "rows, line 3: expected a mapping of column names to values, got list"
    assert records[2].raw == "['not', 'a', 'mapping']"
    assert records[3].data == {"m": 5}


def test_inline_rows_source_name_and_laziness():
    def rows():
        yield {"a": 1}
        raise AssertionError("read too far")

    records = iter_inline_rows(rows(), source="xcom:extract")
    assert next(records).data == {"a": 1}


def test_inline_rows_checks_arguments_at_once():
    with pytest.raises(ValueError, match="unknown column type 'nope'"):
        iter_inline_rows([], types={"a": "nope"})
    with pytest.raises(TypeError, match="iterable of mappings"):
        iter_inline_rows({"a": 1})  # type: ignore[dict-item]


def test_json_lines_blocks_are_small_lists_in_order(file_dir):
    from airflow_provider_cloud.rows.readers import JSON_BLOCK_ROWS

    url = put(f"{file_dir}/many.jsonl", "".join(json.dumps({"i": i}) + "\n" for i in range(300)))
    with read_records(url) as reader:
        blocks = list(reader.blocks())
    assert [len(b) for b in blocks] == [JSON_BLOCK_ROWS, JSON_BLOCK_ROWS, 300 - 2 * JSON_BLOCK_ROWS]
    assert [r.data for b in blocks for r in b] == [{"i": i} for i in range(300)]
    assert [r.line for b in blocks for r in b] == list(range(1, 301))


# --- numbers JSON does not have ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name", "column"),
    [
        ('{"id": 2, "score": NaN}', "NaN", "score"),
        ('{"id": 2, "score": Infinity}', "Infinity", "score"),
        ('{"id": 2, "score": -Infinity}', "-Infinity", "score"),
        ('{"id": 2, "tags": {"deep": [1, NaN]}}', "NaN", "tags"),
    ],
)
def test_json_lines_nan_and_infinity_are_bad_rows_naming_file_line_and_column(file_dir, text, name, column):
    url = put(f"{file_dir}/n.jsonl", '{"id": 1, "score": 1.5}\n' + text + '\n{"id": 3, "score": 2}\n')
    records = read_all(url)
    assert [r.ok for r in records] == [True, False, True]
    error = records[1].error
    assert (error.source, error.line, error.column) == (url, 2, column)
    assert str(error) == (
        f"{url}, line 2, column {column!r}: {name} is not a JSON number (JSON has no NaN or Infinity): "
        "write null, or the value as text"
    )
    assert records[1].raw == text


def test_json_array_nan_is_a_bad_row_and_reading_goes_on(file_dir, tiny_chunks):
    url = put(f"{file_dir}/n.json", '[\n{"id": 1},\n{"id": 2,\n "score": NaN},\n{"id": 3}\n]')
    records = read_all(url)
    assert [r.ok for r in records] == [True, False, True]
    assert (records[1].error.source, records[1].error.line, records[1].error.column) == (url, 3, "score")
    assert records[1].raw == '{"id": 2,\n "score": NaN}'
    assert records[2].data == {"id": 3}


def test_inline_rows_with_nan_or_infinity_are_bad_rows_naming_the_column():
    records = list(
        iter_inline_rows([{"id": 1, "x": 1.0}, {"id": 2, "x": float("nan")}, {"y": float("-inf")}])
    )
    assert [r.ok for r in records] == [True, False, False]
    assert str(records[1].error).startswith("rows, line 2, column 'x': nan is not a number JSON can carry")
    assert (records[2].error.line, records[2].error.column) == (3, "y")
