"""
Reading a connection: its base URL, and the extras every hook understands.

Extras come as JSON values (``{"timeout": 30}``) or as text from the URI form (``?timeout=30``), and in the
legacy ``extra__<conn_type>__<field>`` spelling of older UI forms; every reader here takes all of them and
names the connection and the extra when a value does not fit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_cloud.hooks.core.policy import RetryPolicy, Timeouts

if TYPE_CHECKING:
    from airflow.sdk import Connection

_NOT_A_PATH = frozenset({"true", "false", "1", "0", "yes", "no", ""})
DEFAULT_PORTS = {"http": 80, "https": 443}


def base_url_from_connection(conn: Connection, *, default_scheme: str = "https") -> str:
    """
    Build ``scheme://host[:port][/path]`` from a connection's host, schema and port fields.

    A port written in the host URL wins over the Port field (as before the form showed Port); the scheme's
    own port (443 for https, 80 for http) is left out, so ``https://h`` with Port 443 is ``https://h``:
    the same asset URIs and links as before users filled Port in for the UI's Test button.
    """
    host = (conn.host or "").strip().rstrip("/")
    if not host:
        raise ValueError(f"Connection {conn.conn_id!r} has no host: set it to the service's base URL")
    if "://" not in host:
        scheme = conn.schema if conn.schema in ("http", "https") else default_scheme
        host = f"{scheme}://{host}"
    parts = urlsplit(host)
    return f"{parts.scheme}://{with_port(parts.scheme, parts.netloc, conn.port)}{parts.path.rstrip('/')}"


def with_port(scheme: str, netloc: str, port: int | None) -> str:
    """Return ``netloc`` with ``port`` added, unless it has a port already or ``port`` is the scheme's own."""
    if not port or ":" in netloc.rsplit("]", 1)[-1] or DEFAULT_PORTS.get(scheme.lower()) == port:
        return netloc
    return f"{netloc}:{port}"


def coerce_bool(value: object, *, default: bool) -> bool:
    """Read a boolean from a connection extra that may be a string (URI form) or a bool (JSON form)."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a boolean: {value!r}")


def normalize_extras(extra: Mapping[str, Any] | None, conn_type: str | None) -> dict[str, Any]:
    """Return the extras with the legacy ``extra__<conn_type>__<field>`` keys under their plain names."""
    raw = dict(extra or {})
    prefix = f"extra__{conn_type}__"
    for key in list(raw):
        if key.startswith(prefix):
            raw.setdefault(key[len(prefix) :], raw.pop(key))
    return raw


def extra_number(
    extras: Mapping[str, Any],
    name: str,
    default: float,
    *,
    conn_id: str,
    cast: Callable[[Any], float] = float,
) -> Any:
    """Return extra ``name`` as a number (``default`` when unset), or say which extra is wrong."""
    value = extras.get(name)
    if value is None or value == "":
        return default
    try:
        return cast(value)
    except (TypeError, ValueError):
        raise ValueError(f"Connection {conn_id!r}: extra {name!r} must be a number, got {value!r}") from None


def read_timeouts(
    extras: Mapping[str, Any], argument: float | tuple[float, float] | None, *, conn_id: str
) -> Timeouts:
    """Return the timeouts: the hook argument (read, or a connect/read pair) over the extras."""
    if isinstance(argument, tuple):
        return Timeouts(connect=float(argument[0]), read=float(argument[1]))
    read = (
        float(argument)
        if argument is not None
        else extra_number(extras, "timeout", Timeouts.read, conn_id=conn_id)
    )
    return Timeouts(
        connect=extra_number(extras, "connect_timeout", Timeouts.connect, conn_id=conn_id), read=read
    )


def read_retry_policy(
    extras: Mapping[str, Any], policy: RetryPolicy | None, limit: int | None, *, conn_id: str
) -> RetryPolicy:
    """Return the retry policy: a whole policy given to the hook, else the extras; ``limit`` wins over both."""
    chosen = policy or RetryPolicy(
        limit=extra_number(extras, "retry_limit", RetryPolicy.limit, conn_id=conn_id, cast=int),
        backoff_max=extra_number(extras, "retry_backoff_max", RetryPolicy.backoff_max, conn_id=conn_id),
        retry_after_max=extra_number(extras, "retry_after_max", RetryPolicy.retry_after_max, conn_id=conn_id),
    )
    if limit is not None:
        chosen = replace(chosen, limit=limit)
    if chosen.limit < 0:
        raise ValueError(f"retry_limit must be 0 or more, got {chosen.limit}")
    return chosen


def read_verify(extras: Mapping[str, Any], *, conn_id: str) -> bool | str:
    """
    Return TLS verification: ``False``, ``True``, or the path of a CA bundle to verify with.

    The form has a ``verify`` toggle and a ``ca_bundle`` path; ``verify`` itself may also hold a path (the
    README's spelling before ``ca_bundle``), and ``verify_ssl`` is read as ``verify``. A bundle with
    verification turned off is a contradiction, so it is an error rather than a guess.
    """
    value = extras.get("verify", extras.get("verify_ssl"))
    bundle = extras.get("ca_bundle")
    if bundle not in (None, "") and not isinstance(bundle, str):
        raise ValueError(f"Connection {conn_id!r}: extra 'ca_bundle' must be a file path, got {bundle!r}")
    bundle = (bundle or "").strip()
    if isinstance(value, str) and value.strip().lower() not in _NOT_A_PATH:
        if bundle and bundle != value.strip():
            raise ValueError(
                f"Connection {conn_id!r}: extras 'verify' and 'ca_bundle' name two CA bundles; keep 'ca_bundle'"
            )
        return value
    try:
        verify = coerce_bool(value, default=True)
    except ValueError:
        raise ValueError(f"Connection {conn_id!r}: extra 'verify' must be true, false or a path") from None
    if not bundle:
        return verify
    if not verify:
        raise ValueError(
            f"Connection {conn_id!r}: extra 'ca_bundle' is set but 'verify' is off; turn 'verify' on to"
            " check certificates with the bundle, or clear 'ca_bundle'"
        )
    return bundle
