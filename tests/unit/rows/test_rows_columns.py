"""Typing whole CSV columns gives exactly what typing each cell alone gives (``rows._columns``)."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from airflow_provider_cloud.rows._columns import column_typer
from airflow_provider_cloud.rows.convert import ConversionError, text_converter

#: Cells near every edge of the detection and declared-type rules.
TRICKY = [
    "0", "-0", "7", "-7", "+7", "007", "00", "42", "1_000", " 5", "5 ", "5\r",
    "999999999999999999", "1000000000000000000", "9223372036854775807", "9223372036854775808",
    "-9223372036854775808", "-9223372036854775809", "123456789012345678901",
    "3.5", "-0.25", ".5", "1.", "-.5", "1e3", "2.5E-3", "1e400", "-1e400", "007.5", "0.0", "-0.0",
    "nan", "NaN", "inf", "-inf", "Infinity", "1e", "e3", ".", "-", "--1", "1.2.3", "1,5",
    "true", "false", "TRUE", "False", "tRuE", "yes", "no", "t", "f", "1", "truex", "falſe", "ſ",
    "", " ", "NULL", "null", "N/A", "text", "a b", "1970-01-01", "12:30", "٣", "１２", "x\ny", "5\n",
    "\n5", "é", "tree", "fals",
]  # fmt: skip
INTEGERS = [str(n) for n in (0, 1, -1, 12, 345, -6789, 10**17, -(10**17), 10**18 - 1)]
FLOATS = ["0.5", "-1.25", "3.0", "1e3", ".75", "2.5E-3", "-0.0", "1234.567"]
TEXTS = ["alpha", "bravo charlie", "1970-01-01", "x-ray", "", "Truly", "-", "+1", "007"]
POOLS = {"integers": INTEGERS, "floats": FLOATS, "texts": TEXTS, "tricky": TRICKY}


def by_cell(column_type: Any, cells: list[str], nulls: tuple[str, ...], detect: bool) -> tuple[list, dict]:
    convert = text_converter(column_type, nulls, detect=detect)
    values: list[Any] = []
    failures: dict[int, str] = {}
    for i, cell in enumerate(cells):
        try:
            values.append(convert(cell))
        except ConversionError as error:
            values.append(None)
            failures[i] = error.reason
    return values, failures


def same(left: list[Any], right: list[Any]) -> bool:
    """Equal value for value, type for type (1 is not 1.0 nor True), NaN equal to NaN."""
    if len(left) != len(right):
        return False
    for a, b in zip(left, right):
        if type(a) is not type(b):
            return False
        if isinstance(a, float) and math.isnan(a):
            if not math.isnan(b):
                return False
        elif a != b or (isinstance(a, float) and math.copysign(1, a) != math.copysign(1, b)):
            return False
    return True


def columns(seed: int) -> list[list[str]]:
    """Columns drawn from one pool (the fast cases) or mixed across pools (the fallbacks)."""
    rng = random.Random(seed)
    made = []
    for _ in range(200):
        if rng.random() < 0.5:
            pool = POOLS[rng.choice(list(POOLS))]
            cells = [rng.choice(pool) for _ in range(rng.randint(1, 40))]
        else:
            cells = [rng.choice(rng.choice(list(POOLS.values()))) for _ in range(rng.randint(1, 40))]
        if rng.random() < 0.3:
            cells[rng.randrange(len(cells))] = ""
        made.append(cells)
    return made


@pytest.mark.parametrize("column_type", [None, "auto", "integer", "float", "boolean", "text", "json"])
@pytest.mark.parametrize("nulls", [("",), (), ("", "NULL", "N/A")])
@pytest.mark.parametrize("detect", [True, False])
def test_whole_column_typing_equals_typing_each_cell(column_type, nulls, detect):
    type_column = column_typer(column_type, nulls, detect=detect)
    for seed in range(3):
        for cells in columns(seed) + [[cell] for cell in TRICKY] + [TRICKY]:
            values, failures = type_column(cells)
            expected_values, expected_failures = by_cell(column_type, cells, nulls, detect)
            assert same(values, expected_values), (cells, values, expected_values)
            assert {i: e.reason for i, e in failures.items()} == expected_failures, cells


def test_fast_paths_give_the_python_types():
    detect = column_typer(None)
    assert detect(["1", "-2", "30"]) == ([1, -2, 30], {})
    assert detect(["1.5", "2e3"]) == ([1.5, 2000.0], {})
    assert detect(["1970-01-01", "x"]) == (["1970-01-01", "x"], {})
    assert detect(["1", "", "3"]) == ([1, None, 3], {})
    assert detect(["1", "2.5"]) == ([1, 2.5], {})  # mixed: cell by cell, each its own type


def test_failures_are_reported_by_position_with_the_reason():
    values, failures = column_typer("integer", ("",))(["1", "", "x", "4", "2.5"])
    assert values == [1, None, None, 4, None]
    assert {i: e.reason for i, e in failures.items()} == {
        2: "'x' is not an integer",
        4: "'2.5' is not a whole number",
    }


@pytest.mark.parametrize(
    "columns",
    [
        ("id",),
        ("k0", "v0", "k1", "v1"),  # the names the generated code uses inside
        ("class", "lambda", "a b", "'", '"', "\\", "}", "é", "", "__import__('os')"),
        tuple(f"c{i}" for i in range(300)),  # over the generated limit: dict(zip(...))
    ],
)
def test_row_maker_makes_what_dict_zip_makes(columns):
    from airflow_provider_cloud.rows._records import row_maker

    values = [object() for _ in columns]
    made = row_maker(columns)(*values)
    assert made == dict(zip(columns, values))
    assert list(made) == list(columns)
