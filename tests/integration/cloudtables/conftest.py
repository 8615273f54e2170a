"""Fixtures of the CloudTables emulator tests: a fresh emulator per test, its seeded world."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import CloudTablesApi  # type: ignore[import-untyped]
import pytest

from airflow_provider_cloud.testing.cloudtables import CloudTablesEmulator
from tests.integration.cloudtables.emulator_support import World, build_world


@pytest.fixture
def ct() -> Iterator[CloudTablesEmulator]:
    with CloudTablesEmulator() as emulator:
        yield emulator


@pytest.fixture
def world(ct: CloudTablesEmulator) -> World:
    return build_world(ct)


@pytest.fixture
def pristine_python_client() -> Iterator[None]:
    """Protect CloudTablesApi's shared module-level default_options (its mutation gotcha)."""
    saved = copy.deepcopy(CloudTablesApi.default_options)
    yield
    CloudTablesApi.default_options.clear()
    CloudTablesApi.default_options.update(saved)
