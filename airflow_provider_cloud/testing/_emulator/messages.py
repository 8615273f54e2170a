"""What the shared server hands an emulator's routes and gets back, and the bounded log of what was seen."""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import Message
from functools import cached_property
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qs

Entry = TypeVar("Entry")


@dataclass(frozen=True)
class Request:
    """One request as read from the wire: the path is not decoded, the body is whole (chunked bodies joined)."""

    method: str
    path: str
    query_string: str
    headers: Message
    body: bytes

    @cached_property
    def query(self) -> dict[str, list[str]]:
        """Return the query parameters, blank values kept."""
        return parse_qs(self.query_string, keep_blank_values=True)

    def header(self, name: str) -> str | None:
        """Return a request header (case-insensitive), or ``None``."""
        return self.headers.get(name)


@dataclass(frozen=True)
class Reply:
    """What the server writes back; no ``content_type`` means no ``Content-Type`` header (204, 302)."""

    status: int
    body: bytes = b""
    content_type: str | None = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)


def json_reply(status: int, data: Any, headers: Mapping[str, str] | None = None) -> Reply:
    """Return a JSON reply."""
    return Reply(status, json.dumps(data).encode(), "application/json", dict(headers or {}))


class RequestLog(Generic[Entry]):
    """The most recent requests, in whatever form the service keeps them, oldest first."""

    def __init__(self, size: int, lock: threading.RLock | None = None) -> None:
        if size < 1:
            raise ValueError("the request log must hold at least one request")
        self._lock = lock or threading.RLock()
        self._entries: deque[Entry] = deque(maxlen=size)

    def record(self, entry: Entry) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[Entry]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
