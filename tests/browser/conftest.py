"""
One Airflow API server, one headless Chromium and the three local services, shared by a browser test module.

Chromium is Debian's (``/usr/bin/chromium``, installed by ``make system-packages``), driven by Playwright's
sync API; it gets a fresh, empty profile folder, removed afterwards. The tests are skipped, with the reason,
only where that Chromium is not installed (``make system-packages`` could not install it); a Chromium that is
there but does not start fails them, as anything else does.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, sync_playwright

from tests.e2e.airflow_stack import AirflowStack
from tests.e2e.example_runs import Services, started_services

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """Datasette (a real server from the testing kit) and both emulators on 127.0.0.1: the end-to-end tests' set."""
    with started_services(tmp_path_factory.mktemp("browser-files")) as started:
        yield started


@pytest.fixture(scope="module")
def airflow_ui() -> Iterator[AirflowStack]:
    """The API server alone (it serves the UI), all users admins, the Test button enabled."""
    with AirflowStack(components=["api-server"], env={"AIRFLOW__CORE__TEST_CONNECTION": "Enabled"}) as stack:
        yield stack


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserContext]:
    """Headless Chromium with a new, empty profile; closed and its folder removed at the end."""
    if not CHROMIUM.exists():
        pytest.skip(f"Debian's Chromium is not installed ({CHROMIUM}); `make system-packages` installs it")
    profile = Path(tempfile.mkdtemp(prefix="apc-chromium-profile-"))
    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile, executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def module_clock(request: pytest.FixtureRequest) -> Iterator[None]:
    """Report the module's wall time (servers, browser and tests) at its end."""
    started = time.monotonic()
    yield
    print(f"\n{request.module.__name__}: {time.monotonic() - started:.1f} s wall time")
