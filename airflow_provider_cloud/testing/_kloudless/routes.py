"""
Routes of the Kloudless emulator: path patterns under ``/vN``, each method mapped to an endpoint function.

Every request is logged (the Authorization credential masked), then, under the backend's lock, an injected
fault is answered or the endpoint runs; errors are answered in the API's shape with a fresh request id.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, unquote

from airflow_provider_cloud.testing._emulator.errors import EmulatorError
from airflow_provider_cloud.testing._emulator.faults import Faults
from airflow_provider_cloud.testing._emulator.messages import Reply, Request, RequestLog, json_reply
from airflow_provider_cloud.testing._kloudless import accounts
from airflow_provider_cloud.testing._kloudless.backend import KloudlessBackend
from airflow_provider_cloud.testing._kloudless.context import account_of, acting_user, object_list, raw_data
from airflow_provider_cloud.testing._kloudless.errors import (
    KloudlessApiError,
    api_error,
    error_reply,
    fault_error,
    invalid_parameters,
    not_found,
)
from airflow_provider_cloud.testing._kloudless.params import (
    byte_range,
    flag,
    json_body,
    page_args,
    paginate,
    parse_form,
    raw_headers,
)
from airflow_provider_cloud.testing._kloudless.records import seen_request
from airflow_provider_cloud.testing._kloudless.storage import ROOT_ID, Kind
from airflow_provider_cloud.testing._kloudless.transfer import move_to_account
from airflow_provider_cloud.testing._kloudless.unserved import check_served

logger = logging.getLogger(__name__)

#: API versions served (``/v1`` and, identically, ``/v2``) [I]; any other ``/vN`` is a 404.
SUPPORTED_VERSIONS = frozenset({1, 2})
#: [I] Items per page of folder contents and calendar lists when ``page_size`` is not given.
DEFAULT_PAGE_SIZE = 100
_VERSION = re.compile(r"^/v(\d+)(/.*)?$")

Endpoint = Callable[[KloudlessBackend, Request, Mapping[str, str]], Reply]


class KloudlessRoutes:
    """Turn one request into one reply: log it, answer an injected fault or route it, shape the errors."""

    def __init__(
        self, backend: KloudlessBackend, *, faults: Faults, seen: RequestLog[dict[str, Any]]
    ) -> None:
        self._backend = backend
        self._faults = faults
        self._seen = seen

    def handle(self, request: Request) -> Reply:
        request_id = secrets.token_hex(8)
        self._seen.record(seen_request(request))
        with self._backend.lock:
            try:
                fault = self._faults.take()
                if fault is not None:
                    raise fault_error(fault)
                raw_headers(request)  # validates X-Kloudless-Raw-Headers on every request
                return dispatch(self._backend, request)
            except KloudlessApiError as error:
                return error_reply(error, request_id)
            except Exception:
                logger.exception("kloudless emulator: %s %s failed", request.method, request.path)
                failure = KloudlessApiError(500, "internal_error", "The emulator failed on this request.")
                return error_reply(failure, request_id)

    def error_reply(self, error: EmulatorError) -> Reply:
        return error_reply(error, secrets.token_hex(8))


# ---- OAuth ---------------------------------------------------------------------------------------


def oauth_authorize(backend: KloudlessBackend, request: Request, params: Mapping[str, str]) -> Reply:
    location = backend.authorize(request.query)
    return Reply(302, content_type=None, headers={"Location": location, "Cache-Control": "no-store"})


def oauth_exchange(backend: KloudlessBackend, request: Request, params: Mapping[str, str]) -> Reply:
    return json_reply(200, backend.exchange_code(parse_form(request.body)))


def oauth_verify(backend: KloudlessBackend, request: Request, params: Mapping[str, str]) -> Reply:
    return json_reply(200, backend.verify_token(backend.authenticate(request.header("Authorization"))))


# ---- events ---------------------------------------------------------------------------------------


def events_latest(backend: KloudlessBackend, request: Request, params: Mapping[str, str]) -> Reply:
    return json_reply(200, {"cursor": backend.latest_cursor(account_of(backend, request, params))})


def events_list(backend: KloudlessBackend, request: Request, params: Mapping[str, str]) -> Reply:
    return json_reply(200, backend.list_events(account_of(backend, request, params), request.query))


# ---- storage --------------------------------------------------------------------------------------


def folder_create(backend: KloudlessBackend, request: Request, params: Mapping[str, str]) -> Reply:
    state = account_of(backend, request, params)
    body = json_body(request)
    name, parent_id = body.get("name"), body.get("parent_id", ROOT_ID)
    if not isinstance(name, str) or not isinstance(parent_id, str):
        raise invalid_parameters("'name' and 'parent_id' (strings) are required.")
    node, created = state.storage.create_folder(
        parent_id,
        name,
        now=backend.now(),
        user=acting_user(request, state),
        conflict_if_exists=flag(request, "conflict_if_exists"),
    )
    return json_reply(201 if created else 200, state.storage.metadata(node, raw=raw_data(request)))


def folder_contents(backend: KloudlessBackend, request: Request, params: Mapping[str, str]) -> Reply:
    state = account_of(backend, request, params)
    nodes = state.storage.contents(params["id"], recursive=flag(request, "recursive"))
    page, size = page_args(request, DEFAULT_PAGE_SIZE)
    chunk, next_page = paginate(nodes, page, size)
    objects = [state.storage.metadata(node, raw=raw_data(request)) for node in chunk]
    return json_reply(200, object_list(objects, "storage", page=page, next_page=next_page))


def _get(kind: Kind) -> Endpoint:
    def get(backend: KloudlessBackend, request: Request, params: Mapping[str, str]) -> Reply:
        state = account_of(backend, request, params)
        node = state.storage.get(params["id"], kind)
        return json_reply(200, state.storage.metadata(node, raw=raw_data(request)))

    return get


def _update(kind: Kind) -> Endpoint:
    def update(backend: KloudlessBackend, request: Request, params: Mapping[str, str]) -> Reply:
        principal = backend.authenticate(request.header("Authorization"))
        state = backend.resolve(principal, params["account"])
        body = json_body(request)
        name, parent_id, account = body.get("name"), body.get("parent_id"), body.get("account")
        if (name is not None and not isinstance(name, str)) or (
            parent_id is not None and not isinstance(parent_id, str)
        ):
            raise invalid_parameters("'name' and 'parent_id' must be strings.")
        if account is not None and str(account) != str(state.record.id):
            if isinstance(account, bool) or not isinstance(account, int | str) or not str(account).isdigit():
                raise invalid_parameters("'account' must be a numeric account id.")
            target = backend.resolve(principal, str(account))
            node = move_to_account(
                state.storage,
                target.storage,
                params["id"],
                kind,
                name=name,
                parent_id=parent_id,
                now=backend.now(),
                user=acting_user(request, state),
                target_user=acting_user(request, target),
            )
            return json_reply(200, target.storage.metadata(node, raw=raw_data(request)))
        node = state.storage.update(
            params["id"],
            kind,
            now=backend.now(),
            user=acting_user(request, state),
            name=name,
            parent_id=parent_id,
        )
        return json_reply(200, state.storage.metadata(node, raw=raw_data(request)))

    return update


def _delete(kind: Kind) -> Endpoint:
    def delete(backend: KloudlessBackend, request: Request, params: Mapping[str, str]) -> Reply:
        state = account_of(backend, request, params)
        state.storage.delete(
            params["id"],
            kind,
            user=acting_user(request, state),
            recursive=flag(request, "recursive"),
        )
        return Reply(204, content_type=None)

    return delete


def file_upload(backend: KloudlessBackend, request: Request, params: Mapping[str, str]) -> Reply:
    state = account_of(backend, request, params)
    header = request.header("X-Kloudless-Metadata")
    if not header:
        raise invalid_parameters(
            'The X-Kloudless-Metadata header is required: {"parent_id": ..., "name": ...}.'
        )
    try:
        metadata = json.loads(header)
    except ValueError:
        raise invalid_parameters("The X-Kloudless-Metadata header is not valid JSON.") from None
    if not isinstance(metadata, dict):
        raise invalid_parameters("The X-Kloudless-Metadata header must be a JSON object.")
    name, parent_id = metadata.get("name"), metadata.get("parent_id", ROOT_ID)
    if not isinstance(name, str) or not isinstance(parent_id, str):
        raise invalid_parameters("X-Kloudless-Metadata needs 'name' and 'parent_id' strings.")
    node, created = state.storage.upload(
        parent_id,
        name,
        request.body,
        now=backend.now(),
        user=acting_user(request, state),
        overwrite=flag(request, "overwrite"),
    )
    return json_reply(201 if created else 200, state.storage.metadata(node, raw=raw_data(request)))


def file_overwrite(backend: KloudlessBackend, request: Request, params: Mapping[str, str]) -> Reply:
    state = account_of(backend, request, params)
    node = state.storage.overwrite(
        params["id"], request.body, now=backend.now(), user=acting_user(request, state)
    )
    return json_reply(200, state.storage.metadata(node, raw=raw_data(request)))


def file_download(backend: KloudlessBackend, request: Request, params: Mapping[str, str]) -> Reply:
    state = account_of(backend, request, params)
    node = state.storage.get(params["id"], "file")
    disposition = f"attachment; filename*=UTF-8''{quote(node.name)}"
    headers = {"Content-Disposition": disposition, "Accept-Ranges": "bytes"}
    span = byte_range(request.header("Range"), len(node.content))
    if span is None:
        return Reply(200, node.content, "application/octet-stream", headers)
    first_byte, last_byte = span
    headers["Content-Range"] = f"bytes {first_byte}-{last_byte}/{len(node.content)}"
    return Reply(206, node.content[first_byte : last_byte + 1], "application/octet-stream", headers)


# ---- calendar -------------------------------------------------------------------------------------


def calendars_list(backend: KloudlessBackend, request: Request, params: Mapping[str, str]) -> Reply:
    state = account_of(backend, request, params)
    page, size = page_args(request, DEFAULT_PAGE_SIZE)
    chunk, next_page = paginate(state.calendars.calendars(), page, size)
    objects = [state.calendars.calendar_json(c) for c in chunk]
    return json_reply(200, object_list(objects, "calendar", page=page, next_page=next_page))


def calendar_get(backend: KloudlessBackend, request: Request, params: Mapping[str, str]) -> Reply:
    state = account_of(backend, request, params)
    return json_reply(200, state.calendars.calendar_json(state.calendars.get(params["calendar"])))


def calendar_events_list(backend: KloudlessBackend, request: Request, params: Mapping[str, str]) -> Reply:
    state = account_of(backend, request, params)
    page, size = page_args(request, DEFAULT_PAGE_SIZE)
    chunk, next_page = paginate(state.calendars.events(params["calendar"]), page, size)
    objects = [state.calendars.event_json(e) for e in chunk]
    return json_reply(200, object_list(objects, "calendar", page=page, next_page=next_page))


def calendar_event_create(backend: KloudlessBackend, request: Request, params: Mapping[str, str]) -> Reply:
    state = account_of(backend, request, params)
    event = state.calendars.create_event(
        params["calendar"], json_body(request), now=backend.now(), user=acting_user(request, state)
    )
    return json_reply(201, state.calendars.event_json(event))


def calendar_event_get(backend: KloudlessBackend, request: Request, params: Mapping[str, str]) -> Reply:
    state = account_of(backend, request, params)
    event = state.calendars.get_event(params["calendar"], params["event"])
    return json_reply(200, state.calendars.event_json(event))


def calendar_event_delete(backend: KloudlessBackend, request: Request, params: Mapping[str, str]) -> Reply:
    state = account_of(backend, request, params)
    state.calendars.delete_event(params["calendar"], params["event"], user=acting_user(request, state))
    return Reply(204, content_type=None)


# ---- pass-through ---------------------------------------------------------------------------------


def raw_passthrough(backend: KloudlessBackend, request: Request, params: Mapping[str, str]) -> Reply:
    state = account_of(backend, request, params)
    method, uri = request.header("X-Kloudless-Raw-Method"), request.header("X-Kloudless-Raw-URI")
    if not method or not uri:
        raise invalid_parameters("The X-Kloudless-Raw-Method and X-Kloudless-Raw-URI headers are required.")
    headers = raw_headers(request)
    content_type = request.header("Content-Type")
    if content_type and request.body:
        headers.setdefault("Content-Type", content_type)
    return json_reply(200, backend.passthrough(state, method, uri, headers, request.body))


# ---- the table ------------------------------------------------------------------------------------

_ACCOUNT = r"/accounts/(?P<account>\d+|me)"
_ANY_METHOD = ("GET", "POST", "PUT", "PATCH", "DELETE")
ROUTES: list[tuple[re.Pattern[str], dict[str, Endpoint]]] = [
    (re.compile(r"/oauth/?"), {"GET": oauth_authorize}),
    (re.compile(r"/oauth/token/?"), {"GET": oauth_verify, "POST": oauth_exchange}),
    (re.compile(r"/accounts/?"), {"GET": accounts.list_accounts}),
    (
        re.compile(_ACCOUNT + r"/?"),
        {"GET": accounts.get_account, "PATCH": accounts.update_account, "DELETE": accounts.delete_account},
    ),
    (re.compile(_ACCOUNT + r"/events/latest/?"), {"GET": events_latest}),
    (re.compile(_ACCOUNT + r"/events/?"), {"GET": events_list}),
    (re.compile(_ACCOUNT + r"/storage/folders/?"), {"POST": folder_create}),
    (
        re.compile(_ACCOUNT + r"/storage/folders/(?P<id>[^/]+)/?"),
        {"GET": _get("folder"), "PATCH": _update("folder"), "DELETE": _delete("folder")},
    ),
    (re.compile(_ACCOUNT + r"/storage/folders/(?P<id>[^/]+)/contents/?"), {"GET": folder_contents}),
    (re.compile(_ACCOUNT + r"/storage/files/?"), {"POST": file_upload}),
    (
        re.compile(_ACCOUNT + r"/storage/files/(?P<id>[^/]+)/?"),
        {"GET": _get("file"), "PUT": file_overwrite, "PATCH": _update("file"), "DELETE": _delete("file")},
    ),
    (re.compile(_ACCOUNT + r"/storage/files/(?P<id>[^/]+)/contents/?"), {"GET": file_download}),
    (re.compile(_ACCOUNT + r"/cal/calendars/?"), {"GET": calendars_list}),
    (re.compile(_ACCOUNT + r"/cal/calendars/(?P<calendar>[^/]+)/?"), {"GET": calendar_get}),
    (
        re.compile(_ACCOUNT + r"/cal/calendars/(?P<calendar>[^/]+)/events/?"),
        {"GET": calendar_events_list, "POST": calendar_event_create},
    ),
    (
        re.compile(_ACCOUNT + r"/cal/calendars/(?P<calendar>[^/]+)/events/(?P<event>[^/]+)/?"),
        {"GET": calendar_event_get, "DELETE": calendar_event_delete},
    ),
    (re.compile(_ACCOUNT + r"/raw/?"), dict.fromkeys(_ANY_METHOD, raw_passthrough)),
]


def dispatch(backend: KloudlessBackend, request: Request) -> Reply:
    """
    Route a request to its endpoint.

    501 for what the API has and the emulator lacks (``unserved``), 404 for an unknown path or API version,
    405 for a method the path does not take.
    """
    version = _VERSION.match(request.path)
    if version is None or int(version.group(1)) not in SUPPORTED_VERSIONS:
        raise not_found(f"No such endpoint: {request.path}.")
    rest = version.group(2) or "/"
    check_served(request.method, rest, request.path, request.query)
    for pattern, methods in ROUTES:
        match = pattern.fullmatch(rest)
        if match is None:
            continue
        endpoint = methods.get(request.method)
        if endpoint is None:
            raise api_error(
                "method_not_allowed", f"Method {request.method} is not allowed on {request.path}."
            )
        params = {key: unquote(value) for key, value in match.groupdict().items()}
        return endpoint(backend, request, params)
    raise not_found(f"No such endpoint: {request.path}.")
