"""Records the CloudTables emulator keeps: data sets with their points and links, rows, tokens, seen requests."""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

FIELD_ID = re.compile(r"^(dp|l|c)-\d+$")
DEFAULT_TOKEN_DURATION = 20 * 60  # seconds [R: "The default is 20 minutes"]
_SECRET_ALPHABET = string.ascii_letters + string.digits


def random_secret(length: int) -> str:
    """Return a random string of letters and digits, like CloudTables keys and tokens."""
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(length))


def iso_now() -> str:
    """Return the current UTC time as CloudTables writes it (``2021-09-15T15:58:49.577Z``)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Datapoint:
    """A data point (column): ``dp-N``."""

    id: str
    name: str
    type: str
    description: str = ""


@dataclass(frozen=True)
class ComputedValue:
    """A computed value ``c-N``: ``compute`` gets the row's data point values by name (plus ``id``)."""

    id: str
    name: str
    compute: Callable[[Mapping[str, Any]], Any]
    description: str = ""


@dataclass(frozen=True)
class Link:
    """A link ``l-N`` from rows of one data set to rows of ``target`` (a data set id)."""

    id: str
    name: str
    target: str
    description: str = ""


@dataclass
class StoredRow:
    """One row: data point values by ``dp-N``, linked row ids by ``l-N``."""

    id: int
    values: dict[str, Any]
    links: dict[str, list[int]]
    dv: int = 0
    color: str | None = None


@dataclass
class Dataset:
    """A data set, its rows and its API counters."""

    id: str
    name: str
    description: str
    datapoints: list[Datapoint]
    computed: list[ComputedValue]
    links: list[Link]
    rows: dict[int, StoredRow] = field(default_factory=dict)
    next_row_id: int = 1
    insert_count: int = 0
    update_count: int = 0
    delete_count: int = 0
    read_count: int = 0
    last_data: str = field(default_factory=iso_now)

    def item_named(self, name: str) -> Datapoint | Link | ComputedValue | None:
        """Return the data point, link or computed value called ``name``, if any."""
        items: list[Datapoint | Link | ComputedValue] = [*self.datapoints, *self.links, *self.computed]
        return next((item for item in items if item.name == name), None)


@dataclass(frozen=True)
class AccessToken:
    """An embed token minted by ``POST /access``, with what it was asked for."""

    token: str
    roles: tuple[str, ...]
    conditions: tuple[dict[str, Any], ...]
    duration: int
    client_id: Any
    client_name: Any
    client_meta: Any
    created_at: str


@dataclass(frozen=True)
class SeenRequest:
    """One request the emulator answered, as a test may want to check it."""

    method: str
    path: str
    query: dict[str, list[str]]
    form: dict[str, list[str]]
    json: Any
    headers: dict[str, str]
    body: bytes
    status: int


def link_values(raw: Any) -> list[int]:
    """Read linked row ids: ``11``, ``"11"``, ``[11, 12]``, ``"[11,12]"``; ``""``, ``"[]"``, ``[]`` clear."""
    if raw is None:
        return []
    if isinstance(raw, list):
        return [row_id for item in raw for row_id in link_values(item)]
    if isinstance(raw, bool | dict):
        raise ValueError("Link values must be row ids")
    if isinstance(raw, int):
        return [raw]
    text = str(raw).strip()
    if text.startswith("["):
        try:
            return link_values(json.loads(text))
        except ValueError:
            raise ValueError("Link values must be row ids") from None
    if text == "":
        return []
    if not (text.isascii() and text.isdigit()):
        raise ValueError("Link values must be row ids")
    return [int(text)]
