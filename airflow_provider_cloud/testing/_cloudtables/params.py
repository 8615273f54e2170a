"""
Decode CloudTables request parameters from every encoding the official clients use.

The Python client (0.0.3) sends ``roles`` as repeated keys (``roles=a&roles=b``) and ``conditions`` as a
JSON string; the Node client (1.2.0, through ``qs-stringify``) sends bracket-indexed keys (``roles[0]=a``,
``conditions[0][id]=dp-1``, ``l-5[0]=11``). :func:`nest_pairs` turns either into plain Python values:
repeated keys become lists, bracket paths become dicts, and dicts whose keys are all indexes become lists.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, parse_qsl

from airflow_provider_cloud.testing._cloudtables.errors import BadRequest, CloudTablesApiError

CONDITION_OPS = ("=", "!=", "<", "<=", ">=", ">")
_BRACKETED_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])+)$")
_BRACKET = re.compile(r"\[([^\[\]]*)\]")
_DATAPOINT_ID = re.compile(r"^dp-\d+$")
_MISSING = object()
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", ""})


def nest_pairs(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Turn decoded form pairs into nested values (repeated keys to lists, brackets to dicts or lists)."""
    root: dict[str, Any] = {}
    for raw_key, value in pairs:
        match = _BRACKETED_KEY.match(raw_key)
        if match is None:
            _add_plain(root, raw_key, value)
        else:
            _add_path(root, [match.group(1), *_BRACKET.findall(match.group(2))], value)
    return {key: _listify(value) for key, value in root.items()}


def _add_plain(root: dict[str, Any], key: str, value: str) -> None:
    if key not in root:
        root[key] = value
    elif isinstance(root[key], list):
        root[key].append(value)
    else:
        root[key] = [root[key], value]


def _add_path(root: dict[str, Any], keys: list[str], value: str) -> None:
    node = root
    for key in keys[:-1]:
        key = key or str(len(node))
        child = node.get(key)
        if not isinstance(child, dict):
            child = {} if child is None else {"0": child}
            node[key] = child
        node = child
    node[keys[-1] or str(len(node))] = value


def _listify(value: Any) -> Any:
    if isinstance(value, list):
        return [_listify(item) for item in value]
    if not isinstance(value, dict):
        return value
    converted = {key: _listify(item) for key, item in value.items()}
    if converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


def decode_body(content_type: str, body: bytes) -> tuple[dict[str, Any], dict[str, list[str]], Any]:
    """
    Return a body's parameters, its form fields (for the request log) and its JSON value.

    Form bodies as the clients send them; ``application/json`` as a convenience [I]; anything else is 415.
    """
    if not body.strip():
        return {}, {}, None
    media_type = content_type.split(";")[0].strip().lower()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("The request body is not UTF-8", name="body") from None
    if media_type == "application/json" or media_type.endswith("+json"):
        try:
            value = json.loads(text)
        except ValueError:
            raise BadRequest("The request body is not valid JSON", name="body") from None
        if not isinstance(value, dict):
            raise BadRequest("A JSON request body must be an object", name="body")
        return value, {}, value
    if media_type in ("", "application/x-www-form-urlencoded"):
        pairs = parse_qsl(text, keep_blank_values=True)
        return nest_pairs(pairs), parse_qs(text, keep_blank_values=True), None
    raise CloudTablesApiError(415, f"Unsupported request body type {media_type!r}", name="body")


def presented_key(headers: Mapping[str, str], params: Mapping[str, Any]) -> str:
    """Return the API key from the ``key`` header, else the parameter ``key`` (headers lower-cased)."""
    value: Any = headers.get("key") or params.get("key") or ""
    if isinstance(value, list):
        value = value[0] if value else ""
    return value if isinstance(value, str) else str(value)


def read_duration(value: Any) -> int | None:
    """Return the ``duration`` of ``POST /access`` in whole seconds, ``None`` when not given."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise BadRequest("duration must be a whole number of seconds", name="duration")


def read_roles(params: Mapping[str, Any]) -> list[str]:
    """Return ``role`` and ``roles`` as one list of role names, in order, without repeats."""
    roles: list[str] = []
    for name in ("role", "roles"):
        for role in _role_values(params.get(name), name):
            if role not in roles:
                roles.append(role)
    return roles


def _role_values(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                raise BadRequest(f"{name} is not valid JSON", name=name) from None
        else:
            return [text] if text else []
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(item, str) for item in items):
        raise BadRequest(f"{name} must be role names (strings)", name=name)
    return [item for item in items if item]


@dataclass(frozen=True)
class Condition:
    """One access condition: which data point (``id`` or ``name``), how to compare, what to set on insert."""

    id: str | None
    name: str | None
    value: Any
    op: str = "="
    set: bool = True
    set_value: Any = None
    has_set_value: bool = False
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def label(self) -> str:
        """Return the id or name the condition was given, for error messages."""
        return self.id or self.name or ""

    @property
    def written_value(self) -> Any:
        """Return the value an insert writes: ``setValue`` when given, else ``value``."""
        return self.set_value if self.has_set_value else self.value

    def as_dict(self) -> dict[str, Any]:
        """Return the condition in its documented JSON form, defaults filled in."""
        out: dict[str, Any] = {"id": self.id} if self.id else {"name": self.name}
        out.update(value=self.value, op=self.op, set=self.set)
        if self.has_set_value:
            out["setValue"] = self.set_value
        return out


def read_conditions(params: Mapping[str, Any]) -> list[Condition]:
    """Return the ``conditions`` parameter (JSON string, bracket keys or JSON body value) as conditions."""
    value = params.get("conditions")
    if value is None or value == "":
        return []
    return [parse_condition(item) for item in _condition_items(value)]


def _condition_items(value: Any) -> list[Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise BadRequest("conditions is not valid JSON", name="conditions") from None
        if value is None:
            return []
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        items: list[Any] = []
        for item in value:
            items.extend(_condition_items(item) if isinstance(item, str) else [item])
        return items
    raise BadRequest("conditions must be an object or an array of objects", name="conditions")


def parse_condition(item: Any) -> Condition:
    """Validate one condition object and fill in the documented defaults (op ``=``, set ``true``)."""
    if not isinstance(item, Mapping):
        raise BadRequest("each condition must be an object", name="conditions")
    point_id, point_name = item.get("id"), item.get("name")
    if point_id in (None, "") and point_name in (None, ""):
        raise BadRequest("a condition needs an id or a name", name="conditions")
    if point_id not in (None, ""):
        if not isinstance(point_id, str):
            raise BadRequest("a condition id must be a string", name="conditions")
        if point_id.startswith(("c-", "l-")):
            raise BadRequest(
                f"conditions on computed values (c-) and links (l-) are not supported: {point_id}",
                name="conditions",
            )
        if not _DATAPOINT_ID.match(point_id):
            raise BadRequest(f"a condition id must be a data point id (dp-N): {point_id}", name="conditions")
    elif not isinstance(point_name, str):
        raise BadRequest("a condition name must be a string", name="conditions")
    value = item.get("value", _MISSING)
    if value is _MISSING:
        raise BadRequest(f"the condition on {point_id or point_name} needs a value", name="conditions")
    op = item.get("op", "=")
    if op not in CONDITION_OPS:
        raise BadRequest(
            f"unknown condition op {op!r}; use one of {', '.join(CONDITION_OPS)}", name="conditions"
        )
    set_flag = parse_bool(item.get("set", True), "set")
    has_set_value = "setValue" in item
    if set_flag and op != "=" and not has_set_value:
        raise BadRequest(
            f"the condition on {point_id or point_name} uses op {op!r} with set true, so it needs a setValue",
            name="conditions",
        )
    return Condition(
        id=point_id or None,
        name=None if point_id else point_name,
        value=value,
        op=op,
        set=set_flag,
        set_value=item.get("setValue"),
        has_set_value=has_set_value,
        raw=dict(item),
    )


def parse_bool(value: Any, name: str) -> bool:
    """Read a boolean sent as JSON or as a form string (``true``/``false``/``1``/``0``)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise BadRequest(f"{name} must be true or false", name="conditions")
