"""
Typing of data point values, and comparison for conditions.

Form values arrive as strings, so the emulator stores them by the data point's type [I]:

- ``number``: JSON numbers as they are; strings that are integers become ``int``, other numeric strings
  ``float`` (NaN and infinities refused); ``""`` clears the value (``null``).
- ``sequence``: an integer; on insert, when not given, the next number after the largest in the data set.
- ``boolean`` and ``checkbox``: JSON booleans, or ``true``/``false``/``1``/``0``/``yes``/``no``/``on``/``off``
  in any case (so Python's ``True`` as sent by ``requests`` works); ``""`` clears the value.
- ``date`` (``YYYY-MM-DD``), ``datetime`` (ISO 8601, ``Z`` allowed) and ``time`` (``HH:MM[:SS]``): checked,
  stored as the string given; ``""`` clears the value.
- every other type (``text``, ``textarea``, ``email``, ``select``, ...): stored as a string; JSON numbers and
  booleans sent in a JSON body are turned into their JSON text.

A value that does not fit its type is a field error (HTTP 400). ``null`` always clears a value.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from typing import Any

NUMBER_TYPES = frozenset({"number", "sequence"})
BOOLEAN_TYPES = frozenset({"boolean", "checkbox"})
_INTEGER = re.compile(r"^[+-]?\d+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$")
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


class ValueTypeError(ValueError):
    """A value does not fit its data point's type; the message is the field error ``status``."""


def coerce_value(point_type: str, value: Any) -> Any:
    """Return ``value`` stored as ``point_type`` wants it, or raise :class:`ValueTypeError`."""
    if value is None:
        return None
    if isinstance(value, list | dict):
        raise ValueTypeError("A single value is expected")
    if point_type in NUMBER_TYPES:
        return _number(point_type, value)
    if point_type in BOOLEAN_TYPES:
        return _boolean(value)
    if point_type in ("date", "datetime", "time"):
        return _temporal(point_type, value)
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _number(point_type: str, value: Any) -> int | float | None:
    if isinstance(value, bool):
        raise ValueTypeError("Value must be a number")
    if isinstance(value, int | float):
        number: int | float = value
    else:
        text = str(value).strip()
        if text == "":
            return None
        if _INTEGER.match(text):
            number = int(text)
        else:
            try:
                number = float(text)
            except ValueError:
                raise ValueTypeError("Value must be a number") from None
    if isinstance(number, float) and not math.isfinite(number):
        raise ValueTypeError("Value must be a finite number")
    if point_type == "sequence" and not float(number).is_integer():
        raise ValueTypeError("Value must be an integer")
    return int(number) if point_type == "sequence" else number


def _boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text == "":
        return None
    if text in _TRUE | _FALSE:
        return text in _TRUE
    raise ValueTypeError("Value must be true or false")


def _temporal(point_type: str, value: Any) -> str | None:
    if not isinstance(value, str):
        raise ValueTypeError(f"Value must be an ISO 8601 {point_type} string")
    text = value.strip()
    if text == "":
        return None
    try:
        if point_type == "date":
            if not _DATE.match(text):
                raise ValueError(text)
            dt.date.fromisoformat(text)
        elif point_type == "time":
            if not _TIME.match(text):
                raise ValueError(text)
            dt.time.fromisoformat(text)
        else:
            dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueTypeError(f"Value must be an ISO 8601 {point_type}") from None
    return text


def matches(op: str, stored: Any, wanted: Any) -> bool:
    """Return whether a stored value passes a condition: ``stored <op> wanted``."""
    if op == "=":
        return bool(stored == wanted)
    if op == "!=":
        return bool(stored != wanted)
    if stored is None or wanted is None:
        return False
    if type(stored) is not type(wanted) and not (
        isinstance(stored, int | float) and isinstance(wanted, int | float)
    ):
        stored, wanted = str(stored), str(wanted)
    if op == "<":
        return bool(stored < wanted)
    if op == "<=":
        return bool(stored <= wanted)
    if op == ">=":
        return bool(stored >= wanted)
    return bool(stored > wanted)
