"""Fixtures of the DatasetteHook integration tests: hooks on the session server, one with a restricted token."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_cloud.hooks.datasette import DatasetteHook
from airflow_provider_cloud.testing.datasette import DatasetteServer
from tests.integration.datasette.support import new_hook


@pytest.fixture
def make_hook(monkeypatch: pytest.MonkeyPatch) -> Any:
    def make(
        server: DatasetteServer, *, token: str | None = None, extra: dict[str, Any] | None = None
    ) -> DatasetteHook:
        return new_hook(server, monkeypatch, token=token, extra=extra)

    return make


@pytest.fixture
def hook(make_hook: Any, datasette_server: DatasetteServer) -> DatasetteHook:
    return make_hook(datasette_server)


@pytest.fixture(scope="module")
def module_hook(datasette_server: DatasetteServer) -> Iterator[DatasetteHook]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield new_hook(datasette_server, monkeypatch)


@pytest.fixture(scope="module")
def restricted_hook(datasette_server: DatasetteServer) -> Iterator[DatasetteHook]:
    """A hook whose token may read and change rows, but not run SQL."""
    actions = ("view-table", "insert-row", "delete-row", "update-row")
    token = datasette_server.create_token(restrictions=[(action,) for action in actions])
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield new_hook(datasette_server, monkeypatch, token=token)
