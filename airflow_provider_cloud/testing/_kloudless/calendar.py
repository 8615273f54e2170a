"""
A minimal Calendar API for one account: the primary calendar and its events.

[I] choices: each account has exactly one calendar (its primary one, also reachable as ``primary``);
an event needs ``start`` and ``end`` (ISO 8601) and keeps any other fields the client sends; creating
or deleting a calendar event emits an ``add`` / ``delete`` event whose metadata is the calendar event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from airflow_provider_cloud.testing._kloudless.errors import invalid_parameters, not_found
from airflow_provider_cloud.testing._kloudless.params import parse_iso
from airflow_provider_cloud.testing._kloudless.records import (
    AccountRecord,
    CalendarEventRecord,
    CalendarRecord,
    iso,
    opaque_id,
)

PRIMARY = "primary"
_READ_ONLY_FIELDS = frozenset({"id", "api", "type", "account_id", "calendar_id", "created", "modified"})
EmitEvent = Callable[[str, dict[str, Any], str], None]


class CalendarStore:
    """The calendars of one account."""

    def __init__(self, account: AccountRecord, emit: EmitEvent) -> None:
        self.account = account
        self._emit = emit
        self._counter = 0
        primary = CalendarRecord(
            id=opaque_id("C", account.id, "primary"), name=account.account, created=account.created
        )
        self._calendars: dict[str, CalendarRecord] = {primary.id: primary}

    def calendars(self) -> list[CalendarRecord]:
        """Return every calendar of the account."""
        return list(self._calendars.values())

    def get(self, calendar_id: str) -> CalendarRecord:
        """Return a calendar by id or by the alias ``primary``, or answer 404."""
        if calendar_id == PRIMARY:
            return next(c for c in self._calendars.values() if c.primary)
        calendar = self._calendars.get(calendar_id)
        if calendar is None:
            raise not_found(f"No calendar with id {calendar_id!r} in account {self.account.id}.")
        return calendar

    def calendar_json(self, calendar: CalendarRecord) -> dict[str, Any]:
        """Return the calendar object."""
        return {
            "id": calendar.id,
            "account_id": self.account.id,
            "name": calendar.name,
            "description": calendar.description,
            "location": calendar.location,
            "timezone": calendar.timezone,
            "primary": calendar.primary,
            "owner": {
                "id": self.account.user_id,
                "name": self.account.account,
                "email": self.account.account,
            },
            "created": iso(calendar.created),
            "modified": iso(calendar.created),
            "api": "calendar",
            "type": "calendar",
        }

    def event_json(self, event: CalendarEventRecord) -> dict[str, Any]:
        """Return the calendar event object."""
        return {
            "name": "",
            "description": "",
            "location": "",
            "attendees": [],
            "attachments": [],
            **event.fields,
            "id": event.id,
            "account_id": self.account.id,
            "calendar_id": event.calendar_id,
            "created": iso(event.created),
            "modified": iso(event.modified),
            "api": "calendar",
            "type": "event",
        }

    def events(self, calendar_id: str) -> list[CalendarEventRecord]:
        """Return the events of a calendar, by start time."""
        calendar = self.get(calendar_id)
        return sorted(calendar.events.values(), key=lambda e: (str(e.fields.get("start", "")), e.id))

    def get_event(self, calendar_id: str, event_id: str) -> CalendarEventRecord:
        """Return one event of a calendar, or answer 404."""
        event = self.get(calendar_id).events.get(event_id)
        if event is None:
            raise not_found(f"No calendar event with id {event_id!r}.")
        return event

    def create_event(
        self, calendar_id: str, fields: Mapping[str, Any], *, now: datetime, user: str
    ) -> CalendarEventRecord:
        """Create an event (``start`` and ``end`` required) and emit an ``add`` event."""
        calendar = self.get(calendar_id)
        for name in ("start", "end"):
            value = fields.get(name)
            if not isinstance(value, str):
                raise invalid_parameters(f"'{name}' is required: an ISO 8601 timestamp.")
            parse_iso(name, value)
        if parse_iso("end", fields["end"]) < parse_iso("start", fields["start"]):
            raise invalid_parameters("'end' must not be before 'start'.")
        self._counter += 1
        kept = {key: value for key, value in fields.items() if key not in _READ_ONLY_FIELDS}
        event = CalendarEventRecord(
            id=opaque_id("E", self.account.id, self._counter),
            calendar_id=calendar.id,
            fields=kept,
            created=now,
            modified=now,
        )
        calendar.events[event.id] = event
        self._emit("add", self.event_json(event), user)
        return event

    def delete_event(self, calendar_id: str, event_id: str, *, user: str) -> None:
        """Delete an event and emit a ``delete`` event."""
        event = self.get_event(calendar_id, event_id)
        metadata = self.event_json(event)
        del self.get(calendar_id).events[event_id]
        self._emit("delete", metadata, user)
