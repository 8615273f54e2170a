from __future__ import annotations

import decimal
import math

import pytest

from airflow_provider_cloud.rows import (
    ConversionError,
    convert_text,
    convert_value,
    detect_value,
    normalize_types,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", None),
        ("42", 42),
        ("-7", -7),
        ("0", 0),
        ("-0", 0),
        ("9223372036854775807", 2**63 - 1),
        ("-9223372036854775808", -(2**63)),
        ("9223372036854775808", "9223372036854775808"),
        ("123456789012345678901234567890", "123456789012345678901234567890"),
        ("007", "007"),
        ("02134", "02134"),
        ("+44123456", "+44123456"),
        (" 42", " 42"),
        ("42 ", "42 "),
        ("1_000", "1_000"),
        ("1,000", "1,000"),
        ("3.5", 3.5),
        ("-0.25", -0.25),
        (".5", 0.5),
        ("5.", 5.0),
        ("1e3", 1000.0),
        ("2.5E-3", 0.0025),
        ("1e999", "1e999"),
        ("007.5", "007.5"),
        ("nan", "nan"),
        ("NaN", "NaN"),
        ("inf", "inf"),
        ("-Infinity", "-Infinity"),
        ("true", True),
        ("FALSE", False),
        ("True", True),
        ("yes", "yes"),
        ("no", "no"),
        ("1.2.3", "1.2.3"),
        ("-", "-"),
        (".", "."),
        ("e5", "e5"),
        ("2024-01-01", "2024-01-01"),
        ("hello", "hello"),
        ("NULL", "NULL"),
    ],
)
def test_detection_table(text, expected):
    value = detect_value(text)
    assert value == expected
    assert type(value) is type(expected)


def test_detection_with_configured_null_values():
    assert detect_value("NULL", ("", "NULL", "N/A")) is None
    assert detect_value("N/A", ("", "NULL", "N/A")) is None
    assert detect_value("null", ("", "NULL")) == "null"
    assert detect_value("", ()) == ""


@pytest.mark.parametrize(
    ("text", "column_type", "expected"),
    [
        ("42", "integer", 42),
        (" 42 ", "int", 42),
        ("007", int, 7),
        ("+7", "integer", 7),
        ("12.0", "integer", 12),
        ("1e3", "integer", 1000),
        ("3.5", "float", 3.5),
        ("42", float, 42.0),
        ("nan", "float", "nan"),
        ("-inf", "real", -math.inf),
        ("yes", "boolean", True),
        ("N", "bool", False),
        ("1", bool, True),
        ("off", "boolean", False),
        ("007", "text", "007"),
        ("42", str, "42"),
        ('{"a": [1, 2]}', "json", {"a": [1, 2]}),
        ("[1,2]", list, [1, 2]),
        ("", "integer", None),
        ("", "text", None),
        ("42", "auto", 42),
    ],
)
def test_declared_types_on_text(text, column_type, expected):
    value = convert_text(text, column_type)
    if expected == "nan":
        assert math.isnan(value)
    else:
        assert value == expected
        assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("text", "column_type", "reason"),
    [
        ("abc", "integer", "'abc' is not an integer"),
        ("3.5", "integer", "'3.5' is not a whole number"),
        ("1_000", "integer", "is not an integer"),
        ("9223372036854775808", "integer", "outside the 64-bit integer range"),
        ("1e30", "integer", "outside the 64-bit integer range"),
        ("abc", "float", "'abc' is not a number"),
        ("1_0", "float", "is not a number"),
        ("maybe", "boolean", "'maybe' is not a boolean"),
        ("{nope", "json", "is not valid JSON"),
    ],
)
def test_declared_type_failures(text, column_type, reason):
    with pytest.raises(ConversionError, match=reason):
        convert_text(text, column_type)


@pytest.mark.parametrize(
    ("value", "column_type", "expected"),
    [
        ("12", "integer", 12),
        (12.0, "integer", 12),
        (12, "integer", 12),
        (decimal.Decimal("5"), "integer", 5),
        ("", "integer", None),
        (None, "integer", None),
        (3, "float", 3.0),
        ("2.5", "float", 2.5),
        (1, "boolean", True),
        ("false", "boolean", False),
        (True, "boolean", True),
        (2134, "text", "2134"),
        (True, "text", "true"),
        ({"a": 1}, "text", '{"a":1}'),
        ({"a": 1}, "json", {"a": 1}),
        ("[1]", "json", "[1]"),
        ("x", "auto", "x"),
    ],
)
def test_declared_types_on_json_values(value, column_type, expected):
    converted = convert_value(value, column_type)
    assert converted == expected
    assert type(converted) is type(expected)


@pytest.mark.parametrize(
    ("value", "column_type", "reason"),
    [
        ("abc", "integer", "'abc' is not an integer"),
        (True, "integer", "expected an integer, got a boolean"),
        (2.5, "integer", "2.5 is not a whole number"),
        ([1], "integer", "expected an integer, got an array"),
        (2**70, "integer", "outside the 64-bit integer range"),
        (False, "float", "expected a number, got a boolean"),
        ({"a": 1}, "float", "expected a number, got an object"),
        (2, "boolean", "expected a boolean, got a number"),
        ("perhaps", "boolean", "is not a boolean"),
    ],
)
def test_declared_type_failures_on_json_values(value, column_type, reason):
    with pytest.raises(ConversionError, match=reason):
        convert_value(value, column_type)


def test_normalize_types_accepts_names_and_python_types():
    assert normalize_types({"a": "INT", "b": float, "c": bool, "d": "string", "e": dict}) == {
        "a": "integer",
        "b": "float",
        "c": "boolean",
        "d": "text",
        "e": "json",
    }
    assert normalize_types(None) == {}


@pytest.mark.parametrize(
    ("types", "message"),
    [
        ({"a": "decimal"}, r"types\['a'\]: unknown column type 'decimal'; use one of integer"),
        ({"a": bytes}, r"types\['a'\]: unsupported column type bytes"),
        ({"a": 3}, r"types\['a'\]: a column type must be a name or a Python type"),
        ({"": "text"}, "non-empty strings"),
    ],
)
def test_normalize_types_errors(types, message):
    with pytest.raises(ValueError, match=message):
        normalize_types(types)
