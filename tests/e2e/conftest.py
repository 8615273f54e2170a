"""Fixtures shared by the end-to-end modules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.example_runs import Services, started_services


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """Datasette and both emulators on 127.0.0.1 with the example DAGs' sample data; one set per module."""
    with started_services(tmp_path_factory.mktemp("e2e-files")) as started:
        yield started
