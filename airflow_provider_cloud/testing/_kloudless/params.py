"""Request parameters every Kloudless endpoint shares: query values, paging, bodies, the raw-headers header."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from airflow_provider_cloud.testing._emulator.messages import Request
from airflow_provider_cloud.testing._kloudless.errors import (
    KloudlessApiError,
    api_error,
    invalid_parameters,
    not_found,
)

MAX_PAGE_SIZE = 1000


def first(query: Mapping[str, list[str]], name: str) -> str | None:
    """Return the first value of a query parameter, or ``None``."""
    values = query.get(name)
    return values[0] if values else None


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


def flag(request: Request, name: str, default: bool = False) -> bool:
    """Return a boolean query parameter."""
    value = first(request.query, name)
    return default if value is None else parse_bool(name, value)


def page_args(request: Request, default_size: int) -> tuple[int, int]:
    """Return ``page`` (from 1) and ``page_size`` (1 to 1000)."""
    page_text, size_text = first(request.query, "page"), first(request.query, "page_size")
    page = 1 if page_text is None else parse_int("page", page_text, low=1)
    size = default_size if size_text is None else parse_int("page_size", size_text, low=1, high=MAX_PAGE_SIZE)
    return page, size


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


def parse_form(body: bytes) -> dict[str, str]:
    """Parse a request body as a form whatever its Content-Type (a JSON object is accepted too) [I]."""
    text = body.decode("utf-8", errors="replace").strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            return {str(key): str(value) for key, value in data.items()}
    return dict(parse_qsl(text, keep_blank_values=True))


def json_body(request: Request) -> dict[str, Any]:
    """Return a JSON object body (a form body is read as a form); an empty body is ``{}``."""
    if not request.body.strip():
        return {}
    try:
        data = json.loads(request.body)
    except ValueError:
        if request.body.lstrip().startswith((b"{", b"[")):
            raise api_error("bad_request", "The request body is not valid JSON.") from None
        return parse_form(request.body)
    if not isinstance(data, dict):
        raise api_error("bad_request", "The request body must be a JSON object.")
    return data


def raw_headers(request: Request) -> dict[str, str]:
    """Parse ``X-Kloudless-Raw-Headers`` (a JSON object of strings), or answer 400 invalid_parameters."""
    text = request.header("X-Kloudless-Raw-Headers")
    if text is None:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise invalid_parameters("X-Kloudless-Raw-Headers must be a JSON object.")
    return {str(key): str(value) for key, value in data.items()}


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """
    Return the ``(first, last)`` bytes (inclusive) a ``Range`` header asks of a body of ``size`` bytes.

    [I] One range of bytes (``a-b``, ``a-``, ``-n``), as HTTP defines it (RFC 9110 14.1): no header, another
    unit, several ranges or a malformed value give ``None`` (the whole body, 200), as a server that ignores
    ``Range`` answers; a range that starts past the end is 416 ``requested_range_not_satisfiable``.
    """
    if not header or not header.strip().lower().startswith("bytes="):
        return None
    spec = header.strip()[len("bytes=") :].strip()
    if "," in spec or "-" not in spec:
        return None
    head, _, tail = (part.strip() for part in spec.partition("-"))
    if not (head.isdigit() or head == "") or not (tail.isdigit() or tail == "") or head == tail == "":
        return None
    if head == "":
        count = int(tail)
        if count == 0 or size == 0:
            raise _unsatisfiable(size)
        return max(size - count, 0), size - 1
    first_byte = int(head)
    last_byte = min(int(tail), size - 1) if tail else size - 1
    if tail and int(tail) < first_byte:
        return None
    if first_byte >= size:
        raise _unsatisfiable(size)
    return first_byte, last_byte


def _unsatisfiable(size: int) -> KloudlessApiError:
    return KloudlessApiError(
        416,
        "requested_range_not_satisfiable",
        f"The range starts past the end of the file ({size} bytes).",
        headers={"Content-Range": f"bytes */{size}"},
    )
