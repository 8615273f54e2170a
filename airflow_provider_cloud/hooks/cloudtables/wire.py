"""
CloudTables on the wire: where the API lives, what each request carries, and what a failure looks like.

Facts are from the official Python (0.0.3) and Node (1.2.0) clients and the cloudtables.com docs. Choices
where they leave room:

- The API key goes in the ``key`` HTTP header on every request (the docs allow a header; it keeps the key
  out of URLs, proxy logs and error texts), never in a URL or a body.
- ``clientId``/``clientName`` go in the form body of ``POST /access`` (where the docs list them) and in the
  query string of every other call, as the official Python client sends them, so that data changes are
  attributed too; the service ignores them where it has no use for them. (The Node client sends them on
  ``/access`` only.)
- ``conditions`` are sent only on calls given some, as one JSON string (a form cannot carry objects): in the
  form body of POST and PUT, in the query string of GET and DELETE (some proxies drop bodies of GET and
  DELETE; the Node client puts them in the query there too).
- Failures: a non-2xx status (the HTTP core), or a body with ``success: false`` or any of ``error``,
  ``errors``, ``fieldErrors`` whatever the status. A failure in a 2xx body gets its class from what it says
  (field errors: :class:`BadRequestError`; "does not exist": :class:`NotFoundError`, ...).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlsplit

from airflow_provider_cloud.exceptions import (
    ApiResponseError,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    RateLimitError,
    UnexpectedResponseError,
)
from airflow_provider_cloud.hooks.core import coerce_bool, with_port

SERVICE = "CloudTables"
DEFAULT_DOMAIN = "cloudtables.io"
#: Table styles of the ``<script>`` loader: default, auto, Bootstrap 3/4/5, DataTables, Foundation, jQuery
#: UI, Semantic UI, none.
SCRIPT_STYLES: tuple[str, ...] = ("d", "auto", "bs", "bs4", "dt", "zf", "ju", "se", "no")
CONDITION_OPS: tuple[str, ...] = ("=", "!=", "<", "<=", ">=", ">")
Pairs = list[tuple[str, str]]


@dataclass(frozen=True)
class CloudTablesEndpoint:
    """
    Where one CloudTables application answers.

    ``base`` is ``scheme://host[:port][/path]``; hosted applications (a sub-domain of ``cloudtables.io``)
    serve ``/api/1`` and ``/loader`` there, self-hosted ones ``/io/api/1`` and ``/io/loader``.
    """

    base: str
    hosted: bool

    @property
    def prefix(self) -> str:
        return "" if self.hosted else "/io"

    def api_path(self, *parts: str) -> str:
        """Return the path of an API route, each part percent-encoded: ``/io/api/1/dataset/<id>``."""
        return f"{self.prefix}/api/1/" + "/".join(quote(str(p), safe="-_.~") for p in parts)

    def loader_url(self, dataset_id: str, style: str) -> str:
        """Return the ``<script src>`` of a data set's embedded table."""
        check_style(style)
        return f"{self.base}{self.prefix}/loader/{quote(dataset_id, safe='-_.~')}/table/{style}"


def endpoint_from_connection(
    host: str | None,
    *,
    port: int | None,
    schema: str | None,
    extras: Mapping[str, Any],
    conn_id: str,
) -> CloudTablesEndpoint:
    """
    Work out the endpoint from a connection's host and extras.

    The scheme comes from the host (``http://...``), else from the ``ssl`` extra (default true: https). A
    host with a scheme keeps it: the form stores ``ssl: true`` by default, so only ``ssl`` turned off
    beside an ``https://`` host is a contradiction (an error). A host under the ``domain`` extra (default
    ``cloudtables.io``), such as ``acme.cloudtables.io``, is hosted; any other host is self-hosted; the
    ``self_hosted`` extra (``auto``, ``self-hosted``, ``hosted``, or a boolean) overrides.
    """
    text = (host or "").strip().rstrip("/")
    if not text:
        raise ValueError(
            f"Connection {conn_id!r} has no host: set it to the application's sub-domain host "
            "(acme.cloudtables.io) or the self-hosted domain"
        )
    ssl_extra = extras.get("ssl")
    ssl = None if ssl_extra in (None, "") else coerce_bool(ssl_extra, default=True)
    if "://" in text:
        scheme = text.split("://", 1)[0].lower()
        if scheme not in ("http", "https"):
            raise ValueError(
                f"Connection {conn_id!r}: the host's scheme must be http or https, not {scheme!r}"
            )
        if ssl is False and scheme == "https":
            raise ValueError(
                f"Connection {conn_id!r}: the host says {scheme}:// but the 'ssl' extra says {ssl_extra!r}"
            )
    else:
        if ssl is None:
            ssl = schema != "http"
        text = f"{'https' if ssl else 'http'}://{text}"
    parts = urlsplit(text)
    hostname = (parts.hostname or "").lower()
    domain = str(extras.get("domain") or DEFAULT_DOMAIN).strip().lower().lstrip(".")
    by_host = not hostname.endswith(f".{domain}")
    hosted = read_self_hosted(extras.get("self_hosted"), by_host=by_host, conn_id=conn_id)
    base = f"{parts.scheme}://{with_port(parts.scheme, parts.netloc, port)}{parts.path.rstrip('/')}"
    return CloudTablesEndpoint(base, not hosted)


SELF_HOSTED_CHOICES = {"auto": None, "self-hosted": True, "hosted": False}


def read_self_hosted(value: object, *, by_host: bool, conn_id: str) -> bool:
    """Return whether the server is self-hosted: ``by_host`` for ``auto`` (or unset), else what is chosen."""
    if value in (None, "") or value == "auto":
        return by_host
    chosen = SELF_HOSTED_CHOICES.get(value) if isinstance(value, str) else None
    if chosen is not None:
        return chosen
    try:
        return coerce_bool(value, default=by_host)
    except ValueError:
        raise ValueError(
            f"Connection {conn_id!r}: extra 'self_hosted' must be one of {', '.join(SELF_HOSTED_CHOICES)}"
            f" (or true/false), not {value!r}"
        ) from None


def check_style(style: str) -> str:
    """Return ``style`` if the loader knows it, else raise ``ValueError`` naming the styles."""
    if style not in SCRIPT_STYLES:
        raise ValueError(f"unknown table style {style!r}; the styles are {', '.join(SCRIPT_STYLES)}")
    return style


def script_tag(endpoint: CloudTablesEndpoint, dataset_id: str, token: str, style: str = "d") -> str:
    """Return the ``<script>`` tag that embeds a data set's table with an access token."""
    src = html.escape(endpoint.loader_url(dataset_id, style), quote=True)
    return f'<script src="{src}" data-token="{html.escape(token, quote=True)}"></script>'


# -- requests ----------------------------------------------------------------------------------------


def key_header(api_key: str | None) -> dict[str, str]:
    """Return the header that carries the API key (none without a key)."""
    key = (api_key or "").strip()
    return {"key": key} if key else {}


def client_pairs(extras: Mapping[str, Any]) -> Pairs:
    """Return ``clientId``/``clientName`` from a connection's extras, as set."""
    return [(name, str(extras[name])) for name in ("clientId", "clientName") if extras.get(name)]


def request_parts(
    method: str,
    *,
    client: Pairs,
    form: Sequence[tuple[str, str]],
    conditions: Sequence[Mapping[str, Any]],
) -> tuple[Pairs, Pairs]:
    """Return ``(query, form body)`` of a call: the client pairs in the query, conditions where they go."""
    query, body = list(client), list(form)
    if conditions:
        (body if method in ("POST", "PUT") else query).append(("conditions", conditions_param(conditions)))
    return query, body


def form_value(value: Any) -> str:
    """
    Return a value as CloudTables form text.

    ``None`` is ``""`` (it clears a value), booleans ``true``/``false``, integral floats lose their ``.0``
    (so ``5.0`` and ``5`` compare equal), dates and times are ISO 8601, lists and dicts JSON.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a finite number")
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, int | Decimal | str):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    raise ValueError(f"cannot send a value of type {type(value).__name__}")


def form_pairs(fields: Mapping[str, Any]) -> Pairs:
    """
    Return API fields as form pairs: ``dp-N=text``; links as one pair per linked row id, ``[]`` for none.

    ``[]`` is what the .NET docs send to clear links; a form cannot carry an empty list otherwise.
    """
    pairs: Pairs = []
    for field_id, value in fields.items():
        if field_id.startswith("l-") and value:
            pairs.extend((field_id, str(row_id)) for row_id in value)
        elif field_id.startswith("l-"):
            pairs.append((field_id, "[]"))
        else:
            pairs.append((field_id, form_value(value)))
    return pairs


def role_list(roles: Sequence[str] | str | None) -> list[str]:
    """Return role names from a list, a comma-separated string or a JSON array string."""
    if roles is None or roles == "":
        return []
    if isinstance(roles, str):
        text = roles.strip()
        if text.startswith("["):
            roles = json.loads(text)
        else:
            return [part.strip() for part in text.split(",") if part.strip()]
    if isinstance(roles, str) or not all(isinstance(r, str) for r in roles):
        raise ValueError(f"roles must be role names, not {roles!r}")
    return [r.strip() for r in roles if r.strip()]


def access_form(
    *,
    roles: Sequence[str],
    duration: int | str | None,
    client_id: Any,
    client_name: Any,
    client_meta: Any,
) -> Pairs:
    """Return the form of ``POST /access`` (conditions go separately): repeated ``roles``, ``duration``..."""
    form = [("roles", role) for role in roles]
    if duration is not None and duration != "":
        seconds = int(duration)
        if seconds < 0:
            raise ValueError(f"duration must be 0 or more seconds, not {duration!r}")
        form.append(("duration", str(seconds)))
    if client_id:
        form.append(("clientId", str(client_id)))
    if client_name:
        form.append(("clientName", str(client_name)))
    if client_meta is not None:
        meta = client_meta if isinstance(client_meta, str) else json.dumps(client_meta, default=str)
        form.append(("clientMeta", meta))
    return form


def normalize_conditions(conditions: Any) -> list[dict[str, Any]]:
    """
    Return conditions in their documented form: a list of ``{id|name, value, op?, set?, setValue?}``.

    Accepted: one condition object, a list of them, a JSON string of either, or a shorthand mapping of data
    point (name or ``dp-N``) to value, meaning ``=``. ``op`` is checked; the service checks the rest.
    """
    if conditions is None or conditions == "":
        return []
    if isinstance(conditions, str):
        try:
            conditions = json.loads(conditions)
        except ValueError:
            raise ValueError(f"conditions is not valid JSON: {conditions[:80]!r}") from None
    if isinstance(conditions, Mapping):
        if "value" in conditions and ("id" in conditions or "name" in conditions):
            conditions = [conditions]
        else:
            conditions = [_shorthand(point, value) for point, value in conditions.items()]
    if not isinstance(conditions, Sequence) or isinstance(conditions, str):
        raise ValueError("conditions must be an object, a list of objects or a mapping of point to value")
    out = []
    for item in conditions:
        if not isinstance(item, Mapping) or "value" not in item or not (item.get("id") or item.get("name")):
            raise ValueError(f"a condition needs an id or a name, and a value: {item!r}")
        if item.get("op", "=") not in CONDITION_OPS:
            raise ValueError(f"condition op {item.get('op')!r} is not one of {', '.join(CONDITION_OPS)}")
        out.append(dict(item))
    return out


def _shorthand(point: str, value: Any) -> dict[str, Any]:
    return {"id": point, "value": value} if point.startswith("dp-") else {"name": point, "value": value}


def conditions_param(conditions: Sequence[Mapping[str, Any]]) -> str:
    """Return conditions as the JSON string the service reads (a form cannot carry nested objects)."""
    return json.dumps(list(conditions), separators=(",", ":"), ensure_ascii=False, default=str)


# -- answers -----------------------------------------------------------------------------------------


def answer_part(payload: Any, name: str, kind: type, failure: str) -> Any:
    """Return ``payload[name]`` if it is a ``kind`` (a non-empty one for text), else raise ``failure``."""
    value = payload.get(name) if isinstance(payload, Mapping) else None
    if not isinstance(value, kind) or (kind is str and not value):
        raise UnexpectedResponseError(failure, service=SERVICE)
    return value


def response_data(payload: Any) -> dict[str, Any]:
    """Return the ``data`` row of a row read or write, or raise :class:`UnexpectedResponseError`."""
    return dict(answer_part(payload, "data", Mapping, "the answer has no 'data' row"))


def body_failed(payload: Any) -> bool:
    """Tell whether a JSON body reports a failure: ``success: false`` or any of ``error``/``errors``/``fieldErrors``."""
    if not isinstance(payload, Mapping):
        return False
    if payload.get("success") is False:
        return True
    return any(payload.get(key) not in (None, "", [], {}) for key in ("error", "errors", "fieldErrors"))


def body_error(
    payload: Mapping[str, Any], errors: list[str], *, where: str, status_code: int, request_id: str | None
) -> ApiResponseError:
    """Return the error for a failure reported in a body (:func:`body_failed`), of a class fitting its words."""
    return _failure_class(payload, errors)(
        f"{where} failed: {errors[0]}" if errors else f"{where} failed",
        service=SERVICE,
        status_code=status_code,
        errors=errors,
        request_id=request_id,
        retryable=False,
    )


def _failure_class(payload: Mapping[str, Any], errors: list[str]) -> type[ApiResponseError]:
    if payload.get("fieldErrors"):
        return BadRequestError
    text = " ".join(errors).lower()
    if "api key" in text:
        return AuthenticationError
    if "rate limit" in text:
        return RateLimitError
    if any(words in text for words in ("does not exist", "not found", "no such")):
        return NotFoundError
    return BadRequestError


def error_messages(payload: Any, point_names: Mapping[str, str]) -> list[str]:
    """
    Return every error a CloudTables body carries: ``error``, ``errors[].msg`` and ``fieldErrors``.

    Field errors read ``Name (dp-3): status``, naming the data point when its id is known.
    """
    if not isinstance(payload, Mapping):
        return []
    messages: list[str] = []
    error = payload.get("error")
    if isinstance(error, str) and error:
        messages.append(error)
    elif error not in (None, "", False):
        messages.append(json.dumps(error, default=str)[:300])
    for item in payload.get("errors") or []:
        if isinstance(item, Mapping):
            text = (
                item.get("msg") or item.get("message") or item.get("error") or json.dumps(item, default=str)
            )
            name = item.get("name")
            messages.append(f"{name}: {text}" if name else str(text))
        else:
            messages.append(str(item))
    for item in payload.get("fieldErrors") or []:
        if isinstance(item, Mapping):
            field = str(item.get("name", "?"))
            label = f"{point_names[field]} ({field})" if field in point_names else field
            messages.append(f"{label}: {item.get('status', 'invalid')}")
        else:
            messages.append(str(item))
    if not messages and payload.get("success") is False:
        messages.append("the service answered success: false")
    return messages


def field_error_status(message: str, point_id: str, name: str) -> str | None:
    """Return the status of a field error of :func:`error_messages` about ``point_id``, else ``None``."""
    for label in (f"{name} ({point_id})", point_id):
        if message.startswith(f"{label}: "):
            return message[len(label) + 2 :]
    return None
