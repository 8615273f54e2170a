"""Records the emulator keeps, their JSON shapes, and the small parsers every endpoint shares."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from airflow_provider_cloud.testing._kloudless.errors import invalid_parameters, not_found

FOLDER_MIME_TYPE = "inode/directory"
EVENT_TYPES = frozenset({"add", "delete", "update", "rename", "move", "copy", "restore"})
#: [I] Legacy one-letter ``action`` of an event (the Java SDK model has the field; its values are not read anywhere).
ACTION_BY_EVENT_TYPE = {
    "add": "+",
    "update": "+",
    "copy": "+",
    "restore": "+",
    "delete": "-",
    "rename": "M",
    "move": "M",
}
SERVICE_NAMES = {
    "gdrive": "Google Drive",
    "dropbox": "Dropbox",
    "box": "Box",
    "onedrive": "OneDrive",
    "skydrive": "OneDrive",
    "onedrivebiz": "OneDrive for Business",
    "sharepoint": "SharePoint Online",
    "egnyte": "Egnyte",
    "s3": "Amazon S3",
    "google_calendar": "Google Calendar",
    "outlook_calendar": "Outlook Calendar",
}
MAX_PAGE_SIZE = 1000


def iso(moment: datetime) -> str:
    """Format a moment as the API does: ISO 8601 in UTC, to the second, with a ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(name: str, text: str) -> datetime:
    """Parse an ISO 8601 query value (a naive value is taken as UTC), or answer 400 invalid_parameters."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise invalid_parameters(f"'{name}' must be an ISO 8601 timestamp, not {text!r}.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_bool(name: str, text: str) -> bool:
    """Parse a boolean query value (true/false, 1/0, any case), or answer 400 invalid_parameters."""
    lowered = text.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise invalid_parameters(f"'{name}' must be true or false, not {text!r}.")


def parse_int(name: str, text: str, *, low: int, high: int | None = None) -> int:
    """Parse an integer query value within ``[low, high]``, or answer 400 invalid_parameters."""
    try:
        value = int(text.strip())
    except ValueError:
        raise invalid_parameters(f"'{name}' must be an integer, not {text!r}.") from None
    if value < low or (high is not None and value > high):
        upper = f" and {high}" if high is not None else " or more"
        raise invalid_parameters(f"'{name}' must be between {low}{upper}, not {value}.")
    return value


def opaque_id(prefix: str, *parts: object) -> str:
    """Return a URL-safe opaque id (no ``/``, ``:`` or padding), stable for the same parts."""
    raw = ":".join(str(part) for part in parts).encode()
    return prefix + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def paginate(items: list[Any], page: int, page_size: int) -> tuple[list[Any], int | None]:
    """
    Cut one page out of ``items`` (pages count from 1).

    Returns the page and the next page number (``None`` on the last page). A page past the end, other
    than page 1, is a 404: the SDK's generic iterator treats that as the end of the list.
    """
    start = (page - 1) * page_size
    if page > 1 and start >= len(items):
        raise not_found(f"Page {page} does not exist.")
    chunk = items[start : start + page_size]
    next_page = page + 1 if start + page_size < len(items) else None
    return chunk, next_page


@dataclass
class AccountRecord:
    """A connected account: numeric id, as the SDK's URL patterns require."""

    id: int
    account: str
    service: str
    user_id: str
    created: datetime
    active: bool = True
    admin: bool = False
    apis: tuple[str, ...] = ("storage", "calendar")
    scope: str = "all"

    def to_json(self, *, raw: bool = False) -> dict[str, Any]:
        """Return the account object of ``GET /accounts/{id}``."""
        body: dict[str, Any] = {
            "id": self.id,
            "account": self.account,
            "service": self.service,
            "service_name": SERVICE_NAMES.get(self.service, self.service.replace("_", " ").title()),
            "active": self.active,
            "admin": self.admin,
            "apis": list(self.apis),
            "effective_scope": self.scope,
            "created": iso(self.created),
            "modified": iso(self.created),
            "api": "meta",
            "type": "account",
        }
        if raw:
            body["raw"] = {"user_id": self.user_id, "email": self.account}
        return body


@dataclass
class Node:
    """One file or folder of an account's storage tree."""

    id: str
    raw_id: str
    kind: Literal["file", "folder"]
    name: str
    parent_id: str | None
    created: datetime
    modified: datetime
    creator: str
    last_modifier: str
    content: bytes = b""
    mime_type: str = FOLDER_MIME_TYPE


@dataclass
class CalendarRecord:
    """A calendar of an account (the emulator creates one primary calendar per account)."""

    id: str
    name: str
    created: datetime
    primary: bool = True
    description: str = ""
    location: str = ""
    timezone: str = "UTC"
    events: dict[str, CalendarEventRecord] = field(default_factory=dict)


@dataclass
class CalendarEventRecord:
    """A calendar event; ``fields`` holds what the client sent (name, start, end, ...)."""

    id: str
    calendar_id: str
    fields: dict[str, Any]
    created: datetime
    modified: datetime
