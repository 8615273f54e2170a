"""
Data point values on this side of the wire: what the service stores for a value sent, or why it refuses it.

Values travel as form text (:func:`~.wire.form_value`), and the service types them by the data point's type.
The rules are the CloudTables emulator's (``testing/_cloudtables/values.py``, the reference for what the
service refuses), restated here because a hook never imports the emulator:

- ``number``: an integer or a decimal number, finite; ``sequence``: an integer;
- ``boolean`` and ``checkbox``: ``true false 1 0 yes no on off`` in any case;
- ``date`` (``YYYY-MM-DD``), ``datetime`` (ISO 8601) and ``time`` (``HH:MM[:SS[.ffffff]]``);
- blank (``""``, ``None``) clears any of these; every other type is text and takes anything.

Two uses: rows are checked before the first write, so a bad value fails the task before anything is
written (:func:`stored_as`); a stored row is compared with the values sent by what the service made of
them (:func:`same_value`: ``5``, ``5.0`` and ``"5"`` are one number, ``yes`` and ``true`` one boolean).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from typing import Any

from airflow_provider_cloud.hooks.cloudtables.wire import form_value

_WHOLE = re.compile(r"[+-]?\d+")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_CLOCK = re.compile(r"\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?")
_TRUTH = {
    "true": True,
    "1": True,
    "yes": True,
    "on": True,
    "false": False,
    "0": False,
    "no": False,
    "off": False,
}


def _number(text: str) -> int | float:
    if _WHOLE.fullmatch(text):
        return int(text)
    try:
        number = float(text)
    except ValueError:
        raise ValueError("not a number") from None
    if not math.isfinite(number):
        raise ValueError("not a finite number")
    return number


def _whole_number(text: str) -> int:
    number = _number(text)
    if not float(number).is_integer():
        raise ValueError("not a whole number (a sequence holds integers)")
    return int(number)


def _truth(text: str) -> bool:
    try:
        return _TRUTH[text.lower()]
    except KeyError:
        raise ValueError("not true or false (true/false, 1/0, yes/no or on/off)") from None


def _iso(pattern: re.Pattern[str] | None, parse: Callable[[str], object], what: str) -> Callable[[str], str]:
    def check(text: str) -> str:
        try:
            if pattern is not None and not pattern.fullmatch(text):
                raise ValueError(text)
            parse(text)
        except ValueError:
            raise ValueError(f"not an ISO 8601 {what}") from None
        return text

    return check


#: Data point type → what the service stores for the (stripped, non-blank) form text, or ``ValueError``.
_TYPED: dict[str, Callable[[str], Any]] = {
    "number": _number,
    "sequence": _whole_number,
    "boolean": _truth,
    "checkbox": _truth,
    "date": _iso(_DAY, dt.date.fromisoformat, "date (YYYY-MM-DD)"),
    "datetime": _iso(None, dt.datetime.fromisoformat, "date and time"),
    "time": _iso(_CLOCK, dt.time.fromisoformat, "time (HH:MM[:SS])"),
}


def stored_as(point_type: str | None, value: Any) -> Any:
    """
    Return what the service stores for ``value`` in a data point of ``point_type``.

    :raises ValueError: the value does not fit the type; the message says why, naming the value.
    """
    text = form_value(value)
    parse = _TYPED.get(point_type or "")
    if parse is None:
        return text
    stripped = text.strip()
    if not stripped:
        return None
    try:
        return parse(stripped)
    except ValueError as exc:
        shown = stripped if len(stripped) <= 60 else f"{stripped[:57]}..."
        raise ValueError(f"{shown!r} is {exc} (the data point's type is {point_type!r})") from None


def same_value(point_type: str | None, sent: Any, stored: Any) -> bool:
    """Tell whether a stored value is what the service made of a value sent (same form text, or same typed value)."""
    try:
        if form_value(sent) == form_value(stored):
            return True
        return bool(stored_as(point_type, sent) == stored_as(point_type, stored))
    except ValueError:
        return False
