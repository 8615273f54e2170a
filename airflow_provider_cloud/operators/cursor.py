"""Commit a cursor (an events cursor or an export high-water mark) into an Airflow Variable."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator, Variable

if TYPE_CHECKING:
    from airflow.sdk import Context

Comparable = Decimal | datetime


def cursor_text(cursor: Any) -> str | None:
    """
    Return the text a cursor is stored as, or ``None`` when there is no cursor.

    ``None``, an empty string and the string ``"None"`` (what a template renders for a missing value) mean
    no cursor. Strings are stored stripped; integers, floats and decimals as their decimal text; dates and
    datetimes in ISO 8601. Anything else (a dict, a list, a bool) is refused: a cursor is one opaque value.
    """
    if cursor is None:
        return None
    if isinstance(cursor, str):
        text = cursor.strip()
        return None if text in ("", "None") else text
    if isinstance(cursor, bool):
        raise TypeError(f"a cursor cannot be a boolean, got {cursor!r}")
    if isinstance(cursor, int | Decimal):
        return str(cursor)
    if isinstance(cursor, float):
        if not math.isfinite(cursor):
            raise TypeError(f"a cursor must be a finite number, got {cursor!r}")
        return repr(cursor)
    if isinstance(cursor, datetime | date):
        return cursor.isoformat()
    raise TypeError(f"a cursor must be a string, a number or a date, got {type(cursor).__name__}")


def comparable(text: str) -> Comparable | None:
    """Read a stored cursor as a number or an ISO 8601 date-time, or return ``None`` when it is neither."""
    try:
        number = Decimal(text)
    except InvalidOperation:
        pass
    else:
        return number if number.is_finite() else None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        return None


def is_behind(new: str, stored: str) -> bool | None:
    """
    Tell whether cursor ``new`` is behind ``stored``; ``None`` when the two cannot be compared.

    Two numbers compare numerically; two ISO 8601 date-times compare as instants (both with a time zone, or
    both without: a mix cannot be compared); anything else, e.g. opaque service cursors, cannot.
    """
    a, b = comparable(new), comparable(stored)
    if isinstance(a, Decimal) and isinstance(b, Decimal):
        return a < b
    if isinstance(a, datetime) and isinstance(b, datetime):
        if (a.tzinfo is None) != (b.tzinfo is None):
            return None
        return a < b
    return None


class CommitCursorOperator(BaseOperator):
    """
    Store a cursor into an Airflow Variable, as the last task of a DAG that processed what came before it.

    Put it after the tasks that process the events (or rows) the cursor covers: a run that fails before the
    commit leaves the Variable unchanged, so the next run reads the same events again (at-least-once).
    Works for :class:`~airflow_provider_cloud.sensors.kloudless.KloudlessEventsSensor` cursors and for the
    high-water marks :class:`~airflow_provider_cloud.operators.rows.ExportRowsOperator` returns::

        CommitCursorOperator(
            task_id="commit_cursor",
            variable="drive_events_cursor",
            cursor="{{ ti.xcom_pull(task_ids='wait_for_events')['cursor'] }}",
        )

    The cursor may render as a string or, with ``render_template_as_native_obj=True``, as a number or date;
    it is stored as text (see :func:`cursor_text`). Without a cursor (``None``, empty, ``"None"``) nothing is
    stored and that is logged. A cursor equal to the stored one is not written again.

    With ``only_if_advanced=True`` (for high-water marks) a cursor behind the stored one is not stored:
    numbers compare numerically and ISO 8601 date-times as instants; values that cannot be compared
    (opaque events cursors, a number against a date) are stored as given, with a warning.

    Returns ``{"variable", "previous", "cursor", "stored"}``: the Variable's name, its value before, the
    cursor as text, and whether the Variable was written.

    :param variable: the Variable to store the cursor in. (templated)
    :param cursor: the cursor, usually pulled from XCom. (templated)
    :param only_if_advanced: never move a comparable stored cursor backwards.
    :param description: the Variable's description, written with the value.
    """

    template_fields: Sequence[str] = ("variable", "cursor")
    ui_color = "#e8f0e0"

    def __init__(
        self,
        *,
        variable: str,
        cursor: Any,
        only_if_advanced: bool = False,
        description: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.variable = variable
        self.cursor = cursor
        self.only_if_advanced = only_if_advanced
        self.description = description

    def execute(self, context: Context) -> dict[str, Any]:
        name = str(self.variable or "").strip()
        if not name:
            raise ValueError(
                f"{self.task_id}: variable= rendered empty; name the Variable to store the cursor in"
            )
        new = cursor_text(self.cursor)
        stored = Variable.get(name, default=None)
        previous = None if stored is None else str(stored)
        result: dict[str, Any] = {"variable": name, "previous": previous, "cursor": new, "stored": False}
        if new is None:
            self.log.info("No cursor to commit (got %r): Variable %s keeps %r", self.cursor, name, previous)
            return result
        if previous is not None and new == previous.strip():
            self.log.info("Variable %s already holds cursor %s", name, new)
            return result
        if self.only_if_advanced and previous is not None:
            behind = is_behind(new, previous.strip())
            if behind:
                self.log.warning(
                    "Cursor %s is behind the stored %s: Variable %s is left unchanged", new, previous, name
                )
                return result
            if behind is None:
                self.log.warning(
                    "Cursor %s and the stored %s cannot be compared: storing %s as given", new, previous, new
                )
        Variable.set(name, new, description=self.description)
        self.log.info("Committed cursor %s to Variable %s (was %r)", new, name, previous)
        result["stored"] = True
        return result
