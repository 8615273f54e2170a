from __future__ import annotations

import csv

import pytest

from airflow_provider_cloud.exceptions import RowDataError
from airflow_provider_cloud.rows import CsvOptions, csv_options_for, detect_format


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("rows.csv", "csv"),
        ("ROWS.CSV", "csv"),
        ("rows.tsv", "csv"),
        ("rows.csv.gz", "csv"),
        ("rows.tsv.GZ", "csv"),
        ("rows.jsonl", "jsonl"),
        ("rows.ndjson", "jsonl"),
        ("rows.jsonl.gz", "jsonl"),
        ("rows.json", "json"),
        ("rows.json.gz", "json"),
        ("s3://bucket/dir.v2/rows.2024-01-01.csv", "csv"),
        ("memory://b/x.json", "json"),
    ],
)
def test_detect_format_from_name(name, expected):
    assert detect_format(name) == expected


@pytest.mark.parametrize("name", ["rows.txt", "rows", "rows.gz", "rows.csv.zip", "rows.xlsx"])
def test_detect_format_error_names_path_and_suffixes(name):
    with pytest.raises(RowDataError) as caught:
        detect_format(f"/data/{name}")
    message = str(caught.value)
    assert f"/data/{name}" in message
    for suffix in (".csv", ".tsv", ".jsonl", ".ndjson", ".json", ".gz"):
        assert suffix in message


@pytest.mark.parametrize(
    ("explicit", "expected"),
    [("csv", "csv"), ("TSV", "csv"), ("jsonl", "jsonl"), ("ndjson", "jsonl"), ("json", "json")],
)
def test_explicit_format_wins_over_the_name(explicit, expected):
    assert detect_format("whatever.txt", explicit) == expected


def test_unknown_explicit_format():
    with pytest.raises(RowDataError, match="unknown row format 'xml'"):
        detect_format("a.csv", "xml")


@pytest.mark.parametrize(
    ("name", "explicit", "delimiter"),
    [("a.csv", None, ","), ("a.tsv", None, "\t"), ("a.tsv.gz", None, "\t"), ("a.txt", "tsv", "\t")],
)
def test_delimiter_defaults_by_name(name, explicit, delimiter):
    assert csv_options_for(name, None, explicit).delimiter == delimiter


def test_explicit_delimiter_is_kept_for_tsv_name():
    assert csv_options_for("a.tsv", CsvOptions(delimiter=";")).delimiter == ";"


@pytest.mark.parametrize(
    ("quoting", "constant"),
    [
        ("minimal", csv.QUOTE_MINIMAL),
        ("ALL", csv.QUOTE_ALL),
        ("nonnumeric", csv.QUOTE_NONNUMERIC),
        ("none", csv.QUOTE_NONE),
        (csv.QUOTE_ALL, csv.QUOTE_ALL),
    ],
)
def test_quoting_names_and_constants(quoting, constant):
    assert CsvOptions(quoting=quoting, escapechar="\\").quoting == constant


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"quoting": "sometimes"}, "unknown CSV quoting 'sometimes'"),
        ({"quoting": 42}, "unknown CSV quoting constant 42"),
        ({"delimiter": ";;"}, "delimiter must be one character"),
        ({"quotechar": ""}, "quotechar must be one character"),
        ({"null_values": "NULL"}, "collection of strings"),
    ],
)
def test_bad_csv_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CsvOptions(**kwargs)


def test_utf8_reads_with_bom_stripping_codec():
    assert CsvOptions().read_encoding == "utf-8-sig"
    assert CsvOptions(encoding="UTF8").read_encoding == "utf-8-sig"
    assert CsvOptions(encoding="latin-1").read_encoding == "latin-1"
