"""
Typing a whole CSV column at once: the fast path of the CSV reader, and one detected type per column.

The cells of a column (one block of rows) are joined with line breaks and checked with one regular
expression; a column that passes is converted with one ``map`` (``int``, ``float``) or kept as it is
(text). Otherwise the cells are typed one by one with the converters of
:mod:`airflow_provider_cloud.rows.convert`. The whole-column patterns accept only cells the cell path
would turn into the same value, so whole-column typing only saves time.

A declared column is typed cell by cell by its type. An undeclared column, with detection on, has one
type for the whole import (:class:`DetectedColumn`, the rules in ``rows.convert``): the kinds its cells
look like are joined over its first block with values, and later blocks are held to that type.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Sequence
from typing import Any, Literal

from airflow_provider_cloud.rows.convert import (
    _DETECT_FLOAT,
    ColumnType,
    ConversionError,
    detect_value,
    text_converter,
)

#: Typed values of a column's cells, and the conversion error of each cell that failed (by position).
ColumnResult = tuple[list[Any], dict[int, ConversionError]]
#: Types a block of a column's cells; the second argument is the line where each cell's row starts.
ColumnTyper = Callable[[Sequence[str], Sequence[int]], ColumnResult]
#: What detection makes of a column: one of these for the whole import.
Kind = Literal["boolean", "integer", "float", "text"]

#: At most 18 digits, so always within the 64-bit range; a leading zero or ``+`` is not detected.
_INT = r"-?(?:0|[1-9][0-9]{0,17})"
#: What detection reads as a float: a number with a fraction or an exponent (never an integer).
_FRACTION = (
    r"-?(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*(?:[eE][-+]?[0-9]+)?|[eE][-+]?[0-9]+)|\.[0-9]+(?:[eE][-+]?[0-9]+)?)"
)
#: Any text that detection may read as a number.
_NUMBER = _DETECT_FLOAT.pattern

_BOOLEAN = "(?:[tT][rR][uU][eE]|[fF][aA][lL][sS][eE])"  # not (?i): it matches the long s "ſ" as "s"

_INT_COLUMN = re.compile(f"{_INT}(?:\n{_INT})*")
#: Integers and fractions, as detection reads them: a column of floats, maybe with some integers.
_DETECTED_NUMBER_COLUMN = re.compile(f"(?:{_INT}|{_FRACTION})(?:\n(?:{_INT}|{_FRACTION}))*")
_NUMBER_COLUMN = re.compile(f"{_NUMBER}(?:\n{_NUMBER})*")
_BOOLEAN_COLUMN = re.compile(f"{_BOOLEAN}(?:\n{_BOOLEAN})*")
#: A number, as ``_NUMBER`` reads it, with possessive quantifiers: nothing to backtrack in a text column.
_NUMBER_POSSESSIVE = r"-?+(?:(?:0|[1-9][0-9]*+)(?:\.[0-9]*+)?+|\.[0-9]++)(?:[eE][-+]?+[0-9]++)?+"
#: A cell detection would not keep as text (nulls aside): a number or ``true``/``false`` in any case
#: (no character outside ASCII lower-cases to one of their letters), searched for in the cells joined
#: with line breaks, behind one more; the look-ahead skips most text cells at their first character.
_NOT_TEXT = re.compile(
    f"\n(?=[-.0-9tTfF])(?:{_NUMBER_POSSESSIVE}|[tT][rR][uU][eE]|[fF][aA][lL][sS][eE])(?=\n|\\Z)"
)
_A = {"boolean": "a boolean", "integer": "an integer", "float": "a number", "text": "text"}


def _joined(cells: Sequence[str]) -> str | None:
    """Return the cells joined with line breaks, or ``None`` if a cell holds one itself."""
    joined = "\n".join(cells)
    return joined if joined.count("\n") == len(cells) - 1 else None


def _integers_whole(cells: Sequence[str]) -> list[Any] | None:
    joined = _joined(cells)
    return list(map(int, cells)) if joined is not None and _INT_COLUMN.fullmatch(joined) else None


def _floats_whole(cells: Sequence[str]) -> list[Any] | None:
    joined = _joined(cells)
    return list(map(float, cells)) if joined is not None and _NUMBER_COLUMN.fullmatch(joined) else None


_WHOLE: dict[ColumnType | None, Callable[[Sequence[str]], list[Any] | None]] = {
    "integer": _integers_whole,
    "float": _floats_whole,
    "text": list,
    None: list,
}


def _kind_of(value: Any) -> Kind:
    """Return the kind of a value detection made of one cell."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return "float" if isinstance(value, float) else "text"


def _join(kinds: Collection[Kind]) -> Kind:
    """Return the one kind that holds cells of these kinds: integers widen to floats, all else to text."""
    if len(kinds) == 1:
        return next(iter(kinds))
    return "float" if set(kinds) == {"integer", "float"} else "text"


def _block_kind(cells: Sequence[str]) -> tuple[Kind, list[Any] | None]:
    """Return the joined kind of present cells, and their values when a whole-column pattern gave them."""
    joined = _joined(cells)
    if joined is not None:
        if _INT_COLUMN.fullmatch(joined):
            return "integer", list(map(int, cells))
        if _DETECTED_NUMBER_COLUMN.fullmatch(joined):
            values = list(map(float, cells))
            if all(map(math.isfinite, values)):
                return "float", values
        elif _BOOLEAN_COLUMN.fullmatch(joined):
            return "boolean", None
        elif _NOT_TEXT.search("\n" + joined) is None:
            return "text", None
    return _join({_kind_of(detect_value(cell, ())) for cell in cells}), None


class DetectedColumn:
    """
    The detected type of one undeclared column, one for the whole import.

    The first block where the column has values decides its kind (the join of its cells' kinds, so
    ``true`` among words is text, and integers among floats are floats). Later blocks keep it: integers
    widen to floats (the numbers are the same), a text column takes any cell as its text, and a cell that
    does not fit (a word in a number column, ``yes`` in a boolean one) fails, naming the kind and where it
    was decided, since the rows before were already written with that type.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.kind: Kind | None = None
        #: The line of the first value that decided the kind.
        self.since: int | None = None

    def type_present(self, cells: Sequence[str], lines: Sequence[int]) -> ColumnResult:
        """Type cells that are none of them null, the first starting on ``lines[0]``."""
        kind = self.kind
        if kind == "text":
            return list(cells), {}
        if kind == "integer" and (ints := _integers_whole(cells)) is not None:
            return ints, {}
        found, values = _block_kind(cells)
        if kind is None or kind == found or {kind, found} == {"integer", "float"}:
            if kind is None:
                self.since = lines[0]
            self.kind = kind = found if kind is None else _join({kind, found})
            if values is not None and (kind != "float" or found == "float"):
                return values, {}
            return self._convert(cells, kind)
        return self._one_by_one(cells, kind)

    def _convert(self, cells: Sequence[str], kind: Kind) -> ColumnResult:
        if kind == "text":
            return list(cells), {}
        if kind == "boolean":
            return [cell.lower() == "true" for cell in cells], {}
        return list(map(float if kind == "float" else int, cells)), {}

    def _one_by_one(self, cells: Sequence[str], kind: Kind) -> ColumnResult:
        """Type cells of a block that does not fit the kind as a whole: those that fit, and why the others do not."""
        detected = [detect_value(cell, ()) for cell in cells]
        kinds = set(map(_kind_of, detected))
        if kind == "integer" and "float" in kinds:
            self.kind = kind = "float"  # the numbers widen; what is not a number still fails below
        values: list[Any] = []
        failures: dict[int, ConversionError] = {}
        for index, (cell, value) in enumerate(zip(cells, detected)):
            cell_kind = _kind_of(value)
            if cell_kind == kind or (kind == "float" and cell_kind == "integer"):
                values.append(float(value) if kind == "float" else value)
                continue
            values.append(None)
            failures[index] = ConversionError(
                f"{cell!r} is not {_A[kind]}: the column's type was detected as {kind} from its values "
                f"(from line {self.since} on), and the rows before were written so; to import the column as "
                f"text, declare it: types={{{self.name!r}: 'text'}}"
            )
        return values, failures


def column_typer(
    column_type: ColumnType | None,
    null_values: Collection[str] = ("",),
    *,
    detect: bool = True,
    name: str = "column",
) -> ColumnTyper:
    """
    Return a function typing blocks of a column's cells, one block after the other.

    ``column_type`` ``None`` means undeclared: detected when ``detect`` is true (one type for the whole
    import, see :class:`DetectedColumn`; ``name`` is the column's, for its errors), else kept as text. A
    declared column is typed as :func:`rows.convert.text_converter` types one cell.
    """
    nulls = frozenset(null_values)
    type_present: Callable[[Sequence[str], Sequence[int]], ColumnResult]
    if (column_type is None and detect) or column_type == "auto":
        type_present = DetectedColumn(name).type_present
    else:
        type_present = _declared(column_type)

    def type_column(cells: Sequence[str], lines: Sequence[int]) -> ColumnResult:
        # A scan per null value compares lengths first; a set lookup would hash every fresh cell.
        if not any(null in cells for null in nulls):
            return type_present(cells, lines) if cells else ([], {})
        positions = [i for i, cell in enumerate(cells) if cell not in nulls]
        values: list[Any] = [None] * len(cells)
        if not positions:
            return values, {}
        present, failures = type_present([cells[i] for i in positions], [lines[i] for i in positions])
        for i, value in zip(positions, present):
            values[i] = value
        return values, {positions[k]: error for k, error in failures.items()}

    return type_column


def _declared(column_type: ColumnType | None) -> Callable[[Sequence[str], Sequence[int]], ColumnResult]:
    whole = _WHOLE.get(column_type)
    convert_cell = text_converter(column_type, (), detect=False)

    def type_present(cells: Sequence[str], lines: Sequence[int]) -> ColumnResult:
        if whole is not None:
            values = whole(cells)
            if values is not None:
                return values, {}
        try:
            return list(map(convert_cell, cells)), {}
        except ConversionError:
            return _one_by_one(convert_cell, cells)

    return type_present


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
