"""
Routes of the CloudTables emulator: URL -> endpoint, answers in the API's shape.

Order of checks for an API request: injected fault, then body decoding, rate limit (per presented key),
API key, route and method, then the operation. Loader URLs skip faults, rate limit and key.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

from airflow_provider_cloud.testing._cloudtables.backend import CloudTablesBackend
from airflow_provider_cloud.testing._cloudtables.errors import (
    ACCESS,
    ROW,
    CloudTablesApiError,
    error_reply,
    fault_reply,
)
from airflow_provider_cloud.testing._cloudtables.params import (
    decode_body,
    nest_pairs,
    presented_key,
    read_conditions,
    read_duration,
    read_roles,
)
from airflow_provider_cloud.testing._cloudtables.rate_limit import RateLimiter
from airflow_provider_cloud.testing._cloudtables.records import FIELD_ID, SeenRequest
from airflow_provider_cloud.testing._emulator.errors import EmulatorError
from airflow_provider_cloud.testing._emulator.faults import Faults
from airflow_provider_cloud.testing._emulator.messages import Reply, Request, RequestLog, json_reply

log = logging.getLogger(__name__)

LOADER_STYLES = ("d", "auto", "bs", "bs4", "dt", "zf", "ju", "se", "no")
_API = re.compile(r"^(?:/io)?/api/1/(?P<rest>.*)$")
_LOADER = re.compile(r"^(?:/io)?/loader/(?P<dataset>[^/]+)/table/(?P<style>[^/]+)$")
_ROUTES: tuple[tuple[str, re.Pattern[str], tuple[str, ...]], ...] = (
    (ACCESS, re.compile(r"^access$"), ("POST",)),
    ("datasets", re.compile(r"^datasets$"), ("GET",)),
    ("schema", re.compile(r"^dataset/(?P<dataset>[^/]+)/schema$"), ("GET",)),
    ("legacy", re.compile(r"^dataset/(?P<dataset>[^/]+)/data$"), ("GET",)),
    ("dataset", re.compile(r"^dataset/(?P<dataset>[^/]+)$"), ("GET", "POST")),
    (ROW, re.compile(r"^dataset/(?P<dataset>[^/]+)/(?P<row>[^/]+)$"), ("GET", "PUT", "DELETE")),
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
class _Route:
    kind: str
    method: str
    dataset: str = ""
    row: str = ""

    def error(self, error: EmulatorError) -> Reply:
        return error_reply(error, self.kind, self.method)


class CloudTablesRoutes:
    """Turn one request into one reply, using the backend, the injected faults and the rate limit; log it."""

    def __init__(
        self,
        backend: CloudTablesBackend,
        *,
        api_key: str,
        faults: Faults,
        limiter: RateLimiter,
        seen: RequestLog[SeenRequest],
    ) -> None:
        self._backend = backend
        self._api_key = api_key
        self._faults = faults
        self._limiter = limiter
        self._seen = seen

    def handle(self, request: Request) -> Reply:
        headers = {name.lower(): value for name, value in request.headers.items()}
        params: dict[str, Any] = nest_pairs(parse_qsl(request.query_string, keep_blank_values=True))
        form: dict[str, list[str]] = {}
        json_body: Any = None
        decode_error: CloudTablesApiError | None = None
        try:
            body_params, form, json_body = decode_body(headers.get("content-type", ""), request.body)
            params.update(body_params)
        except CloudTablesApiError as exc:
            decode_error = exc
        try:
            reply = self._respond(request.method, request.path, headers, params, decode_error)
        except Exception:  # the emulator itself failed: answer 500 rather than drop the connection
            log.exception("CloudTables emulator failed on %s %s", request.method, request.path)
            reply = json_reply(500, {"error": "CloudTables emulator internal error"})
        self._seen.record(
            SeenRequest(
                method=request.method,
                path=request.path,
                query=request.query,
                form=form,
                json=json_body,
                headers=dict(request.headers.items()),
                body=request.body,
                status=reply.status,
            )
        )
        return reply

    def error_reply(self, error: EmulatorError) -> Reply:
        return error_reply(error)

    def _respond(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        params: dict[str, Any],
        decode_error: CloudTablesApiError | None,
    ) -> Reply:
        loader = _LOADER.match(path)
        if loader:
            return self._loader(method, unquote(loader["dataset"]), unquote(loader["style"]))
        api = _API.match(path)
        if api is None:
            return json_reply(404, {"error": f"No such URL: {path}"})
        route = _match_route(method, api["rest"])
        fault = self._faults.take()
        if fault is not None:
            return fault_reply(fault, route.kind, route.method)
        if decode_error is not None:
            return route.error(decode_error)
        key = presented_key(headers, params)
        retry_after = self._limiter.admit(key)
        if retry_after is not None:
            return route.error(
                EmulatorError(429, self._limiter.message, headers={"Retry-After": str(retry_after)})
            )
        if not key:
            return route.error(EmulatorError(401, "API key required"))
        if key != self._api_key:
            return route.error(EmulatorError(401, "Invalid API key"))
        if route.kind == "unknown":
            return route.error(CloudTablesApiError(404, f"No such API endpoint: {path}", name="path"))
        allowed = next(methods for kind, _, methods in _ROUTES if kind == route.kind)
        if method not in allowed:
            allow = {"Allow": ", ".join(allowed)}
            return route.error(
                CloudTablesApiError(405, f"Method {method} not allowed", name="method", headers=allow)
            )
        try:
            return self._operation(route, params)
        except CloudTablesApiError as exc:
            return route.error(exc)

    def _operation(self, route: _Route, params: dict[str, Any]) -> Reply:
        backend = self._backend
        read_roles(params)  # validated on every call; roles are recorded, not enforced
        if route.kind == ACCESS:
            token = backend.mint_token(
                roles=read_roles(params),
                conditions=read_conditions(params),
                duration=read_duration(params.get("duration")),
                client_id=params.get("clientId"),
                client_name=params.get("clientName"),
                client_meta=params.get("clientMeta"),
            )
            return json_reply(200, {"token": token.token, "success": True})
        if route.kind == "datasets":
            return json_reply(200, {"datasets": backend.list_datasets(), "success": True})
        if route.kind == "schema":
            return json_reply(200, {**backend.schema(route.dataset), "success": True})
        conditions = read_conditions(params)
        fields = {key: value for key, value in params.items() if FIELD_ID.match(key)}
        if route.kind == "legacy":
            rows = backend.read_rows(route.dataset, conditions)
            return json_reply(200, {"columns": backend.legacy_columns(route.dataset), "data": rows})
        if route.kind == "dataset" and route.method == "GET":
            return json_reply(200, {"data": backend.read_rows(route.dataset, conditions)})
        if route.kind == "dataset":
            return json_reply(200, {"data": backend.insert_row(route.dataset, fields, conditions)})
        if route.method == "GET":
            return json_reply(200, {"data": backend.read_row(route.dataset, route.row, conditions)})
        if route.method == "PUT":
            return json_reply(200, {"data": backend.update_row(route.dataset, route.row, fields, conditions)})
        backend.delete_row(route.dataset, route.row, conditions)
        return json_reply(200, {"success": True})

    def _loader(self, method: str, dataset_id: str, style: str) -> Reply:
        if method != "GET":
            return json_reply(405, {"error": f"Method {method} not allowed"}, {"Allow": "GET"})
        if style not in LOADER_STYLES:
            return json_reply(404, {"error": f"Unknown table style {style!r}"})
        if not self._backend.has_dataset(dataset_id):
            return json_reply(404, {"error": f"Data set {dataset_id} does not exist"})
        script = _LOADER_JS % {"dataset": json.dumps(dataset_id), "style": json.dumps(style)}
        return Reply(200, script.encode(), "application/javascript", {"Cache-Control": "no-store"})


def _match_route(method: str, rest: str) -> _Route:
    for kind, pattern, _ in _ROUTES:
        match = pattern.match(rest)
        if match:
            groups = match.groupdict()
            return _Route(kind, method, unquote(groups.get("dataset", "")), unquote(groups.get("row", "")))
    return _Route("unknown", method)
