"""
Sphinx directive ``connection-fields``: a connection type's form, rendered from ``get_provider_info()``.

Decision: the tables are built from the provider info Airflow reads, not written by hand, so a page can
never disagree with the form. Every key found is rendered: a field's ``label``, ``description``, its
placeholder, its schema's ``type`` and ``default``, and any other key of the field or its schema (``enum``,
``minimum``, ``format``, ...) as a constraint; standard fields show as hidden, relabelled or as Airflow
names them, with their placeholders. A key the renderer does not know still shows, so nothing is dropped
when the provider info grows.

Usage in a MyST page::

    ```{connection-fields} datasette
    ```
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

import airflow_provider_cloud.get_provider_info as info_module

#: Airflow's standard connection fields, in the form's order, with the labels it gives them.
STANDARD_FIELDS = {
    "description": "Description",
    "host": "Host",
    "schema": "Schema",
    "login": "Login",
    "password": "Password",
    "port": "Port",
    "extra": "Extra",
}
#: Keys of a field and of its schema that have a column of their own.
_OWN_COLUMNS = {"label", "description", "schema", "type", "default"}


def connection_type(conn_type: str) -> dict[str, Any]:
    """Return the ``connection-types`` entry of ``conn_type``; ``ValueError`` names the known types."""
    types = info_module.get_provider_info()["connection-types"]
    for entry in types:
        if entry["connection-type"] == conn_type:
            return dict(entry)
    known = ", ".join(sorted(t["connection-type"] for t in types))
    raise ValueError(f"no connection type {conn_type!r} in get_provider_info() (known: {known})")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def type_text(schema: Mapping[str, Any]) -> str:
    """Return a schema's type for people: ``integer, may be empty`` for ``["integer", "null"]``."""
    kind = schema.get("type")
    if kind is None:
        return ""
    kinds = [kind] if isinstance(kind, str) else list(kind)
    named = " or ".join(k for k in kinds if k != "null") or "null"
    return f"{named}, may be empty" if "null" in kinds and named != "null" else named


def constraints(field: Mapping[str, Any]) -> list[str]:
    """Return ``key: value`` for every key of the field and its schema without a column of its own."""
    schema = field.get("schema") or {}
    found = [(k, v) for k, v in field.items() if k not in _OWN_COLUMNS]
    found += [(k, v) for k, v in schema.items() if k not in _OWN_COLUMNS]
    out = []
    for key, value in found:
        if isinstance(value, list):
            out.append(f"{key}: {', '.join(_text(v) for v in value)}")
        else:
            out.append(f"{key}: {_text(value)}")
    return out


def standard_rows(entry: Mapping[str, Any]) -> list[list[Cell]]:
    """Return ``[field, shown as, placeholder]`` for each standard field (and any other relabelled one)."""
    behaviour = entry.get("ui-field-behaviour") or {}
    hidden = set(behaviour.get("hidden-fields") or ())
    relabel = behaviour.get("relabeling") or {}
    placeholders = behaviour.get("placeholders") or {}
    extras = set(entry.get("conn-fields") or {})
    names = list(STANDARD_FIELDS) + [n for n in relabel if n not in STANDARD_FIELDS and n not in extras]
    rows: list[list[Cell]] = []
    for name in names:
        if name in hidden:
            rows.append([name, "hidden", ""])
            continue
        label = relabel.get(name, STANDARD_FIELDS.get(name, name))
        rows.append([name, str(label), _text(placeholders.get(name, ""))])
    return rows


def extra_rows(entry: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return, for each extra field: its key, label, description, type, default, placeholder and constraints."""
    placeholders = (entry.get("ui-field-behaviour") or {}).get("placeholders") or {}
    rows = []
    for key, field in (entry.get("conn-fields") or {}).items():
        schema = field.get("schema") or {}
        rows.append(
            {
                "key": key,
                "label": str(field.get("label", "")),
                "description": str(field.get("description", "")),
                "type": type_text(schema),
                "default": _text(schema["default"]) if "default" in schema else None,
                "placeholder": _text(placeholders[key]) if key in placeholders else None,
                "constraints": constraints(field),
            }
        )
    return rows


def orphan_placeholders(entry: Mapping[str, Any]) -> dict[str, str]:
    """Return placeholders naming neither a standard field nor an extra (shown, so none is lost)."""
    placeholders = (entry.get("ui-field-behaviour") or {}).get("placeholders") or {}
    known = set(STANDARD_FIELDS) | set(entry.get("conn-fields") or {})
    known |= set((entry.get("ui-field-behaviour") or {}).get("relabeling") or {})
    return {k: _text(v) for k, v in placeholders.items() if k not in known}


Cell = str | list[nodes.Node]


def _paragraph(*parts: nodes.Node) -> nodes.paragraph:
    paragraph = nodes.paragraph()
    for part in parts:
        paragraph += part
    return paragraph


def _cell(value: Cell, *, code: bool) -> nodes.entry:
    entry = nodes.entry()
    if isinstance(value, list):
        for node in value:
            entry += node
    elif value:
        entry += _paragraph(nodes.literal(value, value) if code else nodes.Text(value))
    else:
        entry += nodes.paragraph()
    return entry


def _table(headers: list[str], rows: Iterable[list[Cell]], code_columns: set[int]) -> nodes.table:
    table = nodes.table(classes=["connection-fields"])
    group = nodes.tgroup(cols=len(headers))
    table += group
    for _ in headers:
        group += nodes.colspec(colwidth=1)
    head = nodes.thead()
    group += head
    row = nodes.row()
    for header in headers:
        row += _cell(header, code=False)
    head += row
    body = nodes.tbody()
    group += body
    for values in rows:
        row = nodes.row()
        for i, value in enumerate(values):
            row += _cell(value, code=i in code_columns)
        body += row
    return table


def _extra_cells(row: Mapping[str, Any]) -> list[Cell]:
    """Return the three cells of an extra: its key; label and description; type, default, placeholder, rest."""
    field: list[nodes.Node] = [_paragraph(nodes.strong(text=row["label"]))] if row["label"] else []
    if row["description"]:
        field.append(_paragraph(nodes.Text(row["description"])))
    value: list[nodes.Node] = []
    if row["type"]:
        value.append(_paragraph(nodes.Text(row["type"])))
    for name in ("default", "placeholder"):
        if row[name] is not None:
            value.append(_paragraph(nodes.Text(f"{name}: "), nodes.literal(text=row[name])))
    value += [_paragraph(nodes.Text(text)) for text in row["constraints"]]
    return [row["key"], field, value]


class ConnectionFields(SphinxDirective):
    """Render the standard and extra fields of one connection type's form."""

    required_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        try:
            entry = connection_type(self.arguments[0])
        except ValueError as exc:
            raise self.error(str(exc)) from None
        self.env.note_dependency(str(info_module.__file__))  # a changed form rebuilds the page
        intro = nodes.paragraph()
        intro += nodes.Text("Connection type ")
        intro += nodes.literal(text=entry["connection-type"])
        intro += nodes.Text(f" ({entry.get('hook-name', '')}), hook ")
        intro += nodes.literal(text=str(entry.get("hook-class-name", "")))
        intro += nodes.Text(".")
        out: list[nodes.Node] = [intro]
        out.append(nodes.rubric(text="Standard fields"))
        out.append(_table(["Field", "Shown in the form as", "Placeholder"], standard_rows(entry), {0}))
        out.append(nodes.rubric(text="Extra fields (the connection's extra JSON)"))
        headers = ["Extra", "Form field", "Value"]
        out.append(_table(headers, [_extra_cells(row) for row in extra_rows(entry)], {0}))
        orphans = orphan_placeholders(entry)
        if orphans:
            out.append(nodes.rubric(text="Other placeholders"))
            out.append(_table(["Name", "Placeholder"], [[k, v] for k, v in orphans.items()], {0, 1}))
        return out


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("connection-fields", ConnectionFields)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
