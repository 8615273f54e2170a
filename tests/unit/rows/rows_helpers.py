"""Helpers for the row-format tests: list, put and get files by URL."""

from __future__ import annotations

from airflow_provider_cloud.rows import as_storage_path


def names_in(directory: str) -> list[str]:
    """Return the names of the files in a directory URL (hidden ones included)."""
    base = as_storage_path(directory)
    if not base.fs.exists(base.path):
        return []
    return sorted(entry.rstrip("/").rsplit("/", 1)[-1] for entry in base.fs.ls(base.path, detail=False))


def put(url: str, data: bytes | str) -> str:
    """Write bytes (or UTF-8 text) to a URL and return the URL."""
    path = as_storage_path(url)
    if path.protocol == "file":
        path.fs.makedirs(path.parent.path, exist_ok=True)
    with path.fs.open(path.path, "wb") as handle:
        handle.write(data.encode("utf-8") if isinstance(data, str) else data)
    return url


def get(url: str) -> bytes:
    """Return the bytes stored at a URL."""
    path = as_storage_path(url)
    with path.fs.open(path.path, "rb") as handle:
        return handle.read()
