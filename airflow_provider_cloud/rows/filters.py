"""
The row filter language shared by every RowStore hook, evaluated client-side where a service cannot.

``{"col": v}`` means ``col`` equals ``v``; ``{"col__op": v}`` applies an operator:

=========== ===================================================================================
op          matches rows where
=========== ===================================================================================
exact       the value equals ``v`` (``None`` means IS NULL, like ``{"col": None}``)
not         the value differs from ``v`` (``None`` means IS NOT NULL)
lt lte      the value is less than (or equal to) ``v``
gt gte      the value is greater than (or equal to) ``v``
in notin    the value is (not) one of ``v``: a list, tuple or set, or a comma-separated string
            (items are stripped of surrounding spaces), or a JSON array string
isnull      ``v`` true (``True``, ``1``, ``"true"``, ``"yes"``): the value is NULL; false: it is not
contains    the text value contains ``v`` (case-sensitive)
startswith  the text value starts with ``v`` (case-sensitive)
=========== ===================================================================================

The key is split at its last ``__`` only when what follows is one of these operators; otherwise
the whole key is the column name (``{"a__b": 1}`` is column ``a__b``). Pass ``columns`` to
``parse_filters`` to have an unknown column, or a misspelt operator, reported.

Semantics follow SQL: a NULL (or missing) value matches no comparison — not ``exact``, ``not``,
``lt`` ..., ``in`` or ``notin`` — only ``isnull``. ``contains`` and ``startswith`` match text values
only.

Values of different kinds are compared as the row's value would be: a numeric string filter value
against a number becomes a number (``{"age__gt": "30"}`` matches ``age=31``), a number against
a text value compares numerically when the text is a number (``"31"`` > ``30``), ``"true"``/``"1"``
against a boolean becomes a boolean, ISO 8601 text against a date or datetime becomes one. Values
that still cannot be ordered (text against a number, an aware against a naive datetime) do not
match ``lt``, ``lte``, ``gt`` or ``gte``, are not ``exact``, and are ``not`` equal.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import operator
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

OPS: tuple[str, ...] = (
    "exact",
    "not",
    "lt",
    "lte",
    "gt",
    "gte",
    "in",
    "notin",
    "isnull",
    "contains",
    "startswith",
)

_TRUE = frozenset({"true", "t", "yes", "y", "on", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "off", "0"})
_INTEGER = re.compile(r"\s*[-+]?[0-9]+\s*")
_ORDERING: dict[str, Callable[[Any, Any], bool]] = {
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
}


def _truthy(value: Any) -> bool | None:
    """Return a boolean-ish value as a bool, ``None`` when it is not one."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    return None


def _number(text: str) -> int | float | None:
    try:
        return int(text) if _INTEGER.fullmatch(text) else float(text)
    except ValueError:
        return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _align(row_value: Any, wanted: Any) -> tuple[Any, Any]:
    """Return both values in a form in which they compare as the row value's kind."""
    if isinstance(row_value, bool):
        as_bool = _truthy(wanted)
        return row_value, (wanted if as_bool is None else as_bool)
    if _is_number(row_value):
        if isinstance(wanted, str):
            number = _number(wanted)
            return row_value, (wanted if number is None else number)
        return row_value, wanted
    if isinstance(row_value, str):
        if _is_number(wanted):
            number = _number(row_value)
            return (row_value if number is None else number), wanted
        if isinstance(wanted, bool):
            as_bool = _truthy(row_value)
            return (row_value if as_bool is None else as_bool), wanted
        if isinstance(wanted, datetime.date):
            return _parse_date(row_value, type(wanted)), wanted
        return row_value, wanted
    if isinstance(row_value, datetime.date) and isinstance(wanted, str):
        return row_value, _parse_date(wanted, type(row_value))
    return row_value, wanted


def _parse_date(text: str, kind: type[datetime.date]) -> Any:
    try:
        if issubclass(kind, datetime.datetime):
            return datetime.datetime.fromisoformat(text)
        return datetime.date.fromisoformat(text)
    except ValueError:
        return text


def _equal(row_value: Any, wanted: Any) -> bool:
    left, right = _align(row_value, wanted)
    try:
        return bool(left == right)
    except TypeError:
        return False


def _items(value: Any, key: str) -> tuple[Any, ...]:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                parsed = json.loads(text)
            except ValueError as error:
                raise ValueError(f"filter {key!r}: {value!r} is not a JSON array: {error}") from None
            if not isinstance(parsed, list):
                raise ValueError(f"filter {key!r}: {value!r} is not a JSON array")
            return tuple(parsed)
        return tuple(item.strip() for item in text.split(",")) if text else ()
    if isinstance(value, list | tuple | set | frozenset):
        return tuple(value)
    raise ValueError(
        f"filter {key!r} needs a list, tuple or set, or a comma-separated string, not {type(value).__name__}"
    )


@dataclasses.dataclass(frozen=True)
class Filter:
    """One condition: ``column`` ``op`` ``value``; ``matches(row)`` evaluates it (module docstring)."""

    column: str
    op: str = "exact"
    value: Any = None

    def __post_init__(self) -> None:
        if not isinstance(self.column, str) or not self.column:
            raise ValueError(f"a filter needs a non-empty column name, not {self.column!r}")
        if self.op not in OPS:
            raise ValueError(f"unknown filter operator {self.op!r}; the operators are {', '.join(OPS)}")
        key = self.key
        if self.op in ("in", "notin"):
            object.__setattr__(self, "value", _items(self.value, key))
        elif self.op == "isnull":
            as_bool = _truthy(self.value)
            if as_bool is None:
                raise ValueError(f"filter {key!r} needs true or false, not {self.value!r}")
            object.__setattr__(self, "value", as_bool)
        elif self.op in ("contains", "startswith"):
            if self.value is None or isinstance(self.value, bool | dict | list):
                raise ValueError(f"filter {key!r} needs text, not {self.value!r}")
            object.__setattr__(self, "value", str(self.value))
        elif self.op in _ORDERING and self.value is None:
            raise ValueError(f"filter {key!r} needs a value to compare with, not None")

    @property
    def key(self) -> str:
        """Return the filter as written in a ``where`` mapping (``"age__gt"``; ``"name"`` for exact)."""
        return self.column if self.op == "exact" else f"{self.column}__{self.op}"

    def matches(self, row: Mapping[str, Any]) -> bool:
        """Return whether ``row`` satisfies this condition (a missing column counts as NULL)."""
        value = row.get(self.column)
        op = self.op
        wanted = self.value
        if op == "isnull":
            return (value is None) is wanted
        if op == "exact" and wanted is None:
            return value is None
        if op == "not" and wanted is None:
            return value is not None
        if value is None:
            return False
        if op == "exact":
            return _equal(value, wanted)
        if op == "not":
            return not _equal(value, wanted)
        if op in _ORDERING:
            left, right = _align(value, wanted)
            try:
                return bool(_ORDERING[op](left, right))
            except TypeError:
                return False
        if op == "in":
            return any(item is not None and _equal(value, item) for item in wanted)
        if op == "notin":
            return not any(item is not None and _equal(value, item) for item in wanted)
        if not isinstance(value, str):
            return False
        if op == "contains":
            return wanted in value
        return bool(value.startswith(wanted))


def parse_filters(where: Mapping[str, Any] | None, *, columns: Collection[str] | None = None) -> list[Filter]:
    """
    Return the filters of a ``where`` mapping, in its order.

    Raises ``ValueError`` for an empty column name, a bad value for an operator, or — when
    ``columns`` is given — a column that is not among them (naming the operators, in case the key
    was meant as ``column__op``).
    """
    if not where:
        return []
    if not isinstance(where, Mapping):
        raise TypeError(
            f"where must be a mapping of 'column' or 'column__op' to values, not {type(where).__name__}"
        )
    filters = []
    for key, value in where.items():
        if not isinstance(key, str) or not key.strip():
            raise ValueError(f"filter keys must be non-empty column names, not {key!r}")
        column, separator, suffix = key.rpartition("__")
        if separator and suffix in OPS:
            if not column:
                raise ValueError(f"filter {key!r} has no column name before '__{suffix}'")
            op = suffix
        else:
            column, op = key, "exact"
        if columns is not None and column not in columns:
            hint = ""
            if separator and suffix not in OPS:
                hint = f"; {suffix!r} is not an operator (the operators are {', '.join(OPS)})"
            raise ValueError(
                f"filter {key!r}: no column {column!r} (the columns are {', '.join(map(repr, columns))}){hint}"
            )
        filters.append(Filter(column, op, value))
    return filters


def matches_all(row: Mapping[str, Any], filters: Iterable[Filter]) -> bool:
    """Return whether ``row`` satisfies every filter (``True`` for no filters)."""
    return all(condition.matches(row) for condition in filters)
