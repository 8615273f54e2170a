"""
Read templated operator fields once they are rendered: whole numbers, mappings and lists given as text.

Decision: a DAG author may template any of these fields, and Jinja renders text unless the DAG sets
``render_template_as_native_obj=True``. So operators keep what they were given in ``__init__`` (a template
passes construction) and read it here at the start of ``execute``: ``"500"`` becomes 500, ``"{'a': 'b'}"`` or
``'{"a": "b"}'`` a dict, ``"a, b"`` or ``'["a", "b"]'`` a list. Anything else fails naming the field and the
value, before any request is sent.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping
from typing import Any

#: Rendered text that means "not given" (``{{ params.x }}`` of a param left at ``None`` renders ``None``).
UNSET_TEXT = ("", "None", "none", "null")


def _literal(value: str, field: str, kind: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        pass
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError):
        raise ValueError(f"{field}= must be {kind}, got the text {value!r}") from None


def optional_text(value: Any) -> Any:
    """Return ``None`` for rendered text that means unset, else the value as given."""
    if isinstance(value, str) and value.strip() in UNSET_TEXT:
        return None
    return value.strip() if isinstance(value, str) else value


def whole_number(value: Any, field: str, *, minimum: int = 1) -> int | None:
    """Return ``value`` as an ``int`` of at least ``minimum`` (``None`` stays ``None``), else raise naming ``field``."""
    value = optional_text(value)
    if value is None:
        return None
    number: Any = value
    if isinstance(value, str):
        try:
            number = int(value)
        except ValueError:
            number = None
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    if isinstance(number, bool) or not isinstance(number, int):
        raise ValueError(f"{field}= must be a whole number, got {value!r}")
    if number < minimum:
        raise ValueError(f"{field}= must be {minimum} or more, got {number}")
    return number


def mapping(value: Any, field: str, *, required: bool = False) -> dict[str, Any]:
    """
    Return ``value`` as a dict; text is read as JSON or a Python literal.

    ``None`` (or text meaning unset) gives ``{}``, unless ``required``: a clean-up's ``where`` that renders
    to nothing must not turn into ``{}``, which matches every row.
    """
    value = optional_text(value)
    if value is None:
        if required:
            raise ValueError(f"{field}= rendered to nothing; give a mapping ({{}} matches every row)")
        return {}
    if isinstance(value, str):
        value = _literal(value, field, "a mapping")
    if not isinstance(value, Mapping):
        raise ValueError(f"{field}= must be a mapping, got {value!r}")
    return dict(value)


def names(value: Any, field: str) -> list[str] | None:
    """Return ``value`` as a list of names (``None`` stays ``None``); text is a list literal or comma-separated."""
    value = optional_text(value)
    if value is None:
        return None
    if isinstance(value, str):
        if value.startswith(("[", "(")):
            value = _literal(value, field, "a list of names")
        else:
            value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{field}= must be a list of names, got {value!r}")
    return list(value)


def has_template(*values: Any) -> bool:
    """Tell whether any value (text, or a list of texts) holds Jinja markup still to be rendered."""
    texts = [v for value in values for v in (value if isinstance(value, list | tuple) else [value])]
    return any(isinstance(text, str) and ("{{" in text or "{%" in text) for text in texts)


def import_fields(
    format: Any, mode: Any, rename: Any, types: Any, batch_size: Any
) -> tuple[Any, str, dict[str, Any], dict[str, Any], int | None]:
    """Return an import's rendered ``format, mode, rename, types, batch_size``, read."""
    return (
        optional_text(format),
        optional_text(mode) or "upsert",
        mapping(rename, "rename"),
        mapping(types, "types"),
        whole_number(batch_size, "batch_size"),
    )


def export_fields(
    format: Any, columns: Any, order_by: Any, cursor_column: Any, page_size: Any
) -> tuple[Any, list[str] | None, Any, Any, int | None]:
    """Return an export's rendered ``format, columns, order_by, cursor_column, page_size``, read."""
    return (
        optional_text(format),
        names(columns, "columns") or None,
        optional_text(order_by),
        optional_text(cursor_column),
        whole_number(page_size, "page_size"),
    )
