"""Fixtures of the HTTP core unit tests: the test connection, recorded sleeps, hooks on a fake transport."""

from __future__ import annotations

from typing import Any

import pytest
import structlog

from tests.fake_transport import FakeTransport
from tests.unit.hooks.core.core_support import CONN_ID, ExampleHook, set_connection


@pytest.fixture(autouse=True)
def _default_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    set_connection(monkeypatch)
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_hook(sleeps: list[float]):
    """Build a hook whose session answers from a FakeTransport and whose sleeps are recorded."""
    hooks: list[ExampleHook] = []

    def make(*answers: Any, handler: Any = None, **hook_kwargs: Any) -> tuple[ExampleHook, FakeTransport]:
        hook = ExampleHook(CONN_ID, **hook_kwargs)
        hook._sleep = sleeps.append
        fake = FakeTransport(*answers, handler=handler).mount(hook.session)
        hooks.append(hook)
        return hook, fake

    yield make
    for hook in hooks:
        hook.close()


@pytest.fixture
def logged():
    """Capture the hook's (structlog) log calls; ``logged()`` gives ``(level, formatted message)`` pairs."""
    formatter = structlog.stdlib.PositionalArgumentsFormatter()
    with structlog.testing.capture_logs(processors=[formatter]) as entries:
        yield lambda: [(entry["log_level"], entry["event"]) for entry in entries]
