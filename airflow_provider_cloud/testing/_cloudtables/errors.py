"""
CloudTables errors and their shapes: the body depends on the endpoint that failed [R for the shapes].

``POST /access`` answers ``{"errors": [{"msg", "name"}]}`` (``name`` is the parameter); deleting a row
``{"success": false, "error"}``; field errors ``{"error", "fieldErrors": [{"name", "status"}]}``; everything
else ``{"error"}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from airflow_provider_cloud.testing._emulator.errors import EmulatorError
from airflow_provider_cloud.testing._emulator.faults import Fault
from airflow_provider_cloud.testing._emulator.messages import Reply, json_reply

ACCESS, ROW = "access", "row"  # the endpoints with their own error shape


class CloudTablesApiError(EmulatorError):
    """An API request failed; ``name`` is the parameter at fault, used by the shape of ``POST /access``."""

    def __init__(
        self, status: int, message: str, *, name: str = "", headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(status, message, headers=headers)
        self.name = name


class BadRequest(CloudTablesApiError):
    """400: a parameter (``roles``, ``conditions``, ``duration``, the body) cannot be used."""

    def __init__(self, message: str, *, name: str = "") -> None:
        super().__init__(400, message, name=name)


class NotFound(CloudTablesApiError):
    """404: no such data set or row."""

    def __init__(self, message: str) -> None:
        super().__init__(404, message)


class FieldErrors(CloudTablesApiError):
    """400: some fields of an insert or update are wrong; one ``(name, status)`` pair per field."""

    def __init__(self, field_errors: Sequence[tuple[str, str]]) -> None:
        super().__init__(400, "One or more fields have errors")
        self.field_errors = list(field_errors)


def error_reply(error: EmulatorError, endpoint: str = "", method: str = "") -> Reply:
    """Answer an error in the shape of ``endpoint`` (a route kind; ``""`` for the plain ``{"error"}``)."""
    if isinstance(error, FieldErrors):
        fields = [{"name": name, "status": status} for name, status in error.field_errors]
        return json_reply(error.status, {"error": error.message, "fieldErrors": fields}, error.headers)
    if endpoint == ACCESS:
        name = (error.name if isinstance(error, CloudTablesApiError) else "") or "key"
        return json_reply(error.status, {"errors": [{"msg": error.message, "name": name}]}, error.headers)
    if endpoint == ROW and method == "DELETE":
        return json_reply(error.status, {"success": False, "error": error.message}, error.headers)
    return json_reply(error.status, {"error": error.message}, error.headers)


def fault_reply(fault: Fault, endpoint: str, method: str) -> Reply:
    """Answer an injected fault: its own body (JSON, or text as sent), else the endpoint's error shape."""
    if fault.body is None:
        error = EmulatorError(
            fault.status, f"Emulated failure (HTTP {fault.status})", headers=fault.headers()
        )
        return error_reply(error, endpoint, method)
    if isinstance(fault.body, bytes | str):
        raw = fault.body.encode() if isinstance(fault.body, str) else fault.body
        return Reply(fault.status, raw, "text/plain; charset=utf-8", fault.headers())
    return json_reply(fault.status, fault.body, fault.headers())
