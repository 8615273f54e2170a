"""Fixtures for the row-format tests: a fresh directory on the local disk and in memory://."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from airflow_provider_cloud.rows import as_storage_path


@pytest.fixture
def memory_dir() -> Iterator[str]:
    """Return a fresh memory:// directory URL, removed afterwards."""
    url = f"memory://apc-rows-tests/{uuid.uuid4().hex}"
    base = as_storage_path(url)
    yield url
    if base.fs.exists(base.path):
        base.fs.rm(base.path, recursive=True)


@pytest.fixture
def file_dir(tmp_path) -> str:
    """Return a fresh local directory as a file:// URL."""
    return tmp_path.as_uri()


@pytest.fixture(params=["file", "memory"])
def any_dir(request, tmp_path, memory_dir) -> str:
    """Return a fresh directory URL on each store: file:// and memory://."""
    return tmp_path.as_uri() if request.param == "file" else memory_dir
