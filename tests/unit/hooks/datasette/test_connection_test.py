from __future__ import annotations

import pytest

from airflow_provider_cloud.hooks.datasette import DatasetteHook


def test_a_failed_connection_test_never_shows_the_token(hook: DatasetteHook, monkeypatch: pytest.MonkeyPatch):
    """The Test button shows this message in the UI: a library error that echoes the token is scrubbed, as the
    CloudTables and Kloudless tests do."""

    def echoing_failure():
        # An error that echoes the header the hook sent (the hook read its connection to send it).
        raise ValueError(f"unexpected answer to Bearer {hook.connection.password}")

    monkeypatch.setattr(hook, "get_actor", echoing_failure)
    ok, message = hook.test_connection()
    assert ok is False
    assert "dstok_unit_token" not in message
    assert message == "unexpected answer to Bearer ***"
