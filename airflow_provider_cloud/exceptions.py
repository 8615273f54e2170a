"""
Every error this provider raises, as one tree.

::

    AirflowException
    ├── CloudApiError                   a call to a service failed; carries service, status_code,
    │   │                               errors (the API's own messages), request_id, retryable
    │   ├── ApiConnectionError          no answer: refused, reset, DNS (retryable)
    │   │   └── ApiTimeoutError         connect or read timeout (retryable)
    │   ├── ApiResponseError            the service answered with an error (any status)
    │   │   ├── BadRequestError         400 and 422: the request was wrong
    │   │   │   └── CursorExpiredError  an events cursor older than the service keeps
    │   │   ├── AuthenticationError     401: missing, wrong or expired token or key
    │   │   │   └── TokenExpiredError   401 because the token has expired
    │   │   ├── PermissionDeniedError   403: the token may not do this
    │   │   ├── NotFoundError           404: no such database, table, data set, row or file
    │   │   ├── ConflictError           409: the resource exists or changed
    │   │   ├── PayloadTooLargeError    413: the request body is over the server's limit
    │   │   ├── RateLimitError          429: too many requests; carries retry_after (seconds)
    │   │   └── ServerError             5xx: the service failed
    │   └── UnexpectedResponseError     2xx whose body is not what the API documents
    ├── RowDataError                    bad input rows: names the source, line and column
    └── UnsupportedConnectionError      a connection type without the hook an operator needs

Status codes live on attributes, never only in message text: catch the class, or read ``status_code``.
A failure crosses from a trigger to its task as an error event (:func:`error_event`), from which
:func:`error_from_event` rebuilds the same class.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from airflow.sdk.exceptions import AirflowException


class CloudApiError(AirflowException):
    """A call to a hosted data API failed."""

    retryable_by_default = False

    def __init__(
        self,
        message: str,
        *,
        service: str,
        status_code: int | None = None,
        errors: Sequence[str] = (),
        request_id: str | None = None,
        retryable: bool | None = None,
    ) -> None:
        self.message = message
        self.service = service
        self.status_code = status_code  # type: ignore[assignment]  # AirflowException types it HTTPStatus
        self.errors = list(errors)
        self.request_id = request_id
        self.retryable = self.retryable_by_default if retryable is None else retryable
        super().__init__(self._describe())

    def _describe(self) -> str:
        text = f"{self.service}: {self.message}"
        if self.status_code is not None:
            text += f" (HTTP {self.status_code})"
        # Skip only an error the message already ends with (the HTTP core appends the first one):
        # a substring test would also drop short messages that happen to occur in the path.
        details = [e for e in self.errors if e and e != self.message and not self.message.endswith(f": {e}")]
        if details:
            text += ": " + "; ".join(details)
        if self.request_id:
            text += f" [request id {self.request_id}]"
        return text

    def __reduce__(self) -> tuple[object, ...]:
        """Pickle with keyword arguments (exceptions cross process boundaries in Airflow)."""
        return (
            _rebuild,
            (
                type(self),
                self.message,
                {
                    "service": self.service,
                    "status_code": self.status_code,
                    "errors": self.errors,
                    "request_id": self.request_id,
                    "retryable": self.retryable,
                    **self._extra_state(),
                },
            ),
        )

    def _extra_state(self) -> dict[str, object]:
        return {}


def _rebuild(cls: type[CloudApiError], message: str, kwargs: dict[str, object]) -> CloudApiError:
    return cls(message, **kwargs)  # type: ignore[arg-type]


class ApiConnectionError(CloudApiError):
    """The service could not be reached: connection refused or reset, name not resolved."""

    retryable_by_default = True


class ApiTimeoutError(ApiConnectionError):
    """The service did not connect or answer in time."""


class ApiResponseError(CloudApiError):
    """
    The service answered with an error.

    ``retry_after`` is the wait a ``Retry-After`` header asked for, in seconds (429 and 503 carry one).
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)  # type: ignore[arg-type]

    def _extra_state(self) -> dict[str, object]:
        return {"retry_after": self.retry_after}


class BadRequestError(ApiResponseError):
    """400 or 422: the service rejected the request as invalid."""


class CursorExpiredError(BadRequestError):
    """The events cursor points before the oldest event the service still keeps."""


class AuthenticationError(ApiResponseError):
    """401: the token or API key is missing, wrong or expired."""


class TokenExpiredError(AuthenticationError):
    """401 because the token has expired: mint a new one and update the connection."""


class PermissionDeniedError(ApiResponseError):
    """403: the token is valid but may not do this."""


class NotFoundError(ApiResponseError):
    """404: no such database, table, data set, row, account or file."""


class ConflictError(ApiResponseError):
    """409: the resource already exists or was changed meanwhile."""


class PayloadTooLargeError(ApiResponseError):
    """413: the request body is larger than the server accepts."""


class RateLimitError(ApiResponseError):
    """429: too many requests; ``retry_after`` is the wait the service asked for, in seconds."""

    retryable_by_default = True


class ServerError(ApiResponseError):
    """5xx: the service failed while handling the request."""


class UnexpectedResponseError(CloudApiError):
    """A successful status whose body is not what the API documents (not JSON, missing keys)."""


STATUS_ERRORS: dict[int, type[ApiResponseError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    422: BadRequestError,
    429: RateLimitError,
}


def error_class_for_status(status_code: int) -> type[ApiResponseError]:
    """Return the exception class for an HTTP error status."""
    if status_code in STATUS_ERRORS:
        return STATUS_ERRORS[status_code]
    if status_code >= 500:
        return ServerError
    return ApiResponseError


class RowDataError(AirflowException, ValueError):
    """
    Input rows that cannot be written: malformed, missing a key, of the wrong type, or absent.

    ``source`` is the file (or ``"rows"`` for rows given inline), ``line`` the 1-based line or row
    number, ``column`` the column name; each is ``None`` where it does not apply. A Parquet file has rows,
    not lines: its ``line`` is the row's number and the message says ``row N`` (a ``.parquet`` source).
    """

    def __init__(
        self,
        reason: str,
        *,
        source: str | None = None,
        line: int | None = None,
        column: str | None = None,
    ) -> None:
        self.reason = reason
        self.source = source
        self.line = line
        self.column = column
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = []
        if self.source:
            where.append(str(self.source))
        if self.line is not None:
            unit = "row" if str(self.source or "").lower().endswith(".parquet") else "line"
            where.append(f"{unit} {self.line}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        return f"{', '.join(where)}: {self.reason}" if where else self.reason

    def __reduce__(self) -> tuple[object, ...]:
        return (
            _rebuild_row_error,
            (type(self), self.reason, {"source": self.source, "line": self.line, "column": self.column}),
        )


def _rebuild_row_error(cls: type[RowDataError], reason: str, kwargs: dict[str, object]) -> RowDataError:
    return cls(reason, **kwargs)  # type: ignore[arg-type]


class UnsupportedConnectionError(AirflowException):
    """The connection's type has no hook that can do what the operator asks."""


# -- error events: a failure on the triggerer, raised again on the worker ----------------------------------


def error_event(exc: BaseException, scrub: Callable[[str], str] | None = None) -> dict[str, Any]:
    """
    Return a secret-free ``{"status": "error", "message", "error_type", ...}`` trigger payload for a failure.

    For a :class:`CloudApiError` it also carries what rebuilds the same error on the worker: ``service``,
    ``status_code``, ``detail`` (the error's own message), ``errors`` and ``request_id``. ``scrub`` (the
    hook's, when there is one) takes secrets out of every text.
    """

    def clean(text: str) -> str:
        return scrub(text) if scrub is not None else text

    payload: dict[str, Any] = {
        "status": "error",
        "message": clean(str(exc) or type(exc).__name__),
        "error_type": type(exc).__name__,
    }
    if isinstance(exc, CloudApiError):
        payload.update(
            service=exc.service,
            status_code=exc.status_code,
            detail=clean(exc.message),
            errors=[clean(str(e)) for e in exc.errors],
            request_id=exc.request_id,
        )
    return payload


def error_from_event(
    event: Mapping[str, Any], *, service: str = "cloud", message: str = "the trigger failed"
) -> AirflowException:
    """
    Rebuild the error an :func:`error_event` reported: the same class of this module if known.

    ``service`` and ``message`` stand in for what the event leaves out.
    """
    cls = globals().get(str(event.get("error_type") or ""))
    if isinstance(cls, type) and issubclass(cls, CloudApiError) and "detail" in event:
        status_code = event.get("status_code")
        errors = event.get("errors")
        return cls(
            str(event["detail"]),
            service=str(event.get("service") or service),
            status_code=status_code if isinstance(status_code, int) else None,
            errors=[str(e) for e in errors] if isinstance(errors, list) else [],
            request_id=str(event["request_id"]) if event.get("request_id") else None,
        )
    return AirflowException(str(event.get("message") or message))
