"""
The Kloudless v1 wire: URLs and versions, auth schemes, headers, page sizes, error bodies, paging.

Functions of plain values; the hook reads its connection and calls them. The only request made here is
through the ``fetch`` callable :func:`iter_object_list` is given. ``where`` names what a value came from
(``"Connection 'kl'"``) so that an error says which setting to fix.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from airflow_provider_cloud.exceptions import NotFoundError, UnexpectedResponseError
from airflow_provider_cloud.hooks.core import SAFE_METHODS, coerce_bool

SERVICE = "Kloudless"
DEFAULT_BASE_URL = "https://api.kloudless.com"
DEFAULT_API_VERSION = 1
AUTH_SCHEMES = {"bearer": "Bearer", "apikey": "APIKey"}
MAX_PAGE_SIZE = 1000
"""
The largest page the API serves (events, folder contents, accounts), and the default events page.

It also caps a sensor's or trigger's batch (``max_events``): a batch is then at most one full page, the
most the service hands out at once, so XCom and trigger payloads stay bounded by what one request returns.
"""
#: The ``error_code`` the service answers for an events cursor older than the retained events.
CURSOR_EXPIRED_CODE = "cursor_expired"
_ACCOUNT_ID = re.compile(r"^(?:\d+|me)$")
_VERSION_SUFFIX = re.compile(r"/v(\d+)$")
_RETENTION_WORDS = ("retention", "retained")


# -- settings -----------------------------------------------------------------------------------------


def check_page_size(page_size: int | None) -> int | None:
    """Return ``page_size`` after checking it is within 1-1000 (``None`` means the service's default)."""
    if page_size is None:
        return None
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be an integer from 1 to {MAX_PAGE_SIZE}, got {page_size!r}")
    return page_size


def parse_api_version(value: object, where: str) -> int:
    """Read an API version: ``1``, ``"1"`` or ``"v1"``."""
    text = str(value).strip().lower().removeprefix("v")
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{where}: api_version must be a positive integer such as 1, got {value!r}")
    return int(text)


def split_version(url: str) -> tuple[str, int | None]:
    """Return a base URL without a trailing ``/v<N>``, and that N if there was one."""
    found = _VERSION_SUFFIX.search(url)
    if found:
        return url[: found.start()], int(found.group(1))
    return url, None


def versioned_url(base_url: str, version: int, path: str = "") -> str:
    """Return ``{base_url}/v{version}/{path}``."""
    url = f"{base_url}/v{version}"
    return f"{url}/{path.lstrip('/')}" if path.strip("/") else url


def parse_auth_scheme(value: object, where: str) -> str:
    """Read ``Bearer`` (default) or ``APIKey`` in any case, with or without ``-``, ``_`` or spaces."""
    text = str(value or "Bearer").strip()
    scheme = AUTH_SCHEMES.get(text.lower().replace("-", "").replace("_", "").replace(" ", ""))
    if scheme is None:
        raise ValueError(f"{where}: auth_scheme must be 'Bearer' or 'APIKey', got {text!r}")
    return scheme


def parse_account_id(value: object, *, auth_scheme: str, where: str) -> str:
    """
    Read the account requests act on: ``me`` (default) or a numeric id.

    With an API key there is no "me": the account must be named (the official SDK refuses it too).
    """
    text = "me" if value in (None, "") else str(value).strip()
    if not _ACCOUNT_ID.match(text):
        raise ValueError(f"{where}: account_id must be 'me' or a numeric account id, got {text!r}")
    if text == "me" and auth_scheme == "APIKey":
        raise ValueError(
            f"{where} authenticates with an API key, which acts for the whole application: set the "
            "account_id extra (or the hook's account_id argument) to the numeric id of the account to use"
        )
    return text


def parse_raw_headers(value: object, where: str) -> dict[str, str]:
    """Read the ``raw_headers`` extra: a JSON object (or its text) of header names to values."""
    if value in (None, ""):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = None
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: extra 'raw_headers' must be a JSON object of header names to values")
    return {str(key): str(item) for key, item in value.items()}


def option_headers(*, raw_data: object, as_user: object, where: str) -> dict[str, str]:
    """Return the ``X-Kloudless-Raw-Data`` and ``X-Kloudless-As-User`` headers of the extras that are set."""
    headers: dict[str, str] = {}
    if raw_data not in (None, ""):
        try:
            headers["X-Kloudless-Raw-Data"] = "true" if coerce_bool(raw_data, default=False) else "false"
        except ValueError:
            raise ValueError(f"{where}: extra 'raw_data' must be true or false") from None
    if as_user not in (None, ""):
        headers["X-Kloudless-As-User"] = str(as_user).strip()
    return headers


def raw_request(
    method: str, uri: str, *, data: Any, headers: Mapping[str, str] | None, raw_headers: Mapping[str, str]
) -> dict[str, Any]:
    """
    Return the ``data``, ``headers`` and ``idempotent`` arguments of a ``POST .../raw`` pass-through.

    Bytes and text go as they are, anything else as JSON; ``headers`` are merged over ``raw_headers``. The
    request is safe to repeat when the upstream method is.
    """
    upstream = method.strip().upper()
    request_headers = {"X-Kloudless-Raw-Method": upstream, "X-Kloudless-Raw-URI": uri}
    if headers:
        request_headers["X-Kloudless-Raw-Headers"] = json.dumps({**raw_headers, **headers})
    body: Any = data
    if data is not None and not isinstance(data, bytes | bytearray | str):
        body = json.dumps(data)
        request_headers["Content-Type"] = "application/json"
    return {"data": body, "headers": request_headers, "idempotent": upstream in SAFE_METHODS}


def account_object(payload: Any) -> dict[str, Any]:
    """Return an account object (``id``, ``account``, ``service``, ``apis``, ...) after checking it is one."""
    if not isinstance(payload, Mapping):
        raise UnexpectedResponseError("GET account: the answer is not an account object", service=SERVICE)
    return dict(payload)


def describe_account(account: Mapping[str, Any]) -> str:
    """Return ``account <id> (<name>, <service>)`` for a connection test."""
    service = account.get("service_name") or account.get("service") or "unknown service"
    who = account.get("account") or "unnamed"
    return f"account {account.get('id')} ({who}, {service})"


# -- error bodies ----------------------------------------------------------------------------------------


def error_messages(payload: Any) -> list[str] | None:
    """
    Read a Kloudless error body ``{"status_code", "error_code", "message", "id"}``; ``None`` if it is not one.

    Each message is ``"<error_code>: <message>"``; OAuth errors add ``error``/``error_description``.
    """
    if not isinstance(payload, Mapping) or not (
        payload.get("error_code") or payload.get("message") or payload.get("error_description")
    ):
        return None
    code = payload.get("error_code") or payload.get("error")
    text = payload.get("message") or payload.get("error_description") or ""
    messages = [f"{code}: {text}" if code and text else str(code or text)]
    conflicting = payload.get("conflicting_resource_id")
    if conflicting:
        messages.append(f"conflicting_resource_id: {conflicting}")
    return messages


def error_request_id(payload: Any) -> str | None:
    """Return the error body's ``id`` (the request id), if it has one."""
    if isinstance(payload, Mapping) and payload.get("id") not in (None, ""):
        return str(payload["id"])
    return None


def is_cursor_expired(message: str) -> bool:
    """Tell whether an error message is ``cursor_expired``, or a 400 about a cursor past retention."""
    lowered = message.lower()
    if lowered.startswith(f"{CURSOR_EXPIRED_CODE}:") or lowered == CURSOR_EXPIRED_CODE:
        return True
    return "cursor" in lowered and any(word in lowered for word in _RETENTION_WORDS)


# -- object_list paging -------------------------------------------------------------------------------


def first_query(params: Mapping[str, Any] | None, page_size: int | None) -> dict[str, Any]:
    """Return the query of an ``object_list``'s first page: ``params`` without ``None``, and ``page_size``."""
    query = {key: value for key, value in (params or {}).items() if value is not None}
    size = check_page_size(page_size)
    if size is not None:
        query["page_size"] = size
    return query


def next_page(payload: Mapping[str, Any]) -> Any:
    """Return the next page number by the SDK's rules, or ``None`` at the end."""
    if "next_page" in payload:
        return payload["next_page"]
    page = payload.get("page")
    if isinstance(page, int) and not isinstance(page, bool):
        return page + 1
    return None


def iter_object_list(
    fetch: Callable[[dict[str, Any]], Any], query: dict[str, Any], *, where: str
) -> Iterator[dict[str, Any]]:
    """
    Yield the objects of an ``object_list`` endpoint lazily; ``fetch(query)`` returns one page's JSON.

    The official SDK's generic rules: the next page is ``next_page`` when the key is present (``null``
    ends the list), else ``page + 1`` when ``page`` is an integer, else the list ends; a 404 on a next
    page ends it too. Each next request resends the first query with ``page`` replaced. For a bounded
    loop, an empty page or a ``next_page`` equal to the current page also ends the list.
    """
    query = dict(query)
    page: Any = query.get("page")
    first = True
    while True:
        try:
            payload = fetch(dict(query))
        except NotFoundError:
            if first:
                raise
            return
        objects = payload.get("objects") if isinstance(payload, Mapping) else None
        if not isinstance(objects, list):
            raise UnexpectedResponseError(
                f"{where}: the answer is not an object_list (no 'objects' list)", service=SERVICE
            )
        yield from objects
        found = next_page(payload)
        if not objects or found is None or found == page:
            return
        page = found
        query["page"] = found
        first = False
