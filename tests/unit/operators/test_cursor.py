"""CommitCursorOperator with a stand-in Variable store (the real one is exercised by the DAG test)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from airflow_provider_cloud.operators import cursor as cursor_module
from airflow_provider_cloud.operators.cursor import CommitCursorOperator, cursor_text, is_behind


class FakeVariables:
    """Replaces ``airflow.sdk.Variable`` in the operator's module: get with default, set, a write log."""

    def __init__(self, **values: str) -> None:
        self.values = dict(values)
        self.writes: list[tuple[str, str, str | None]] = []

    def get(self, key: str, default=None):
        return self.values.get(key, default)

    def set(self, key: str, value: str, description: str | None = None) -> None:
        self.values[key] = value
        self.writes.append((key, value, description))


@pytest.fixture
def variables(monkeypatch) -> FakeVariables:
    fake = FakeVariables()
    monkeypatch.setattr(cursor_module, "Variable", fake)
    return fake


def commit(**kwargs) -> dict:
    return CommitCursorOperator(task_id="commit_cursor", **kwargs).execute({})


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, None),
        ("", None),
        ("  ", None),
        ("None", None),
        (" 42 ", "42"),
        (42, "42"),
        (1.5, "1.5"),
        (Decimal("10.25"), "10.25"),
        (date(2026, 1, 2), "2026-01-02"),
        (datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "2026-01-02T03:04:05+00:00"),
        ("opaque-cursor==", "opaque-cursor=="),
    ],
)
def test_cursor_text(value, text):
    assert cursor_text(value) == text


@pytest.mark.parametrize("value", [True, {"cursor": 1}, [1], float("nan")])
def test_cursor_text_refuses_non_scalars(value):
    with pytest.raises(TypeError):
        cursor_text(value)


@pytest.mark.parametrize(
    ("new", "stored", "behind"),
    [
        ("9", "10", True),
        ("10", "9", False),
        ("10.5", "10.25", False),
        ("2026-01-01T00:00:00+00:00", "2026-01-02T00:00:00Z", True),
        ("2026-03-01", "2026-02-01", False),
        ("2026-01-01T00:00:00", "2026-01-02T00:00:00+00:00", None),  # naive against aware
        ("abc", "abd", None),
        ("10", "2026-01-01", None),
    ],
)
def test_is_behind(new, stored, behind):
    assert is_behind(new, stored) is behind


def test_commits_a_new_cursor(variables):
    variables.values["kl_cursor"] = "3"
    result = commit(variable="kl_cursor", cursor=7, description="events cursor")
    assert result == {"variable": "kl_cursor", "previous": "3", "cursor": "7", "stored": True}
    assert variables.writes == [("kl_cursor", "7", "events cursor")]


def test_first_commit_has_no_previous_value(variables):
    assert commit(variable="kl_cursor", cursor="12") == {
        "variable": "kl_cursor",
        "previous": None,
        "cursor": "12",
        "stored": True,
    }


@pytest.mark.parametrize("missing", [None, "", "None"])
def test_skips_a_missing_cursor(variables, missing):
    variables.values["kl_cursor"] = "3"
    result = commit(variable="kl_cursor", cursor=missing)
    assert result == {"variable": "kl_cursor", "previous": "3", "cursor": None, "stored": False}
    assert variables.writes == []


def test_same_cursor_is_not_written_again(variables):
    variables.values["kl_cursor"] = "7"
    assert commit(variable="kl_cursor", cursor=7)["stored"] is False
    assert variables.writes == []


def test_events_cursor_may_move_anywhere_without_only_if_advanced(variables):
    variables.values["kl_cursor"] = "10"
    assert commit(variable="kl_cursor", cursor=4)["stored"] is True
    assert variables.values["kl_cursor"] == "4"


def test_only_if_advanced_keeps_a_high_water_mark(variables):
    variables.values["hwm"] = "2026-05-01T00:00:00+00:00"
    behind = commit(variable="hwm", cursor="2026-04-01T00:00:00Z", only_if_advanced=True)
    assert behind["stored"] is False
    assert variables.values["hwm"] == "2026-05-01T00:00:00+00:00"

    ahead = commit(variable="hwm", cursor=datetime(2026, 6, 1, tzinfo=UTC), only_if_advanced=True)
    assert ahead == {
        "variable": "hwm",
        "previous": "2026-05-01T00:00:00+00:00",
        "cursor": "2026-06-01T00:00:00+00:00",
        "stored": True,
    }


def test_only_if_advanced_compares_numbers_numerically(variables):
    variables.values["hwm"] = "100"
    assert commit(variable="hwm", cursor="99", only_if_advanced=True)["stored"] is False
    assert commit(variable="hwm", cursor=1000, only_if_advanced=True)["stored"] is True
    assert variables.values["hwm"] == "1000"


def test_only_if_advanced_stores_values_it_cannot_compare(variables):
    variables.values["hwm"] = "opaque-a"
    assert commit(variable="hwm", cursor="opaque-0", only_if_advanced=True)["stored"] is True
    assert variables.values["hwm"] == "opaque-0"


def test_empty_variable_name_is_an_error(variables):
    with pytest.raises(ValueError, match="variable"):
        commit(variable=" ", cursor=1)
