"""
Asset URIs of the three services, registered with Airflow (``asset-uris`` in ``get_provider_info``).

- ``datasette://host[:port]/database/table``: a Datasette table;
- ``cloudtables://host[:port]/dataset``: a CloudTables data set (its id or name);
- ``kloudless://account/path``: a Kloudless account's file or folder, or a stream of it (``/events``);
  ``account`` is the connection id (as in the asset-watcher example) or a numeric account id.

Each scheme has a normalizer (Airflow calls it on every ``Asset(uri)`` once the providers manager has loaded
us), a factory (``create_*_asset``) and an OpenLineage converter. Decisions: the URI names the place, never how
to reach it, so it carries no scheme of the API (http or https), no user, no token; ports 80 and 443 are
dropped, other ports kept. Hosts are lower-cased; database, table and data set names, and Kloudless accounts
and paths, keep their case (the services tell them apart). OpenLineage names follow its naming spec's shape
for databases: namespace ``scheme://authority``, name ``database.table`` (Datasette), the data set
(CloudTables), the path (Kloudless).

The OpenLineage client is imported only in the converter, so the provider works without it installed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, quote, unquote, urlsplit

from airflow.sdk import Asset

if TYPE_CHECKING:
    from openlineage.client.event_v2 import Dataset

SCHEMES = ("datasette", "cloudtables", "kloudless")
_DEFAULT_PORTS = (80, 443)
_SAFE = "-_.~!$&'()*+,;=:@"  # what a path segment may hold unencoded (RFC 3986 pchar)


def _segments(parts: SplitResult) -> list[str]:
    return [unquote(s) for s in parts.path.strip("/").split("/")] if parts.path.strip("/") else []


def _authority(parts: SplitResult, scheme: str) -> str:
    """Return ``host[:port]`` lower-cased, without user info or a default port, or raise naming the URI."""
    if not parts.hostname:
        raise ValueError(f"{scheme}:// asset URI {parts.geturl()!r} has no host: {scheme}://host/...")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{scheme}:// asset URI {parts.geturl()!r} has a bad port") from None
    host = parts.hostname.lower()
    if ":" in host:  # an IPv6 address keeps its brackets
        host = f"[{host}]"
    return host if port is None or port in _DEFAULT_PORTS else f"{host}:{port}"


def _path(segments: list[str]) -> str:
    return "/" + "/".join(quote(s, safe=_SAFE) for s in segments)


def normalize_datasette(parts: SplitResult) -> SplitResult:
    """Normalize ``datasette://host[:port]/database/table``: two non-empty path segments."""
    segments = _segments(parts)
    if len(segments) != 2 or not all(segments):
        raise ValueError(
            f"datasette:// asset URI {parts.geturl()!r} must name a database and a table: "
            "datasette://host[:port]/database/table"
        )
    return parts._replace(netloc=_authority(parts, "datasette"), path=_path(segments))


def normalize_cloudtables(parts: SplitResult) -> SplitResult:
    """Normalize ``cloudtables://host[:port]/dataset``: one non-empty path segment."""
    segments = _segments(parts)
    if len(segments) != 1 or not segments[0]:
        raise ValueError(
            f"cloudtables:// asset URI {parts.geturl()!r} must name one data set: cloudtables://host/dataset"
        )
    return parts._replace(netloc=_authority(parts, "cloudtables"), path=_path(segments))


def normalize_kloudless(parts: SplitResult) -> SplitResult:
    """Normalize ``kloudless://account/path``: an account (no port, no user) and a non-empty path."""
    account = parts.netloc.rpartition("@")[2]
    if not account or ":" in account:
        raise ValueError(
            f"kloudless:// asset URI {parts.geturl()!r} must name an account (a connection id or a numeric "
            "account id, no port): kloudless://account/path"
        )
    segments = [s for s in _segments(parts) if s]
    if not segments:
        raise ValueError(f"kloudless:// asset URI {parts.geturl()!r} has no path: kloudless://account/path")
    return parts._replace(netloc=account, path=_path(segments))


def public_base(base_url: str) -> str:
    """Return ``scheme://host[:port][/path]`` of a base URL, without user info, query or fragment."""
    parts = urlsplit(base_url)
    netloc = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"


def datasette_uri(base_url: str, database: str, table: str) -> str:
    """Return the normalized asset URI of a Datasette table, from the server's base URL."""
    return _normalized(f"datasette://{urlsplit(base_url).netloc}{_path([database, table])}")


def cloudtables_uri(base_url: str, dataset: str) -> str:
    """Return the normalized asset URI of a CloudTables data set, from the application's base URL."""
    return _normalized(f"cloudtables://{urlsplit(base_url).netloc}{_path([dataset])}")


def kloudless_uri(account: str, path: str) -> str:
    """Return the normalized asset URI of a Kloudless path of an account."""
    return _normalized(f"kloudless://{account}{_path([s for s in path.split('/') if s])}")


_NORMALIZERS = {
    "datasette": normalize_datasette,
    "cloudtables": normalize_cloudtables,
    "kloudless": normalize_kloudless,
}


def _normalized(uri: str) -> str:
    parts = urlsplit(uri)
    return _NORMALIZERS[parts.scheme](parts).geturl()


def create_datasette_asset(
    *, host: str, database: str, table: str, port: int | None = None, extra: dict[str, Any] | None = None
) -> Asset:
    """Return the asset of a Datasette table (``host`` without a scheme, e.g. ``myspace.datasette.cloud``)."""
    netloc = host if port is None else f"{host}:{port}"
    return Asset(uri=f"datasette://{netloc}{_path([database, table])}", extra=extra)


def create_cloudtables_asset(
    *, host: str, dataset: str, port: int | None = None, extra: dict[str, Any] | None = None
) -> Asset:
    """Return the asset of a CloudTables data set (``host`` without a scheme, e.g. ``acme.cloudtables.io``)."""
    netloc = host if port is None else f"{host}:{port}"
    return Asset(uri=f"cloudtables://{netloc}{_path([dataset])}", extra=extra)


def create_kloudless_asset(*, account: str, path: str, extra: dict[str, Any] | None = None) -> Asset:
    """Return the asset of a Kloudless path (``account``: the connection id or a numeric account id)."""
    return Asset(uri=f"kloudless://{account}{_path([s for s in path.split('/') if s])}", extra=extra)


def openlineage_name(uri: str) -> tuple[str, str]:
    """Return the OpenLineage ``(namespace, name)`` of one of our asset URIs (normalized first)."""
    parts = urlsplit(_normalized(uri))
    segments = _segments(parts)
    namespace = f"{parts.scheme}://{parts.netloc}"
    if parts.scheme == "datasette":
        return namespace, ".".join(segments)
    if parts.scheme == "cloudtables":
        return namespace, segments[0]
    return namespace, "/" + "/".join(segments)


def convert_asset_to_openlineage(asset: Asset, lineage_context: Any = None) -> Dataset:
    """Return the OpenLineage dataset of a ``datasette://``, ``cloudtables://`` or ``kloudless://`` asset."""
    from openlineage.client.event_v2 import Dataset

    namespace, name = openlineage_name(asset.uri)
    return Dataset(namespace=namespace, name=name)
