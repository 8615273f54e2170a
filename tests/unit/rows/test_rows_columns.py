"""Typing whole CSV columns gives exactly what typing each cell alone gives (``rows._columns``)."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from airflow_provider_cloud.rows._columns import column_typer
from airflow_provider_cloud.rows.convert import ConversionError, detect_value, text_converter

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


def kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    return {int: "integer", float: "float"}.get(type(value), "text")


def join(kinds: set[str]) -> str:
    if len(kinds) == 1:
        return next(iter(kinds))
    return "float" if kinds == {"integer", "float"} else "text"


def by_column(blocks: list[list[str]], nulls: tuple[str, ...]) -> list[tuple[list, set[int]]]:
    """
    The documented detection rule written out: one kind per column, the join of its first block with values.

    Each cell's own kind is the one-cell rule (``detect_value``); a later block is held to the column's kind,
    integers widening to floats; a cell that does not fit fails (the positions of failures are returned).
    """
    kind = None
    out = []
    for cells in blocks:
        present = {i: detect_value(c, ()) for i, c in enumerate(cells) if c not in nulls}
        kinds = set(map(kind_of, present.values()))
        if kinds:
            found = join(kinds)
            if kind is None:
                kind = found
            elif kind != "text" and (found == kind or {kind, found} == {"integer", "float"}):
                kind = join({kind, found})
            elif kind == "integer" and "float" in kinds:
                kind = "float"
        values: list[Any] = [None] * len(cells)
        failures = set()
        for i, value in present.items():
            if kind == "text":
                values[i] = cells[i]
            elif kind_of(value) == kind or (kind == "float" and kind_of(value) == "integer"):
                values[i] = float(value) if kind == "float" else value
            else:
                failures.add(i)
        out.append((values, failures))
    return out


@pytest.mark.parametrize("column_type", ["integer", "float", "boolean", "text", "json", None])
@pytest.mark.parametrize("nulls", [("",), (), ("", "NULL", "N/A")])
def test_whole_column_typing_of_declared_types_equals_typing_each_cell(column_type, nulls):
    # None here is an undeclared column with detection off: kept as text.
    type_column = column_typer(column_type, nulls, detect=False)
    for seed in range(3):
        for cells in columns(seed) + [[cell] for cell in TRICKY] + [TRICKY]:
            values, failures = type_column(cells, range(2, len(cells) + 2))
            expected_values, expected_failures = by_cell(column_type, cells, nulls, False)
            assert same(values, expected_values), (cells, values, expected_values)
            assert {i: e.reason for i, e in failures.items()} == expected_failures, cells


@pytest.mark.parametrize("column_type", [None, "auto"])
@pytest.mark.parametrize("nulls", [("",), (), ("", "NULL", "N/A")])
def test_detection_gives_one_type_per_column_as_documented(column_type, nulls):
    for seed in range(3):
        made = columns(seed) + [[cell] for cell in TRICKY] + [TRICKY]
        rng = random.Random(seed)
        for start in range(0, len(made), 5):  # runs of blocks, each run one column of one import
            blocks = made[start : start + rng.randint(1, 5)]
            type_column = column_typer(column_type, nulls, name="c")
            expected = by_column(blocks, nulls)
            for cells, (expected_values, expected_failures) in zip(blocks, expected):
                values, failures = type_column(cells, range(2, len(cells) + 2))
                assert same(values, expected_values), (blocks, cells, values, expected_values)
                assert set(failures) == expected_failures, (blocks, cells)


def test_fast_paths_give_the_python_types():
    lines = range(2, 10)
    assert column_typer(None)(["1", "-2", "30"], lines) == ([1, -2, 30], {})
    assert column_typer(None)(["1.5", "2e3"], lines) == ([1.5, 2000.0], {})
    assert column_typer(None)(["1970-01-01", "x"], lines) == (["1970-01-01", "x"], {})
    assert column_typer(None)(["1", "", "3"], lines) == ([1, None, 3], {})
    assert column_typer(None)(["TRUE", "false"], lines) == ([True, False], {})


def test_a_column_has_one_type_for_the_whole_import():
    lines = range(2, 10)
    mixed = column_typer(None, name="n")
    assert same(mixed(["1", "2.5"], lines)[0], [1.0, 2.5])  # integers among floats are floats
    words = column_typer(None, name="w")
    assert words(["true", "maybe", "FALSE"], lines) == (["true", "maybe", "FALSE"], {})  # text, as written
    assert words(["true", "42"], lines) == (["true", "42"], {})  # a text column stays text
    late = column_typer(None, name="late")
    assert late(["", ""], lines) == ([None, None], {})  # no values yet: undecided
    assert late(["5", "7"], range(600, 602)) == ([5, 7], {})  # decided by the first values
    widened = column_typer(None, name="x")
    assert widened(["1", "2"], lines) == ([1, 2], {})
    assert same(widened(["2.5", "3"], lines)[0], [2.5, 3.0])  # widened: the same numbers
    assert same(widened(["4"], lines)[0], [4.0])


def test_a_later_value_that_does_not_fit_the_detected_type_fails_with_how_to_declare_it():
    flags = column_typer(None, name="flag")
    assert flags(["true", "false"], range(2, 4)) == ([True, False], {})
    values, failures = flags(["true", "maybe"], range(700, 702))
    assert values == [True, None]
    assert {i: e.reason for i, e in failures.items()} == {
        1: "'maybe' is not a boolean: the column's type was detected as boolean from its values (from line "
        "2 on), and the rows before were written so; to import the column as text, declare it: "
        "types={'flag': 'text'}"
    }
    numbers = column_typer(None, name="qty")
    numbers(["", "3"], range(2, 4))
    values, failures = numbers(["4", "n/a", "5.5"], range(9, 12))
    assert same(values, [4.0, None, 5.5])
    assert failures[1].reason.startswith("'n/a' is not a number: the column's type was detected as float")
    assert "(from line 3 on)" in failures[1].reason


def test_failures_are_reported_by_position_with_the_reason():
    values, failures = column_typer("integer", ("",))(["1", "", "x", "4", "2.5"], range(2, 7))
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
