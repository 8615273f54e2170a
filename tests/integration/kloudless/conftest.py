"""Fixtures shared by the Kloudless integration tests."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from airflow.sdk import ObjectStoragePath

from airflow_provider_cloud.rows.paths import as_storage_path


@pytest.fixture
def memory_dir() -> Iterator[ObjectStoragePath]:
    """A fresh folder of the in-memory file system, removed after the test."""
    base = as_storage_path(f"memory://kloudless-tests/{secrets.token_hex(6)}")
    yield base
    if base.fs.exists(base.path):
        base.fs.rm(base.path, recursive=True)
