"""The error an emulator raises for an error answer; each service renders the body in its own shape."""

from __future__ import annotations

from collections.abc import Mapping


class EmulatorError(Exception):
    """
    An error answer: the HTTP status, the message for the body, extra headers (``Retry-After``, ``Allow``).

    The body is not built here: CloudTables shapes it by endpoint, Kloudless adds a request id.
    """

    def __init__(self, status: int, message: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})
