"""Errors raised inside the CloudTables emulator, turned into the API's error bodies by the app."""

from __future__ import annotations

from collections.abc import Sequence


class EmulatorApiError(Exception):
    """An API request failed: ``status`` is the HTTP status, ``message`` the text of the error body."""

    def __init__(self, status: int, message: str, *, name: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.name = name  # the parameter at fault, used by the ``errors`` shape of ``POST /access``


class BadRequest(EmulatorApiError):
    """400: a parameter (``roles``, ``conditions``, ``duration``, the body) cannot be used."""

    def __init__(self, message: str, *, name: str = "") -> None:
        super().__init__(400, message, name=name)


class NotFound(EmulatorApiError):
    """404: no such data set or row."""

    def __init__(self, message: str) -> None:
        super().__init__(404, message)


class FieldErrors(EmulatorApiError):
    """400: some fields of an insert or update are wrong; one ``(name, status)`` pair per field."""

    def __init__(self, field_errors: Sequence[tuple[str, str]]) -> None:
        super().__init__(400, "One or more fields have errors")
        self.field_errors = list(field_errors)
