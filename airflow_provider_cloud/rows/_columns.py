"""
Typing a whole CSV column at once: the fast path of the CSV reader.

The cells of a column (one block of rows) are joined with line breaks and checked with one regular
expression; a column that passes is converted with one ``map`` (``int``, ``float``) or kept as it is
(text). A column that does not pass as a whole (mixed, unusual or bad values, a cell with a line
break) is typed cell by cell with the converters of :mod:`airflow_provider_cloud.rows.convert`. The
whole-column patterns accept only cells that the cell converter would turn into the same value, so
the result is always the one of typing each cell alone: whole-column typing only saves time.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Sequence
from typing import Any

from airflow_provider_cloud.rows.convert import _DETECT_FLOAT, ColumnType, ConversionError, text_converter

#: Typed values of a column's cells, and the conversion error of each cell that failed (by position).
ColumnResult = tuple[list[Any], dict[int, ConversionError]]
ColumnTyper = Callable[[Sequence[str]], ColumnResult]

#: At most 18 digits, so always within the 64-bit range; a leading zero or ``+`` is not detected.
_INT = r"-?(?:0|[1-9][0-9]{0,17})"
#: What detection reads as a float: a number with a fraction or an exponent (never an integer).
_FRACTION = (
    r"-?(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*(?:[eE][-+]?[0-9]+)?|[eE][-+]?[0-9]+)|\.[0-9]+(?:[eE][-+]?[0-9]+)?)"
)
#: Any text that detection may read as a number.
_NUMBER = _DETECT_FLOAT.pattern

_INT_COLUMN = re.compile(f"{_INT}(?:\n{_INT})*")
_FRACTION_COLUMN = re.compile(f"{_FRACTION}(?:\n{_FRACTION})*")
_NUMBER_COLUMN = re.compile(f"{_NUMBER}(?:\n{_NUMBER})*")
#: A number, as ``_NUMBER`` reads it, with possessive quantifiers: nothing to backtrack in a text column.
_NUMBER_POSSESSIVE = r"-?+(?:(?:0|[1-9][0-9]*+)(?:\.[0-9]*+)?+|\.[0-9]++)(?:[eE][-+]?+[0-9]++)?+"
#: A cell detection would not keep as text (nulls aside): a number or ``true``/``false`` in any case
#: (no character outside ASCII lower-cases to one of their letters), searched for in the cells joined
#: with line breaks, behind one more; the look-ahead skips most text cells at their first character.
_NOT_TEXT = re.compile(
    f"\n(?=[-.0-9tTfF])(?:{_NUMBER_POSSESSIVE}|[tT][rR][uU][eE]|[fF][aA][lL][sS][eE])(?=\n|\\Z)"
)


def _joined(cells: Sequence[str]) -> str | None:
    """Return the cells joined with line breaks, or ``None`` if a cell holds one itself."""
    joined = "\n".join(cells)
    return joined if joined.count("\n") == len(cells) - 1 else None


def _detected_whole(cells: Sequence[str]) -> list[Any] | None:
    joined = _joined(cells)
    if joined is None:
        return None
    if _INT_COLUMN.fullmatch(joined):
        return list(map(int, cells))
    if _FRACTION_COLUMN.fullmatch(joined):
        values = list(map(float, cells))
        return values if all(map(math.isfinite, values)) else None
    if _NOT_TEXT.search("\n" + joined) is None:
        return list(cells)
    return None


def _integers_whole(cells: Sequence[str]) -> list[Any] | None:
    joined = _joined(cells)
    return list(map(int, cells)) if joined is not None and _INT_COLUMN.fullmatch(joined) else None


def _floats_whole(cells: Sequence[str]) -> list[Any] | None:
    joined = _joined(cells)
    return list(map(float, cells)) if joined is not None and _NUMBER_COLUMN.fullmatch(joined) else None


_WHOLE: dict[ColumnType | None, Callable[[Sequence[str]], list[Any] | None]] = {
    "auto": _detected_whole,
    "integer": _integers_whole,
    "float": _floats_whole,
    "text": list,
    None: list,
}


def column_typer(
    column_type: ColumnType | None, null_values: Collection[str] = ("",), *, detect: bool = True
) -> ColumnTyper:
    """
    Return a function typing a column's cells as :func:`rows.convert.text_converter` types one cell.

    ``column_type`` ``None`` means undeclared: detected when ``detect`` is true, else kept as text.
    """
    nulls = frozenset(null_values)
    if column_type is None and detect:
        column_type = "auto"
    whole = _WHOLE.get(column_type)
    convert_cell = text_converter(column_type, (), detect=detect)

    def type_present(cells: Sequence[str]) -> ColumnResult:
        if whole is not None:
            values = whole(cells)
            if values is not None:
                return values, {}
        try:
            return list(map(convert_cell, cells)), {}
        except ConversionError:
            return _one_by_one(convert_cell, cells)

    def type_column(cells: Sequence[str]) -> ColumnResult:
        # A scan per null value compares lengths first; a set lookup would hash every fresh cell.
        if not any(null in cells for null in nulls):
            return type_present(cells)
        positions = [i for i, cell in enumerate(cells) if cell not in nulls]
        present, failures = type_present([cells[i] for i in positions])
        values: list[Any] = [None] * len(cells)
        for i, value in zip(positions, present):
            values[i] = value
        return values, {positions[k]: error for k, error in failures.items()}

    return type_column


def _one_by_one(convert_cell: Callable[[str], Any], cells: Sequence[str]) -> ColumnResult:
    values: list[Any] = []
    failures: dict[int, ConversionError] = {}
    for i, cell in enumerate(cells):
        try:
            values.append(convert_cell(cell))
        except ConversionError as error:
            failures[i] = error
            values.append(None)
    return values, failures
