"""
Routes and responses of the CloudTables emulator, independent of the HTTP server that carries them.

Order of checks for an API request: injected fault, then body decoding, rate limit (per presented key),
API key, route and method, then the operation. Loader URLs skip faults, rate limit and key.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, parse_qsl, unquote, urlsplit

from airflow_provider_cloud.testing._cloudtables.controls import Controls, Fault, SeenRequest
from airflow_provider_cloud.testing._cloudtables.errors import BadRequest, EmulatorApiError, FieldErrors
from airflow_provider_cloud.testing._cloudtables.models import CloudTablesBackend
from airflow_provider_cloud.testing._cloudtables.params import nest_pairs, read_conditions, read_roles
from airflow_provider_cloud.testing._cloudtables.records import FIELD_ID

log = logging.getLogger(__name__)

LOADER_STYLES = ("d", "auto", "bs", "bs4", "dt", "zf", "ju", "se", "no")
_API = re.compile(r"^(?:/io)?/api/1/(?P<rest>.*)$")
_LOADER = re.compile(r"^(?:/io)?/loader/(?P<dataset>[^/]+)/table/(?P<style>[^/]+)$")
_ROUTES: tuple[tuple[str, re.Pattern[str], tuple[str, ...]], ...] = (
    ("access", re.compile(r"^access$"), ("POST",)),
    ("datasets", re.compile(r"^datasets$"), ("GET",)),
    ("schema", re.compile(r"^dataset/(?P<dataset>[^/]+)/schema$"), ("GET",)),
    ("legacy", re.compile(r"^dataset/(?P<dataset>[^/]+)/data$"), ("GET",)),
    ("dataset", re.compile(r"^dataset/(?P<dataset>[^/]+)$"), ("GET", "POST")),
    ("row", re.compile(r"^dataset/(?P<dataset>[^/]+)/(?P<row>[^/]+)$"), ("GET", "PUT", "DELETE")),
)
_LOADER_JS = """/* CloudTables emulator loader: data set %(dataset)s, style %(style)s */
(function () {
  var script = document.currentScript;
  var holder = document.createElement("div");
  holder.className = "cloudtables cloudtables-emulator";
  holder.setAttribute("data-dataset", %(dataset)s);
  holder.setAttribute("data-style", %(style)s);
  holder.setAttribute("data-token", (script && script.getAttribute("data-token")) || "");
  if (script && script.parentNode) { script.parentNode.insertBefore(holder, script); }
})();
"""


@dataclass(frozen=True)
class Response:
    """What the HTTP layer sends back."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class _Route:
    kind: str
    method: str
    dataset: str = ""
    row: str = ""

    def error(self, status: int, message: str, *, name: str = "key", headers: Any = ()) -> Response:
        """Answer an error in this endpoint's documented shape."""
        if self.kind == "access":
            body: dict[str, Any] = {"errors": [{"msg": message, "name": name or "key"}]}
        elif self.kind == "row" and self.method == "DELETE":
            body = {"success": False, "error": message}
        else:
            body = {"error": message}
        return _json(status, body, headers)


class CloudTablesApp:
    """Turn one HTTP request into one response, using the backend and the test controls."""

    def __init__(self, backend: CloudTablesBackend, controls: Controls, api_key: Callable[[], str]) -> None:
        self.backend = backend
        self.controls = controls
        self._api_key = api_key

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Response:
        split = urlsplit(target)
        lowered = {name.lower(): value for name, value in headers.items()}
        query_pairs = parse_qsl(split.query, keep_blank_values=True)
        form: dict[str, list[str]] = {}
        json_body: Any = None
        params: dict[str, Any] = nest_pairs(query_pairs)
        decode_error: EmulatorApiError | None = None
        try:
            body_params, form, json_body = _decode_body(lowered, body)
            params.update(body_params)
        except EmulatorApiError as exc:
            decode_error = exc
        try:
            response = self._respond(method, split.path, lowered, params, decode_error)
        except Exception:  # the emulator itself failed: answer 500 rather than drop the connection
            log.exception("CloudTables emulator failed on %s %s", method, split.path)
            response = _json(500, {"error": "CloudTables emulator internal error"})
        self.controls.record(
            SeenRequest(
                method=method,
                path=split.path,
                query=parse_qs(split.query, keep_blank_values=True),
                form=form,
                json=json_body,
                headers=dict(headers),
                body=body,
                status=response.status,
            )
        )
        return response

    def _respond(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        params: dict[str, Any],
        decode_error: EmulatorApiError | None,
    ) -> Response:
        loader = _LOADER.match(path)
        if loader:
            return self._loader(method, unquote(loader["dataset"]), unquote(loader["style"]))
        api = _API.match(path)
        if api is None:
            return _json(404, {"error": f"No such URL: {path}"})
        route = _match_route(method, api["rest"])
        fault = self.controls.take_fault()
        if fault is not None:
            return _fault_response(route, fault)
        if decode_error is not None:
            return route.error(decode_error.status, decode_error.message, name="body")
        key = _presented_key(headers, params)
        retry_after = self.controls.admit(key)
        if retry_after is not None:
            limit, window = self.controls.rate_limit, self.controls.rate_window
            message = f"Rate limit exceeded: {limit} requests per {window:g} seconds"
            return route.error(429, message, headers=(("Retry-After", str(retry_after)),))
        if not key:
            return route.error(401, "API key required")
        if key != self._api_key():
            return route.error(401, "Invalid API key")
        if route.kind == "unknown":
            return route.error(404, f"No such API endpoint: {path}", name="path")
        allowed = next(methods for kind, _, methods in _ROUTES if kind == route.kind)
        if method not in allowed:
            allow = (("Allow", ", ".join(allowed)),)
            return route.error(405, f"Method {method} not allowed", name="method", headers=allow)
        try:
            return self._operation(route, params)
        except FieldErrors as exc:
            fields = [{"name": name, "status": status} for name, status in exc.field_errors]
            return _json(exc.status, {"error": exc.message, "fieldErrors": fields})
        except EmulatorApiError as exc:
            return route.error(exc.status, exc.message, name=exc.name)

    def _operation(self, route: _Route, params: dict[str, Any]) -> Response:
        backend = self.backend
        read_roles(params)  # validated on every call; roles are recorded, not enforced
        if route.kind == "access":
            token = backend.mint_token(
                roles=read_roles(params),
                conditions=read_conditions(params),
                duration=_duration(params.get("duration")),
                client_id=params.get("clientId"),
                client_name=params.get("clientName"),
                client_meta=params.get("clientMeta"),
            )
            return _json(200, {"token": token.token, "success": True})
        if route.kind == "datasets":
            return _json(200, {"datasets": backend.list_datasets(), "success": True})
        if route.kind == "schema":
            return _json(200, {**backend.schema(route.dataset), "success": True})
        conditions = read_conditions(params)
        fields = {key: value for key, value in params.items() if FIELD_ID.match(key)}
        if route.kind == "legacy":
            rows = backend.read_rows(route.dataset, conditions)
            return _json(200, {"columns": backend.legacy_columns(route.dataset), "data": rows})
        if route.kind == "dataset" and route.method == "GET":
            return _json(200, {"data": backend.read_rows(route.dataset, conditions)})
        if route.kind == "dataset":
            return _json(200, {"data": backend.insert_row(route.dataset, fields, conditions)})
        if route.method == "GET":
            return _json(200, {"data": backend.read_row(route.dataset, route.row, conditions)})
        if route.method == "PUT":
            return _json(200, {"data": backend.update_row(route.dataset, route.row, fields, conditions)})
        backend.delete_row(route.dataset, route.row, conditions)
        return _json(200, {"success": True})

    def _loader(self, method: str, dataset_id: str, style: str) -> Response:
        if method != "GET":
            return _json(405, {"error": f"Method {method} not allowed"}, (("Allow", "GET"),))
        if style not in LOADER_STYLES:
            return _json(404, {"error": f"Unknown table style {style!r}"})
        if not self.backend.has_dataset(dataset_id):
            return _json(404, {"error": f"Data set {dataset_id} does not exist"})
        script = _LOADER_JS % {"dataset": json.dumps(dataset_id), "style": json.dumps(style)}
        return Response(200, script.encode(), "application/javascript", (("Cache-Control", "no-store"),))


def _match_route(method: str, rest: str) -> _Route:
    for kind, pattern, _ in _ROUTES:
        match = pattern.match(rest)
        if match:
            groups = match.groupdict()
            return _Route(kind, method, unquote(groups.get("dataset", "")), unquote(groups.get("row", "")))
    return _Route("unknown", method)


def _decode_body(headers: Mapping[str, str], body: bytes) -> tuple[dict[str, Any], dict[str, list[str]], Any]:
    """Return the body's parameters, its form fields (for the log) and its JSON value (headers lower-cased)."""
    if not body.strip():
        return {}, {}, None
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("The request body is not UTF-8", name="body") from None
    if content_type == "application/json" or content_type.endswith("+json"):
        try:
            value = json.loads(text)
        except ValueError:
            raise BadRequest("The request body is not valid JSON", name="body") from None
        if not isinstance(value, dict):
            raise BadRequest("A JSON request body must be an object", name="body")
        return value, {}, value
    if content_type in ("", "application/x-www-form-urlencoded"):
        pairs = parse_qsl(text, keep_blank_values=True)
        return nest_pairs(pairs), parse_qs(text, keep_blank_values=True), None
    raise EmulatorApiError(415, f"Unsupported request body type {content_type!r}", name="body")


def _presented_key(headers: Mapping[str, str], params: Mapping[str, Any]) -> str:
    """Return the API key from the ``key`` header, else the body or query parameter ``key`` (headers lower-cased)."""
    value: Any = headers.get("key") or params.get("key") or ""
    if isinstance(value, list):
        value = value[0] if value else ""
    return value if isinstance(value, str) else str(value)


def _duration(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise BadRequest("duration must be a whole number of seconds", name="duration")


def _fault_response(route: _Route, fault: Fault) -> Response:
    headers: tuple[tuple[str, str], ...] = ()
    if fault.retry_after is not None:
        headers = (("Retry-After", str(fault.retry_after)),)
    if fault.body is None:
        return route.error(fault.status, f"Emulated failure (HTTP {fault.status})", headers=headers)
    if isinstance(fault.body, bytes | str):
        raw = fault.body.encode() if isinstance(fault.body, str) else fault.body
        return Response(fault.status, raw, "text/plain; charset=utf-8", headers)
    return _json(fault.status, fault.body, headers)


def _json(status: int, body: Any, headers: Any = ()) -> Response:
    return Response(status, json.dumps(body).encode(), "application/json", tuple(headers))
