"""Kloudless error bodies: ``{"status_code", "error_code", "message", "id"}`` plus optional extras."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_cloud.testing._emulator.errors import EmulatorError
from airflow_provider_cloud.testing._emulator.faults import Fault
from airflow_provider_cloud.testing._emulator.messages import Reply, json_reply

#: The error_code → status table of the Kloudless docs (copied in the community Ruby SDK's error.rb).
STATUS_BY_ERROR_CODE: dict[str, int] = {
    "bad_request": 400,
    "request_failed": 400,
    "invalid_parent_folder": 400,
    "invalid_parameters": 400,
    "invalid_resource_type": 400,
    "unauthorized": 401,
    "service_unauthorized": 401,
    "authentication_required": 401,
    "invalid_token": 401,
    "folder_not_empty": 403,
    "permission_denied": 403,
    "forbidden": 403,
    "service_forbidden": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "not_acceptable": 406,
    "naming_conflict": 409,
    "too_many_requests": 429,
    "too_many_service_requests": 429,
    "internal_error": 500,
    "link_error": 500,
    "unsupported_media_type": 500,
    "not_implemented": 501,
    "bad_gateway": 502,
    "service_not_available": 503,
    "gateway_timeout": 504,
    "insufficient_storage": 507,
}

#: The error_code used when only a status is known (fault injection).
DEFAULT_ERROR_CODE_BY_STATUS: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "naming_conflict",
    429: "too_many_requests",
    500: "internal_error",
    501: "not_implemented",
    502: "bad_gateway",
    503: "service_not_available",
    504: "gateway_timeout",
    507: "insufficient_storage",
}

#: [I] Emulator choice: the error_code for an events cursor older than the retained events (HTTP 400).
CURSOR_EXPIRED = "cursor_expired"


class KloudlessApiError(EmulatorError):
    """An error answer of the API: raised by the backend, written out by the routes."""

    def __init__(
        self,
        status: int,
        error_code: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(status, message, headers=headers)
        self.error_code = error_code
        self.extra = extra

    def body(self, request_id: str) -> dict[str, Any]:
        """Return the JSON body the API sends for this error."""
        return {
            "status_code": self.status,
            "error_code": self.error_code,
            "message": self.message,
            "id": request_id,
            **self.extra,
        }


def api_error(error_code: str, message: str, **extra: Any) -> KloudlessApiError:
    """Build an error from its error_code, looking the status up in the documented table."""
    return KloudlessApiError(STATUS_BY_ERROR_CODE.get(error_code, 400), error_code, message, **extra)


def invalid_parameters(message: str) -> KloudlessApiError:
    """Return a 400 ``invalid_parameters`` error."""
    return api_error("invalid_parameters", message)


def not_found(message: str = "The requested resource was not found.") -> KloudlessApiError:
    """Return a 404 ``not_found`` error."""
    return api_error("not_found", message)


def error_reply(error: EmulatorError, request_id: str) -> Reply:
    """Answer an error; one that is not a :class:`KloudlessApiError` gets the error_code of its status."""
    if not isinstance(error, KloudlessApiError):
        code = DEFAULT_ERROR_CODE_BY_STATUS.get(error.status, "bad_request")
        error = KloudlessApiError(error.status, code, error.message, headers=error.headers)
    return json_reply(error.status, error.body(request_id), error.headers)


def injected_fault(status: int, error_code: str | None, retry_after: float | None) -> Fault:
    """Return the fault ``fail_next`` queues: the error_code of the status by default, a 429 waits 1 s by default."""
    if not 400 <= status <= 599:
        raise ValueError("status must be an HTTP error status (400-599)")
    code = error_code or DEFAULT_ERROR_CODE_BY_STATUS.get(
        status, "internal_error" if status >= 500 else "bad_request"
    )
    if status == 429 and retry_after is None:
        retry_after = 1
    return Fault(status, retry_after, code=code)


def fault_error(fault: Fault) -> KloudlessApiError:
    """Return an injected fault as the error to answer."""
    message = (
        "Too many requests: check the Retry-After header."
        if fault.status == 429
        else f"Injected failure (HTTP {fault.status})."
    )
    return KloudlessApiError(fault.status, fault.code or "internal_error", message, headers=fault.headers())
