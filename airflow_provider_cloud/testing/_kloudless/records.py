"""Records the Kloudless emulator keeps (accounts, token grants, files, calendars, seen requests), their JSON."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from airflow_provider_cloud.testing._emulator.messages import Request

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


def seen_request(request: Request) -> dict[str, Any]:
    """Return a request as the request log keeps it: the Authorization credential masked (its scheme kept)."""
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        if name.lower() == "authorization":
            scheme, _, credential = value.partition(" ")
            value = f"{scheme} ***" if credential else "***"
        headers[name] = value
    return {
        "method": request.method,
        "path": request.path,
        "query": request.query,
        "headers": headers,
        "body_size": len(request.body),
    }


def iso(moment: datetime) -> str:
    """Format a moment as the API does: ISO 8601 in UTC, to the second, with a ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def opaque_id(prefix: str, *parts: object) -> str:
    """Return a URL-safe opaque id (no ``/``, ``:`` or padding), stable for the same parts."""
    raw = ":".join(str(part) for part in parts).encode()
    return prefix + base64.urlsafe_b64encode(raw).decode().rstrip("=")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the app (API key) or one account (Bearer token)."""

    scheme: Literal["apikey", "bearer"]
    account_id: int | None = None
    token: str | None = None


@dataclass(frozen=True)
class TokenGrant:
    """What a Bearer token gives access to."""

    account_id: int
    scope: str
    created: datetime


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
    modified: datetime | None = None

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
            "modified": iso(self.modified or self.created),
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
