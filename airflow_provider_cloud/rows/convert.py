"""
Typing row values: CSV text to Python values, and JSON values checked against declared types.

Column types (``types={"id": "integer", "price": float, ...}``), by name (any case) or Python type:

============================== ==================================================================
type (aliases, Python type)    CSV text accepted
============================== ==================================================================
integer (int; ``int``)         ``42``, ``-7``, ``+7``, ``007`` (= 7), ``12.0`` and ``1e3`` (whole
                               values only), within the signed 64-bit range
float (real, number, double;   what ``float()`` reads, without underscores: ``3.5``, ``1e3``,
``float``)                     ``nan``, ``inf``
boolean (bool; ``bool``)       ``true/false``, ``t/f``, ``yes/no``, ``y/n``, ``on/off``, ``1/0``,
                               any case
text (str, string; ``str``)    anything, unchanged
json (``dict``, ``list``)      a JSON document (``{"a": 1}``, ``[1, 2]``, ``3``), parsed
auto                           type detection, below
============================== ==================================================================

Every type accepts NULL: a CSV cell equal to one of the null values (by default only the empty
cell) is ``None`` whatever the column's type. Surrounding spaces are ignored for integer, float and
boolean columns. A value that does not fit raises ``ConversionError`` with the reason.

Type detection (columns without a declared type, when detection is on), for CSV text only — a
value must look unambiguously like its type, so ids and codes keep their exact text:

- a null value (by default ``""``) becomes ``None``;
- ``true``/``false`` in any case become booleans (``yes``, ``no``, ``1``, ``0`` stay text);
- ``0``, ``42``, ``-7`` become integers; not with a leading zero (``007``, zip codes), a ``+``
  sign (phone numbers), spaces, underscores, or beyond the signed 64-bit range (those stay text,
  so long ids are not rounded);
- ``3.5``, ``-0.25``, ``.5``, ``1e3``, ``2.5E-3`` become floats; not ``nan``, ``inf`` or
  ``infinity``, nor values with a leading zero such as ``007.5``, nor values too large for a float;
- everything else is text, unchanged.

Those are the rules for one cell (``detect_value``). A CSV import gives each undetected column **one
type for the whole import**, so that no cell is stored as something other than what the file says:

- the column's first block of rows with values decides: the join of its cells' kinds, where integers
  among floats are floats and any other mix is text (``true`` among words stays ``"true"``; ``42``
  among codes such as ``007`` stays ``"42"``); a column with no values yet is undecided;
- later blocks are held to that type: an integer column meeting a float widens to float (the numbers
  are the same, later integers come as floats); a text column takes every cell as its text;
- a later cell that does not fit (a word in a number column, ``yes`` in a boolean one) is a bad row
  naming the line, the column and where the type was decided: the rows before it were already written
  with that type, so widening to text then would leave them as something the file does not say. Declare
  the column (``types={"col": "text"}``) to import it as text. Chosen over reading the file twice
  (once to type, once to write), which doubles the reading of large files in object storage.

An import into an existing data set reads the columns it stores as text as text (``text_columns`` of
``read_records``): detection would store ``true`` as 1 and ``2.50`` as 2.5 there. A column empty in the
first rows is typed by its first values; a Datasette table created by the import waits for a value in
every column (up to 10,000 rows) before it is created, so such a column gets its values' type too (a
column still empty then is created as text: create the data set first to choose its types).

JSON values (JSON Lines, JSON arrays, rows given inline) keep the types JSON gave them; only a
declared type converts or checks them: ``"12"`` in an integer column becomes ``12``, ``"abc"``
fails; ``12.0`` becomes ``12``; a blank string in an integer, float or boolean column becomes
``None``; ``true`` is not an integer; a number in a text column becomes its text; a json column
keeps the value as it is.
"""

from __future__ import annotations

import decimal
import json
import math
import re
from collections.abc import Callable, Collection, Mapping
from typing import Any, Literal

ColumnType = Literal["integer", "float", "boolean", "text", "json", "auto"]
TypeSpec = str | type

TYPE_NAMES: dict[str, ColumnType] = {
    "integer": "integer",
    "int": "integer",
    "float": "float",
    "real": "float",
    "number": "float",
    "double": "float",
    "boolean": "boolean",
    "bool": "boolean",
    "text": "text",
    "str": "text",
    "string": "text",
    "json": "json",
    "auto": "auto",
}

PYTHON_TYPES: dict[type, ColumnType] = {
    bool: "boolean",
    int: "integer",
    float: "float",
    str: "text",
    dict: "json",
    list: "json",
}

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

TRUE_WORDS = frozenset({"true", "t", "yes", "y", "on", "1"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "off", "0"})

_DETECT_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")
_DETECT_FLOAT = re.compile(r"-?(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_DECLARED_INT = re.compile(r"[-+]?[0-9]+")
_DECLARED_DECIMAL = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_NUMBER_START = frozenset("-.0123456789")
_MAX_INT_DIGITS = 20


class ConversionError(ValueError):
    """A value does not fit its column's type; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def normalize_type(spec: TypeSpec) -> ColumnType:
    """Return the column type named by ``spec`` (a name above, any case, or a Python type)."""
    if isinstance(spec, type):
        found = PYTHON_TYPES.get(spec)
        if found is None:
            raise ValueError(
                f"unsupported column type {spec.__name__}; use one of "
                f"{', '.join(t.__name__ for t in PYTHON_TYPES)} or a type name"
            )
        return found
    if isinstance(spec, str):
        name = TYPE_NAMES.get(spec.strip().lower())
        if name is None:
            raise ValueError(f"unknown column type {spec!r}; use one of {', '.join(TYPE_NAMES)}")
        return name
    raise TypeError(f"a column type must be a name or a Python type, not {type(spec).__name__}")


def normalize_types(types: Mapping[str, TypeSpec] | None) -> dict[str, ColumnType]:
    """Return ``types`` with every type normalized; raises ``ValueError`` naming a bad entry."""
    if not types:
        return {}
    normalized: dict[str, ColumnType] = {}
    for column, spec in types.items():
        if not isinstance(column, str) or not column:
            raise ValueError(f"column names in types must be non-empty strings, not {column!r}")
        try:
            normalized[column] = normalize_type(spec)
        except (TypeError, ValueError) as error:
            raise ValueError(f"types[{column!r}]: {error}") from error
    return normalized


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- detection -------------------------------------------------------------------------------


def detect_value(text: str, null_values: Collection[str] = ("",)) -> Any:
    """Return the value a CSV cell's text stands for, by the detection rules in the module docstring."""
    if text in null_values:
        return None
    return _detect(text)


def _detector(nulls: frozenset[str]) -> Callable[[str], Any]:
    """Return the detection function, with the null check folded in (one call per cell on the hot path)."""
    int_match = _DETECT_INT.fullmatch
    float_match = _DETECT_FLOAT.fullmatch
    number_start = _NUMBER_START
    isfinite = math.isfinite

    def detect(text: str) -> Any:
        if text in nulls:
            return None
        if not text:
            return text
        if text[0] in number_start:
            if int_match(text):
                if len(text) > _MAX_INT_DIGITS:
                    return text
                number = int(text)
                return number if INT64_MIN <= number <= INT64_MAX else text
            if float_match(text):
                real = float(text)
                return real if isfinite(real) else text
            return text
        if len(text) in (4, 5):
            lowered = text.lower()
            if lowered == "true":
                return True
            if lowered == "false":
                return False
        return text

    return detect


_detect = _detector(frozenset())


# --- declared types on text ------------------------------------------------------------------


def _text_to_integer(text: str) -> int:
    stripped = text.strip()
    if _DECLARED_INT.fullmatch(stripped):
        if len(stripped.lstrip("+-").lstrip("0")) > _MAX_INT_DIGITS:
            raise ConversionError(f"{_short(text)} is outside the 64-bit integer range")
        return _in_int64(int(stripped), text)
    if _DECLARED_DECIMAL.fullmatch(stripped):
        try:
            number = decimal.Decimal(stripped)
        except decimal.InvalidOperation:
            raise ConversionError(f"{_short(text)} is not an integer") from None
        if number.adjusted() > _MAX_INT_DIGITS:
            raise ConversionError(f"{_short(text)} is outside the 64-bit integer range")
        if number != number.to_integral_value():
            raise ConversionError(f"{_short(text)} is not a whole number")
        return _in_int64(int(number), text)
    raise ConversionError(f"{_short(text)} is not an integer")


def _in_int64(number: int, original: object) -> int:
    if INT64_MIN <= number <= INT64_MAX:
        return number
    raise ConversionError(f"{_short(original)} is outside the 64-bit integer range")


def _text_to_float(text: str) -> float:
    if "_" in text:
        raise ConversionError(f"{_short(text)} is not a number")
    try:
        return float(text)
    except ValueError:
        raise ConversionError(f"{_short(text)} is not a number") from None


def _text_to_boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    raise ConversionError(f"{_short(text)} is not a boolean (use true/false, yes/no, 1/0, on/off)")


def _text_to_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as error:
        raise ConversionError(f"{_short(text)} is not valid JSON: {error}") from None


def _identity(value: Any) -> Any:
    return value


_TEXT_CONVERTERS: dict[ColumnType, Callable[[str], Any]] = {
    "integer": _text_to_integer,
    "float": _text_to_float,
    "boolean": _text_to_boolean,
    "text": _identity,
    "json": _text_to_json,
    "auto": _detect,
}


def text_converter(
    column_type: ColumnType | None, null_values: Collection[str] = ("",), *, detect: bool = True
) -> Callable[[str], Any]:
    """
    Return a function turning one CSV cell's text into its value.

    ``column_type`` ``None`` means undeclared: detected when ``detect`` is true, else kept as text.
    Null values become ``None`` in every case.
    """
    nulls = frozenset(null_values)
    if (column_type is None and detect) or column_type == "auto":
        return _detector(nulls)
    convert: Callable[[Any], Any]
    convert = _identity if column_type is None else _TEXT_CONVERTERS[column_type]
    if not nulls:
        return convert

    def converter(text: str) -> Any:
        if text in nulls:
            return None
        return convert(text)

    return converter


# --- declared types on JSON values -----------------------------------------------------------


def _json_kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, int | float | decimal.Decimal):
        return "a number"
    return f"a {type(value).__name__}"


def _value_to_integer(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        if value is None:
            return None
        raise ConversionError(f"expected an integer, got a boolean ({_short(value)})")
    if isinstance(value, int):
        return _in_int64(value, value)
    if isinstance(value, float | decimal.Decimal):
        if not math.isfinite(value) or value != int(value):
            raise ConversionError(f"{_short(value)} is not a whole number")
        return _in_int64(int(value), value)
    if isinstance(value, str):
        return None if not value.strip() else _text_to_integer(value)
    raise ConversionError(f"expected an integer, got {_json_kind(value)}")


def _value_to_float(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ConversionError(f"expected a number, got a boolean ({_short(value)})")
    if isinstance(value, int | float | decimal.Decimal):
        return float(value)
    if isinstance(value, str):
        return None if not value.strip() else _text_to_float(value)
    raise ConversionError(f"expected a number, got {_json_kind(value)}")


def _value_to_boolean(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        return None if not value.strip() else _text_to_boolean(value)
    raise ConversionError(f"expected a boolean, got {_json_kind(value)} ({_short(value)})")


def _value_to_text(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


_VALUE_CONVERTERS: dict[ColumnType, Callable[[Any], Any]] = {
    "integer": _value_to_integer,
    "float": _value_to_float,
    "boolean": _value_to_boolean,
    "text": _value_to_text,
    "json": _identity,
    "auto": _identity,
}


def value_converter(column_type: ColumnType) -> Callable[[Any], Any]:
    """Return a function checking and converting one JSON (or inline) value to ``column_type``."""
    return _VALUE_CONVERTERS[column_type]


def convert_value(value: Any, column_type: TypeSpec) -> Any:
    """Convert one JSON or Python value to a declared type; raises ``ConversionError``."""
    return _VALUE_CONVERTERS[normalize_type(column_type)](value)


def convert_text(text: str, column_type: TypeSpec | None, null_values: Collection[str] = ("",)) -> Any:
    """Convert one CSV cell's text to a declared type, or detect it when ``column_type`` is ``None``."""
    declared = None if column_type is None else normalize_type(column_type)
    return text_converter(declared, null_values)(text)
